"""The 平安报告's index section: the month's index, its dimensions, the districts' ranking and
bands, changes on the month before and the year before, and the robustness of the ranks, with a
narrative written from those numbers only. A month never computed is computed here for the report
(not stored: the report only reads); one that could not be computed says why."""

from __future__ import annotations

from typing import Any

import msgspec

from citybrain import sdk
from citybrain.scenes.safety.answers import IndexAnswer, RobustnessAnswer
from citybrain.scenes.safety.index import TREND_MONTHS, Safety, State, month_of
from citybrain.scenes.safety.processors import state_of
from citybrain.scenes.safety.settings import SafetySettings
from citybrain.scenes.safety.views import history_answer, index_answer, robustness_answer
from citybrain.sdk.composite import (
    Chart,
    Column,
    Figure,
    Lang,
    Section,
    Series,
    Table,
    Text,
    Words,
    indicators,
)

TITLE = Words("平安指数", "Public Safety Index")
EVERYONE = sdk.Areas(None)


def _signed(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:+.{digits}f}"


def narrative(
    idx: IndexAnswer, rob: RobustnessAnswer | None, names: dict[str, Words] | None = None
) -> list[Text]:
    """Sentences from the numbers: the level, the best and the worst, who moved, the weakest
    dimension, the bands that call for attention, and how firm the ranks are (``names``: an
    indicator's id -> its name in words)."""
    named = names or {}

    def said(ids: list[str], lang: Lang) -> str:
        return ("、" if lang == "zh" else ", ").join(named.get(i, Words(i))(lang) for i in ids)

    d = idx.districts
    assert d and idx.mean is not None
    best, worst = d[0], d[-1]
    zh = f"{idx.month} 全市{len(d)}个区县平安指数平均 {idx.mean:.1f}"
    en = f"In {idx.month} the {len(d)} districts' mean index was {idx.mean:.1f}"
    if idx.mean_mom is not None:
        zh += f"，较上月{'上升' if idx.mean_mom >= 0 else '下降'} {abs(idx.mean_mom):.1f}"
        en += f", {'up' if idx.mean_mom >= 0 else 'down'} {abs(idx.mean_mom):.1f} on the month before"
    zh += f"。最高为{best.name}（{best.score:.1f}，{best.band}），"
    zh += f"最低为{worst.name}（{worst.score:.1f}，{worst.band}）。"
    en += f". Highest: {best.name} ({best.score:.1f}, {best.band_en}); "
    en += f"lowest: {worst.name} ({worst.score:.1f}, {worst.band_en})."
    moved = [x for x in d if x.rank_change]
    if moved:
        up = max(moved, key=lambda x: x.rank_change or 0)
        down = min(moved, key=lambda x: x.rank_change or 0)
        if (up.rank_change or 0) > 0:
            zh += f"排名上升最多的是{up.name}（升 {up.rank_change} 位）"
            en += f" {up.name} rose most ({up.rank_change} places)"
        if (down.rank_change or 0) < 0:
            fell = -(down.rank_change or 0)
            zh += f"{'，' if (up.rank_change or 0) > 0 else ''}下降最多的是{down.name}（降 {fell} 位）"
            en += f"{';' if (up.rank_change or 0) > 0 else ''} {down.name} fell most ({fell} places)"
        zh += "。"
        en += "."
    if idx.dimensions and all(x.mean is not None for x in idx.dimensions):
        weak = min(idx.dimensions, key=lambda x: x.mean or 0.0)
        zh += f"六个维度中全市均分最低的是{weak.name}（{weak.mean:.1f}）。"
        en += f" The weakest dimension city-wide is {weak.name_en} ({weak.mean:.1f})."
    alarm = [x for x in d if x.colour in ("orange", "red")]
    if alarm:
        zh += (
            "处于提醒或预警等级的区县："
            + "、".join(f"{x.name}（{x.band}）" for x in alarm)
            + "，需重点关注。"
        )
        en += " In the caution or warning band: " + ", ".join(f"{x.name} ({x.band_en})" for x in alarm) + "."
    else:
        zh += "没有区县处于提醒或预警等级。"
        en += " No district is in the caution or warning band."
    texts = [Text(Words(zh, en))]
    if rob is not None and rob.districts:
        wide = max(rob.districts, key=lambda x: (x.rank_high - x.rank_low, -x.rank))
        top = rob.influence[0] if rob.influence else None
        zh = (
            f"稳健性：在 {rob.runs} 次蒙特卡洛模拟（权重扰动 ±{rob.perturbation:.0%}，"
            f"随机种子 {rob.seed}）中，"
            f"排名区间最宽的是{wide.name}（第 {wide.rank_low}–{wide.rank_high} 名）"
        )
        en = (
            f"Robustness: over {rob.runs} Monte Carlo runs (weights ±{rob.perturbation:.0%}, "
            f"seed {rob.seed}) "
            f"the widest rank interval is {wide.name}'s ({wide.rank_low}-{wide.rank_high})"
        )
        if top is not None:
            zh += f"；对排名影响最大的是{top.title}（平均位移 {top.mean_shift:.2f} 位，"
            zh += f"最多 {top.max_shift} 位）"
            en += f"; the choice moving ranks most is {top.kind} {top.name} "
            en += f"(mean shift {top.mean_shift:.2f}, at most {top.max_shift})"
        texts.append(Text(Words(zh + "。", en + ".")))
    if idx.excluded:
        texts.append(
            Text(
                Words(
                    f"本月无数据、未计入的指标：{said(idx.excluded, 'zh')}"
                    "（其所在维度其余指标权重按比例放大）。",
                    f"Left out this month for want of any data: {said(idx.excluded, 'en')} (the other "
                    "weights of their dimensions scaled up).",
                )
            )
        )
    imputed = sorted({i for x in d for i in x.imputed})
    if imputed:
        texts.append(
            Text(
                Words(
                    f"部分区县缺数、以其他区县均值补齐的指标：{said(imputed, 'zh')}。",
                    f"Imputed with the other districts' mean for some districts: {said(imputed, 'en')}.",
                )
            )
        )
    return texts


