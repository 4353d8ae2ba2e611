"""Map matching: a common interface, our HMM and a fastmm (C++ FMM) adapter."""

from citybrain.geo.matching.base import MatchedSegment, Matcher, MatchResult, PointMatch, as_trace
from citybrain.geo.matching.hmm import HMMMatcher
from citybrain.geo.matching.model import HMMConfig

__all__ = [
    "HMMConfig",
    "HMMMatcher",
    "MatchResult",
    "MatchedSegment",
    "Matcher",
    "PointMatch",
    "as_trace",
]
