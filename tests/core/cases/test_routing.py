"""Routing rules (issue 14 item 3): 部件 to the owner first (先属主后属地), 事件 to the area first
(先属地后属主), each falling back to the other; the most specific area wins; rules are checked."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest

from citybrain.core.cases.routing import Route, route_for
from citybrain.core.errors import ConfigError
from citybrain.scenes.civic.casetypes import grid
from citybrain.scenes.civic.settings import CivicSettings
from tests.core.cases.casekit import COMPLAINT

URBAN = {"3601": "nc-urban", "360102": "donghu-urban", "360102001": "donghu-street-1"}
ROUTES = (
    Route(("井盖缺失",), "部件", owner="nc-water", local=URBAN),
    Route(("无主井盖",), "部件", local=URBAN),
    Route(("暴露垃圾",), "事件", owner="nc-sanitation", local=URBAN),
    Route(("*",), "事件", owner="nc-urban-centre"),
)


@pytest.mark.parametrize(
    ("category", "area", "department", "why"),
    [
        ("井盖缺失", "360102001001001", "nc-water", "部件 先属主后属地: 属主 nc-water"),
        ("无主井盖", "360102001001001", "donghu-street-1", "部件 先属主后属地: 属地 donghu-street-1"),
        ("暴露垃圾", "360102001001001", "donghu-street-1", "事件 先属地后属主: 属地 donghu-street-1"),
        ("暴露垃圾", "360102002001001", "donghu-urban", "事件 先属地后属主: 属地 donghu-urban"),
        ("暴露垃圾", "360103001001001", "nc-urban", "事件 先属地后属主: 属地 nc-urban"),
        ("暴露垃圾", "360402001001001", "nc-sanitation", "事件 先属地后属主: 属主 nc-sanitation"),
        ("占道经营", "360102001001001", "nc-urban-centre", "事件 先属地后属主: 属主 nc-urban-centre"),
    ],
)
def test_components_go_to_their_owner_and_events_to_their_area(
    category: str, area: str, department: str, why: str
) -> None:
    s = route_for(ROUTES, category, area)
    assert s is not None and (s.department, s.why) == (department, why)


def test_no_rule_no_suggestion() -> None:
    assert route_for(ROUTES[:1], "暴露垃圾", "360102") is None
    assert route_for((Route(("无主井盖",), "部件", local=URBAN),), "无主井盖", "360402") is None


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(("x",), cast(Any, "设施"), owner="a"), "kind '设施' is not one of"),
        (Route((), "部件", owner="a"), "names no category"),
        (Route(("x",), "事件"), "neither an owner nor a department by area"),
        (Route(("x",), "事件", local={"36-01": "a"}), "'36-01' is not an administrative"),
    ],
)
def test_a_rule_that_cannot_route_is_refused_with_the_case_type(route: Route, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        replace(COMPLAINT, routes=(route,)).check()


def test_the_civic_grid_rules_from_the_settings() -> None:
    ct = grid(CivicSettings())
    ct.check()
    cover = route_for(ct.routes, "井盖缺失", "360103001001001")
    litter = route_for(ct.routes, "暴露垃圾", "360103001001001")
    county = route_for(ct.routes, "暴露垃圾", "360121001001001")  # 南昌县: no district bureau listed
    assert cover is not None and cover.department == "nc-water"
    assert litter is not None and litter.department == "xihu-urban"
    assert county is not None and county.department == "nc-urban"