def _ranking(idx: IndexAnswer) -> Table:
    cols = [
        ("rank", "排名", "Rank"),
        ("name", "区县", "District"),
        ("score", "平安指数", "Index"),
        ("band", "等级", "Band"),
        ("mom", "环比", "MoM"),
        ("yoy", "同比", "YoY"),
        ("rank_change", "名次变化", "Rank change"),
        ("interval", "排名区间(5%-95%)", "Rank interval"),
    ]
    rows: list[list[Any]] = [
        [
            x.rank,
            Words(x.name),
            round(x.score, 2),
            Words(x.band, x.band_en),
            None if x.mom is None else round(x.mom, 2),
            None if x.yoy is None else round(x.yoy, 2),
            x.rank_change,
            f"{x.rank_low}-{x.rank_high}" if x.rank_low is not None else None,
        ]
        for x in idx.districts
    ]
    return Table(
        Words("区县排名与等级", "District ranking and bands"),
        [Column(k, Words(z, e)) for k, z, e in cols],
        rows,
    )


def _dimensions(idx: IndexAnswer) -> Table:
    cols = [Column("name", Words("区县", "District"))] + [
        Column(d.id, Words(d.name, d.name_en)) for d in idx.dimensions
    ]
    rows: list[list[Any]] = [
        [Words(x.name)] + [round(x.dimensions.get(d.id, 0.0), 1) for d in idx.dimensions]
        for x in idx.districts
    ]
    weights = ", ".join(f"{d.name} {d.weight:.3f}" for d in idx.dimensions)
    return Table(
        Words("分维度得分", "Scores by dimension"),
        cols,
        rows,
        note=Words(f"维度权重（层次分析法）：{weights}", f"Dimension weights (AHP): {weights}"),
    )


def section(w: Safety, state: State | None, month: str, months: dict[str, State]) -> Section:
    idx = index_answer(w, state, month, EVERYONE)
    if not idx.districts:
        why = idx.error or "not computed"
        return Section(
            "safety",
            TITLE,
            [
                Text(
                    Words(
                        f"{month} 的平安指数无法计算：{why}",
                        f"The index of {month} could not be computed: {why}",
                    )
                )
            ],
        )
    rob = robustness_answer(w, state, month, EVERYONE)
    blocks: list[Any] = [
        Figure(
            Words("全市平均平安指数", "Mean index"),
            round(idx.mean or 0.0, 2),
            Words("分", "pts"),
            change=None if idx.mean_mom is None else round(idx.mean_mom, 2),
        ),
    ]
    for b in idx.bands:
        n = sum(1 for x in idx.districts if x.band == b.label)
        blocks.append(Figure(Words(f"{b.label}等级区县", f"Districts {b.label_en}"), n, Words("个", "")))
    names = {i.id: Words(i.name, i.name_en or i.name) for _, i in indicators(w.spec)}
    blocks += narrative(idx, rob, names)
    blocks.append(_ranking(idx))
    blocks.append(
        Chart(
            "bar",
            Words("各区县平安指数", "Index by district"),
            [Words(x.name) for x in idx.districts],
            [Series(Words("平安指数", "Index"), [round(x.score, 2) for x in idx.districts])],
        )
    )
    blocks.append(_dimensions(idx))
    hist = history_answer(w, months, month, TREND_MONTHS, EVERYONE)
    if sum(v is not None for v in hist.mean) >= 2:
        blocks.append(
            Chart(
                "line",
                Words("全市平均平安指数走势", "Mean index by month"),
                [Words(m) for m in hist.months],
                [Series(Words("全市平均", "Mean"), [None if v is None else round(v, 2) for v in hist.mean])],
            )
        )
    if rob is not None:
        rows: list[list[Any]] = [
            [Words(f.title, f"{f.kind} {f.name}"), round(f.mean_shift, 3), f.max_shift]
            for f in rob.influence[:6]
        ]
        blocks.append(
            Table(
                Words("影响排名最大的选择", "What moves the ranks most"),
                [
                    Column("name", Words("改变", "Change")),
                    Column("mean_shift", Words("平均位移", "Mean shift")),
                    Column("max_shift", Words("最大位移", "Max shift")),
                ],
                rows,
            )
        )
    return Section("safety", TITLE, blocks)


def report(rt: sdk.Runtime[SafetySettings], start: int, end: int) -> dict[str, Any]:
    w: Safety = rt.world
    month = month_of(start)
    state = w.lookup(rt.store, month)
    months = w.months(rt.store)
    if state is None:  # never computed: computed for this report only
        state = state_of(w.compute(rt.aggregator.store, month, sdk.now_ms()))
        months[month] = state
    out: dict[str, Any] = msgspec.to_builtins(section(w, state, month, months))
    return out
