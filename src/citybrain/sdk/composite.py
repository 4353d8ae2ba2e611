"""Composite indices and typed report sections for scenes (``from citybrain.sdk import composite``):
the index engine (``core/composite``: a spec as data, ``compute``, ``robustness``), the reader of
each indicator's declared source from the store (``gather``), and the typed report model a scene's
``report`` may return as ``msgspec.to_builtins(section)`` (``core/reports/model``). The core modules
stay behind this one."""

from citybrain.core.composite import (
    Band,
    Change,
    DataError,
    Denominator,
    DimensionScore,
    IndexResult,
    IndexSpec,
    Indicator,
    IndicatorScore,
    Influence,
    Robustness,
    SpecError,
    UnitRobustness,
    UnitScore,
    compute,
    load_spec,
    parse_spec,
    robustness,
)
from citybrain.core.composite.model import indicators
from citybrain.core.composite.sources import gather, gather_denominators
from citybrain.core.reports.model import Chart, Column, Figure, Lang, Section, Series, Table, Text, Words

__all__ = [
    "Band",
    "Change",
    "Chart",
    "Column",
    "DataError",
    "Denominator",
    "DimensionScore",
    "Figure",
    "IndexResult",
    "IndexSpec",
    "Indicator",
    "IndicatorScore",
    "Influence",
    "Lang",
    "Robustness",
    "Section",
    "Series",
    "SpecError",
    "Table",
    "Text",
    "UnitRobustness",
    "UnitScore",
    "Words",
    "compute",
    "gather",
    "gather_denominators",
    "indicators",
    "load_spec",
    "parse_spec",
    "robustness",
]
