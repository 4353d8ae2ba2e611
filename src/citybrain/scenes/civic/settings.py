"""``[scenes.civic]``: the time limits of the civic case types, as configuration.

Limits are "<amount> <unit>" with a unit of working_days, working_hours, days or hours (counted on
the city's working-day calendar, ``[cases] calendar_file``). The defaults are published rules, not
a national standard (none sets national limits; ../research notes A1.4, A2.3, A3):

* 12345 appeals by kind: 广东省12345热线管理办法 — 咨询 2, 求助 and 建议 10, 投诉 and 举报 15 working
  days from receipt; 签收 within 1 working day (a city's rules, A2.3);
* enterprise appeals: first contact within 1 hour, closed within 5 working days (中山 企业诉求
  "马上办", 宁波海曙 政企直通车);
* grid reports (数字城管): 处置时限 per 小类 from city handbooks (济源, an unnamed district): 暴露垃圾
  4 working hours, 道路不洁 5 working hours, 积存垃圾渣土 4 working days, 违法搭建 15 working days ...;
  their routing rules (``grid_routes``): 部件 to the owner first, 事件 to the area first (A1).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from citybrain import sdk


def _hotline() -> dict[str, str]:
    return {
        "咨询": "2 working_days",
        "求助": "10 working_days",
        "投诉": "15 working_days",
        "举报": "15 working_days",
        "建议": "10 working_days",
    }


def _grid() -> dict[str, str]:
    return {
        "暴露垃圾": "4 working_hours",
        "道路不洁": "5 working_hours",
        "积存垃圾渣土": "4 working_days",
        "绿地脏乱": "4 working_hours",
        "道路积水": "4 working_hours",
        "占道经营": "4 working_hours",
        "非法小广告": "1 working_days",
        "违法搭建": "15 working_days",
        "乱停车": "2 working_hours",
        "井盖缺失": "2 working_hours",
        "路灯损坏": "3 working_days",
    }


class GridRoute(msgspec.Struct, forbid_unknown_fields=True):
    """A routing rule of grid reports (``[[scenes.civic.grid_routes]]``): the 小类 it covers ("*":
    every other), 部件 (owner first) or 事件 (area first), the owner department (属主) and the
    department of each area (属地: area code -> department; the longest matching code wins)."""

    categories: list[str]
    kind: Literal["部件", "事件"]
    owner: str = ""
    local: dict[str, str] = msgspec.field(default_factory=dict)


_URBAN = {"360102": "donghu-urban", "360103": "xihu-urban"}  # the district urban-management bureaus


def _routes() -> list[GridRoute]:
    """The demo organisation's rules (data/identity/org.toml): water covers and waterlogging to the
    Water Bureau, street lights to Housing and Construction (部件: their owners), illegal parking to
    the traffic police; every other event to the district's urban management, else the city's
    command centre (事件)."""
    return [
        GridRoute(["井盖缺失"], "部件", owner="nc-water", local=dict(_URBAN)),
        GridRoute(["路灯损坏"], "部件", owner="nc-housing", local=dict(_URBAN)),
        GridRoute(["道路积水"], "事件", owner="nc-water", local={}),
        GridRoute(["乱停车"], "事件", owner="nc-traffic", local={}),
        GridRoute(["*"], "事件", owner="nc-urban", local=dict(_URBAN)),
    ]


class CivicSettings(sdk.SceneSettings):
    hotline_limits: dict[str, str] = msgspec.field(default_factory=_hotline)  # 12345 kind -> limit
    hotline_default: str = "10 working_days"  # a kind not listed
    sign_within: str = "1 working_days"  # 签收 of a dispatched case
    dispatch_within: str = "4 working_hours"  # 派单 of a registered call
    callback_within: str = "1 working_days"  # 回访 after the reply
    extension: str = "5 working_days"  # what an approved 延期 adds
    enterprise_first_contact: str = "1 hours"  # 首次联系 of an enterprise appeal
    enterprise_limit: str = "5 working_days"  # an enterprise appeal closed within this
    grid_limits: dict[str, str] = msgspec.field(default_factory=_grid)  # 小类 -> 处置时限
    grid_default: str = "5 working_days"  # a 小类 not listed
    grid_file_within: str = "1 working_hours"  # 立案 of an inspector's report
    grid_routes: list[GridRoute] = msgspec.field(default_factory=_routes)  # 派遣: 部件 属主 first, 事件 属地
    camera_min_confidence: float = 0.6  # camera detections below this are ignored
    camera_quiet_s: float = 300.0  # a camera's alert clears once it has seen nothing of it this long
    watch_every_s: float = 30.0  # how often open cases' deadlines are judged (due soon, overdue)
