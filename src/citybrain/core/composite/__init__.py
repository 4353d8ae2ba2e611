"""Composite indices (issue 17): an indicator tree and its methodology declared as data
(``model``), normalisation (``normalise``), weights: equal, expert, entropy, AHP with the consistency
ratio enforced (``weights``), arithmetic and geometric aggregation (``aggregate``), imputation with
flags (``impute``), the engine scoring units with bands, ranks, contributions and changes
(``engine``), and Monte Carlo uncertainty and sensitivity of the ranks (``robustness``).

Pure computation with numpy: no store, no scene, no HTTP; ``sources`` (not imported here) reads
the indicators' declared sources from a store into ``compute``'s data.
The method follows the OECD/JRC Handbook on
Constructing Composite Indicators (Nardo et al., 2008) and Saaty's AHP, as summarised with sources in
shared/research/anchors-governance.md section 2. ``citybrain/data/composite/hdi.toml`` expresses
UNDP's Human Development Index as a spec.
"""

from citybrain.core.composite.engine import (
    Change,
    DimensionScore,
    IndexResult,
    IndicatorScore,
    UnitScore,
    compute,
)
from citybrain.core.composite.model import (
    Band,
    DataError,
    Denominator,
    Dimension,
    Goalposts,
    IndexSpec,
    Indicator,
    Normalisation,
    SpecError,
    Weighting,
    load_spec,
    parse_spec,
)
from citybrain.core.composite.robustness import Influence, Robustness, UnitRobustness, robustness
from citybrain.core.composite.weights import RI, Ahp, InconsistentMatrixError, ahp, entropy

__all__ = [
    "RI",
    "Ahp",
    "Band",
    "Change",
    "DataError",
    "Denominator",
    "Dimension",
    "DimensionScore",
    "Goalposts",
    "InconsistentMatrixError",
    "IndexResult",
    "IndexSpec",
    "Indicator",
    "IndicatorScore",
    "Influence",
    "Normalisation",
    "Robustness",
    "SpecError",
    "UnitRobustness",
    "UnitScore",
    "Weighting",
    "ahp",
    "compute",
    "entropy",
    "load_spec",
    "parse_spec",
    "robustness",
]
