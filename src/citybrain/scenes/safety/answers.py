"""The answers of the safety API as response models (its OpenAPI schema; the panel is checked
against them). Scores are on the spec's scale (0-100); a change is now minus then (a rank change:
then minus now, + moved up); ``None`` where there is nothing to compare with."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BandInfo(BaseModel):
    min: float
    label: str
    label_en: str
    colour: str


class DimensionInfo(BaseModel):
    id: str
    name: str
    name_en: str
    weight: float  # within the index, as weighted this month (AHP)
    mean: float | None = None  # the districts' mean dimension score


class DistrictRow(BaseModel):
    code: str
    name: str
    score: float
    band: str  # the band's label (优秀 ...)
    band_en: str
    colour: str  # green | blue | orange | red
    rank: int  # 1: the safest
    mom: float | None = None  # score change on the month before
    yoy: float | None = None  # score change on the same month a year before
    rank_change: int | None = None  # on the month before: + moved up
    rank_low: int | None = None  # the 5th-95th percentile rank band of the robustness analysis
    rank_high: int | None = None
    imputed: list[str] = Field(default_factory=list)  # indicators whose value was imputed
    dimensions: dict[str, float] = Field(default_factory=dict)  # dimension id -> score
    row: int = 0  # the district's tile in the schematic map (no boundaries are shipped)
    col: int = 0


class IndexAnswer(BaseModel):
    month: str
    name: str
    computed_ms: int | None = None
    final: bool = False  # computed after the month closed
    error: str = ""  # why the month could not be computed
    excluded: list[str] = Field(default_factory=list)  # indicators with no data in any district
    mean: float | None = None  # the districts' mean score
    mean_mom: float | None = None
    bands: list[BandInfo] = Field(default_factory=list)
    dimensions: list[DimensionInfo] = Field(default_factory=list)
    districts: list[DistrictRow] = Field(default_factory=list)  # by rank


class TrendPoint(BaseModel):
    month: str
    score: float | None = None
    rank: int | None = None
    band: str = ""


class DistrictTrend(BaseModel):
    code: str
    name: str
    points: list[TrendPoint]


class HistoryAnswer(BaseModel):
    months: list[str]
    mean: list[float | None]  # the districts' mean score per month
    districts: list[DistrictTrend]


class DimensionScore(BaseModel):
    id: str
    name: str
    name_en: str
    score: float
    band: str
    weight: float
    contribution: float  # points of the score it gives (scale x weight x normalised score)
    mom: float | None = None
    yoy: float | None = None


class IndicatorRow(BaseModel):
    id: str
    name: str
    name_en: str
    dimension: str
    unit: str
    direction: str  # down: fewer is safer
    value: float | None = None  # this month's value (imputed ones flagged)
    normalised: float | None = None  # 0.6-1 (功效函数 / 100)
    imputed: bool = False
    excluded: bool = False  # no district had a value this month: left out
    weight: float = 0.0  # within its dimension
    contribution: float = 0.0


class DistrictAnswer(BaseModel):
    month: str
    code: str
    name: str
    score: float
    band: str
    colour: str
    rank: int
    units: int  # districts ranked
    mom: float | None = None
    yoy: float | None = None
    rank_change: int | None = None
    rank_low: int | None = None
    rank_high: int | None = None
    median_rank: float | None = None
    dimensions: list[DimensionScore]
    indicators: list[IndicatorRow]
    trend: list[TrendPoint]


class RankInterval(BaseModel):
    code: str
    name: str
    rank: int
    median_rank: float
    mean_rank: float
    rank_low: int
    rank_high: int


class InfluenceRow(BaseModel):
    kind: str  # drop (an indicator left out) | normalisation | aggregation | weights
    name: str
    title: str  # the indicator's or the method's name in Chinese
    mean_shift: float  # mean absolute rank shift
    max_shift: int


class RobustnessAnswer(BaseModel):
    month: str
    runs: int
    seed: int
    perturbation: float
    normalisations: list[str]
    aggregations: list[str]
    districts: list[RankInterval]  # by rank
    influence: list[InfluenceRow]  # most influential first
