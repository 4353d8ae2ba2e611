"""A month's stored state turned into the API's answers (the panel, the console and the report read
the same). Districts the caller may not read are left out of every list (``sdk.Areas``)."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.safety.answers import (
    BandInfo,
    DimensionInfo,
    DimensionScore,
    DistrictAnswer,
    DistrictRow,
    DistrictTrend,
    HistoryAnswer,
    IndexAnswer,
    IndicatorRow,
    InfluenceRow,
    RankInterval,
    RobustnessAnswer,
    TrendPoint,
)
from citybrain.scenes.safety.index import Safety, State, result_of, robustness_of, shift
from citybrain.sdk import composite

# The schematic tile map (a grid cartogram: one tile per district, placed roughly as the districts
# lie around the Gan river). No district boundary is shipped with the repository, so the big screen
# draws tiles, not shapes. A unit not listed here goes on a row below.
TILES: dict[str, tuple[int, int]] = {
    "360112": (0, 1),  # 新建区 (north-west)
    "360123": (1, 0),  # 安义县 (west)
    "360113": (1, 1),  # 红谷滩区 (west bank)
    "360102": (1, 2),  # 东湖区 (east bank, centre)
    "360111": (1, 3),  # 青山湖区 (east)
    "360103": (2, 2),  # 西湖区 (south of 东湖)
    "360124": (2, 4),  # 进贤县 (south-east)
    "360104": (3, 2),  # 青云谱区 (south)
    "360121": (3, 3),  # 南昌县 (south)
}
NORMALISATIONS = {
    "minmax": "最小-最大",
    "rank": "排序",
    "efficacy": "功效函数",
    "zscore": "标准分数",
    "target": "距目标",
}
AGGREGATIONS = {"arithmetic": "算术平均", "geometric": "几何平均"}


def tile(units: list[str], code: str) -> tuple[int, int]:
    if code in TILES:
        return TILES[code]
    spare = [u for u in units if u not in TILES]
    return (4, spare.index(code) if code in spare else 0)


def _band(b: composite.Band | None) -> tuple[str, str, str]:
    return (b.label, b.label_en or b.label, b.colour) if b is not None else ("", "", "")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def index_answer(w: Safety, state: State | None, month: str, areas: sdk.Areas) -> IndexAnswer:
    spec = w.spec
    bands = [
        BandInfo(min=b.min, label=b.label, label_en=b.label_en or b.label, colour=b.colour)
        for b in spec.bands
    ]
    answer = IndexAnswer(month=month, name=spec.name, bands=bands)
    if state is None:
        answer.error = "not computed yet"
        return answer
    answer.computed_ms, answer.final = state["computed_ms"], state["final"]
    answer.error, answer.excluded = state["error"], list(state["excluded"])
    result, rob = result_of(state), robustness_of(state)
    if result is None:
        return answer
    shown = {u: s for u, s in result.units.items() if areas.admit(u)}
    answer.dimensions = [
        DimensionInfo(
            id=d.id,
            name=d.name,
            name_en=d.name_en or d.name,
            weight=result.dimension_weights.get(d.id, 0.0),
            mean=_mean([s.dimensions[d.id].score for s in shown.values() if d.id in s.dimensions]),
        )
        for d in spec.dimensions
    ]
    for u, s in sorted(shown.items(), key=lambda kv: (kv[1].rank, kv[0])):
        label, label_en, colour = _band(s.band)
        prev, ago = s.changes.get("previous"), s.changes.get("year_ago")
        ur = rob.units.get(u) if rob is not None else None
        row, col = tile(w.units, u)
        answer.districts.append(
            DistrictRow(
                code=u,
                name=w.names.get(u, u),
                score=s.score,
                band=label,
                band_en=label_en,
                colour=colour,
                rank=s.rank,
                mom=prev.score if prev else None,
                yoy=ago.score if ago else None,
                rank_change=prev.rank if prev else None,
                rank_low=ur.rank_low if ur else None,
                rank_high=ur.rank_high if ur else None,
                imputed=[i for i, v in s.indicators.items() if v.imputed],
                dimensions={k: v.score for k, v in s.dimensions.items()},
                row=row,
                col=col,
            )
        )
    answer.mean = _mean([d.score for d in answer.districts])
    moms = [d.mom for d in answer.districts]
    answer.mean_mom = None if not moms or None in moms else _mean([m for m in moms if m is not None])
    return answer


def history_answer(
    w: Safety, months: dict[str, State], last: str, count: int, areas: sdk.Areas
) -> HistoryAnswer:
    wanted = [shift(last, -k) for k in range(count - 1, -1, -1)]
    results = {m: result_of(months.get(m)) for m in wanted}
    units = [u for u in w.units if areas.admit(u)]
    trends = []
    for u in units:
        points = []
        for m in wanted:
            r = results[m]
            s = r.units.get(u) if r is not None else None
            points.append(
                TrendPoint(
                    month=m,
                    score=s.score if s else None,
                    rank=s.rank if s else None,
                    band=_band(s.band)[0] if s else "",
                )
            )
        trends.append(DistrictTrend(code=u, name=w.names.get(u, u), points=points))
    mean = []
    for m in wanted:
        r = results[m]
        mean.append(_mean([r.units[u].score for u in units if u in r.units]) if r is not None else None)
    return HistoryAnswer(months=wanted, mean=mean, districts=trends)


def district_answer(
    w: Safety, state: State | None, month: str, code: str, trend: list[TrendPoint]
) -> DistrictAnswer | None:
    result, rob = result_of(state), robustness_of(state)
    if result is None or code not in result.units or state is None:
        return None
    s = result.units[code]
    label, _, colour = _band(s.band)
    prev, ago = s.changes.get("previous"), s.changes.get("year_ago")
    ur = rob.units.get(code) if rob is not None else None
    dims = [
        DimensionScore(
            id=d.id,
            name=d.name,
            name_en=d.name_en or d.name,
            score=ds.score,
            band=_band(ds.band)[0],
            weight=ds.weight,
            contribution=ds.contribution,
            mom=prev.dimensions.get(d.id) if prev else None,
            yoy=ago.dimensions.get(d.id) if ago else None,
        )
        for d in w.spec.dimensions
        if (ds := s.dimensions.get(d.id)) is not None
    ]
    inds = []
    for d, i in composite.indicators(w.spec):
        v = s.indicators.get(i.id)
        inds.append(
            IndicatorRow(
                id=i.id,
                name=i.name,
                name_en=i.name_en or i.name,
                dimension=d.id,
                unit=i.unit,
                direction=i.direction,
                value=v.value if v else None,
                normalised=v.normalised if v else None,
                imputed=bool(v and v.imputed),
                excluded=i.id in state["excluded"],
                weight=v.weight if v else 0.0,
                contribution=v.contribution if v else 0.0,
            )
        )
    return DistrictAnswer(
        month=month,
        code=code,
        name=w.names.get(code, code),
        score=s.score,
        band=label,
        colour=colour,
        rank=s.rank,
        units=len(result.units),
        mom=prev.score if prev else None,
        yoy=ago.score if ago else None,
        rank_change=prev.rank if prev else None,
        rank_low=ur.rank_low if ur else None,
        rank_high=ur.rank_high if ur else None,
        median_rank=ur.median_rank if ur else None,
        dimensions=dims,
        indicators=inds,
        trend=trend,
    )


def influence_title(w: Safety, kind: str, name: str) -> str:
    """What a robustness choice means, in Chinese (去掉<indicator>, 标准化改用<method> ...)."""
    if kind == "drop":
        return next((f"去掉{i.name}" for _, i in composite.indicators(w.spec) if i.id == name), name)
    if kind == "normalisation":
        return f"标准化改用{NORMALISATIONS.get(name, name)}"
    if kind == "aggregation":
        return f"合成改用{AGGREGATIONS.get(name, name)}"
    return f"权重扰动{name}" if kind == "weights" else name


def robustness_answer(
    w: Safety, state: State | None, month: str, areas: sdk.Areas
) -> RobustnessAnswer | None:
    rob = robustness_of(state)
    if rob is None:
        return None
    rows = [
        RankInterval(
            code=u,
            name=w.names.get(u, u),
            rank=r.rank,
            median_rank=r.median_rank,
            mean_rank=r.mean_rank,
            rank_low=r.rank_low,
            rank_high=r.rank_high,
        )
        for u, r in sorted(rob.units.items(), key=lambda kv: (kv[1].rank, kv[0]))
        if areas.admit(u)
    ]
    influence = [
        InfluenceRow(
            kind=f.kind,
            name=f.name,
            title=influence_title(w, f.kind, f.name),
            mean_shift=f.mean_shift,
            max_shift=f.max_shift,
        )
        for f in rob.influence
    ]
    return RobustnessAnswer(
        month=month,
        runs=rob.runs,
        seed=rob.seed,
        perturbation=rob.perturbation,
        normalisations=rob.normalisations,
        aggregations=rob.aggregations,
        districts=rows,
        influence=influence,
    )
