"""The civic case types, built from the scene's settings (their limits are configuration).

* ``civic.hotline`` — 12345 appeals (民情连心桥): 受理 -> 派单 -> 签收 (or 退单, 改派, 并单) -> 办理
  (补充材料 pauses the clock; 延期申请 before the deadline, approved or not) -> 答复 -> 回访 with a
  satisfaction score -> 办结; an unsatisfied callback or a failed review sends it back (返工). The
  category is the appeal kind (咨询, 求助, 投诉, 举报, 建议), each with its own limit.
* ``civic.enterprise`` — enterprise appeals (政企直通车): the same flow after a 首次联系 that has its
  own limit (1 hour by default), closed within 5 working days.
* ``civic.grid`` — the 数字城管 flow for grid inspectors' reports and camera events: 信息收集 (上报)
  -> 立案 (or 不予立案) -> 派遣 -> 处置 -> 反馈 -> 核查 (passed: 结案; failed: back to the department,
  返工) -> 评价. The category is the 部件/事件 小类, each with its 处置时限.

Roles (the organisation file gives them to people): 话务员 ``hotline_agent``, 派遣员
``dispatcher``, 承办人 ``handler`` (acts only on cases of their own department), 回访员
``callback_agent``, 网格员/监督员 ``inspector``, 值班长 ``supervisor``.
"""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.civic.settings import CivicSettings

AGENT, DISPATCHER, HANDLER = "hotline_agent", "dispatcher", "handler"
CALLBACK, INSPECTOR, SUPERVISOR = "callback_agent", "inspector", "supervisor"
INTEGRATIONS = ("scope:ingest", "scope:operate")  # systems with a token: a call centre, Open311 clients
SATISFACTION = (1, 2, 3, 4, 5)  # 1 非常不满意 ... 5 非常满意
HOTLINE_KINDS = ("咨询", "求助", "投诉", "举报", "建议")
PUBLIC = ("description", "address", "reply", "status_note", "photos")

Limit = sdk.Limit.parse


def _handling(
    cfg: CivicSettings, where: str, done: str, done_title: str
) -> tuple[list[sdk.State], list[sdk.Action]]:
    """The part every civic flow shares: dispatched -> handling (pause, extension) -> ``done``."""
    states = [
        sdk.State("dispatched", "已派单 / dispatched", limit=Limit(cfg.sign_within, f"{where}.sign_within")),
        sdk.State("handling", "办理中 / in progress"),
        sdk.State("waiting", "待补充材料 / waiting for the citizen", pause=True),
        sdk.State("extension", "延期审核中 / extension requested"),
        sdk.State(done, done_title, limit=Limit(cfg.callback_within, f"{where}.callback_within")),
    ]
    actions = [
        sdk.Action("sign", "签收 / accept", ("dispatched",), "handling", (HANDLER,), own_department=True),
        sdk.Action(
            "return",
            "退单 / return",
            ("dispatched",),
            "returned",
            (HANDLER,),
            ("reason",),
            own_department=True,
        ),
        sdk.Action(
            "reassign",
            "改派 / reassign",
            ("dispatched", "handling", "returned"),
            "dispatched",
            (DISPATCHER,),
            ("department", "reason"),
        ),
        sdk.Action(
            "ask_info",
            "补充材料 / ask the citizen",
            ("handling",),
            "waiting",
            (HANDLER,),
            ("question",),
            own_department=True,
        ),
        sdk.Action(
            "info_received", "材料已补 / citizen answered", ("waiting",), "handling", (HANDLER, AGENT)
        ),
        sdk.Action(
            "request_extension",
            "延期申请 / ask for more time",
            ("handling",),
            "extension",
            (HANDLER,),
            ("reason",),
            before_due=True,
            own_department=True,
        ),
        sdk.Action(
            "approve_extension",
            "批准延期 / grant the extension",
            ("extension",),
            "handling",
            (DISPATCHER, SUPERVISOR),
            extends=Limit(cfg.extension, f"{where}.extension"),
        ),
        sdk.Action(
            "deny_extension",
            "驳回延期 / refuse the extension",
            ("extension",),
            "handling",
            (DISPATCHER, SUPERVISOR),
            ("reason",),
        ),
        sdk.Action(
            "reply", "办结答复 / reply", ("handling",), done, (HANDLER,), ("reply",), own_department=True
        ),
        sdk.Action(
            "note",
            "备注 / note",
            (sdk.ANY,),
            None,
            (AGENT, DISPATCHER, HANDLER, CALLBACK, INSPECTOR, SUPERVISOR),
            ("text",),
        ),
    ]
    return states, actions


def _closing(done: str) -> tuple[list[sdk.State], list[sdk.Action]]:
    """回访 closes a replied appeal; an unsatisfied citizen or a failed review sends it back."""
    states = [
        sdk.State("closed", "已办结 / closed", public="closed", final=True),
        sdk.State("merged", "已并单 / merged into another", public="closed", final=True),
        sdk.State("returned", "已退单 / returned to the hotline"),
    ]
    actions = [
        sdk.Action(
            "callback",
            "回访 / callback",
            (done,),
            "closed",
            (CALLBACK, AGENT),
            ("satisfaction",),
            choices={"satisfaction": SATISFACTION},
        ),
        sdk.Action(
            "rework",
            "返工 / send back",
            (done, "closed"),
            "dispatched",
            (CALLBACK, DISPATCHER),
            ("reason",),
            restarts=True,
        ),
        sdk.Action(
            "merge",
            "并单 / merge a duplicate",
            ("registered", "dispatched", "returned"),
            "merged",
            (DISPATCHER,),
            ("master",),
        ),
    ]
    return states, actions


def hotline(cfg: CivicSettings) -> sdk.CaseType:
    where = "scenes.civic"
    handling_states, handling_actions = _handling(cfg, where, "replied", "已答复 / replied")
    closing_states, closing_actions = _closing("replied")
    registered = sdk.State(
        "registered", "已受理 / registered", limit=Limit(cfg.dispatch_within, f"{where}.dispatch_within")
    )
    dispatch = sdk.Action(
        "dispatch",
        "派单 / dispatch",
        ("registered", "returned"),
        "dispatched",
        (AGENT, DISPATCHER),
        ("department",),
    )
    return sdk.CaseType(
        name="civic.hotline",
        title="12345 诉求 / 12345 appeal",
        initial="registered",
        states=(registered, *handling_states, *closing_states),
        actions=(dispatch, *handling_actions, *closing_actions),
        limit=Limit(cfg.hotline_default, f"{where}.hotline_default"),
        limits_by_category={
            k: Limit(v, f"{where}.hotline_limits.{k}") for k, v in cfg.hotline_limits.items()
        },
        public_fields=PUBLIC,
        opens=(AGENT, DISPATCHER, *INTEGRATIONS),
    )


def enterprise(cfg: CivicSettings) -> sdk.CaseType:
    where = "scenes.civic"
    handling_states, handling_actions = _handling(cfg, where, "replied", "已答复 / replied")
    closing_states, closing_actions = _closing("replied")
    first = sdk.State(
        "registered",
        "待首次联系 / to contact",
        limit=Limit(cfg.enterprise_first_contact, f"{where}.enterprise_first_contact"),
    )
    contacted = sdk.State("contacted", "已联系 / contacted")
    actions = [
        sdk.Action(
            "contact",
            "首次联系 / first contact",
            ("registered",),
            "contacted",
            (AGENT, DISPATCHER),
            ("contact_note",),
        ),
        sdk.Action(
            "dispatch",
            "派单 / dispatch",
            ("contacted", "returned"),
            "dispatched",
            (AGENT, DISPATCHER),
            ("department",),
        ),
    ]
    return sdk.CaseType(
        name="civic.enterprise",
        title="企业诉求 / enterprise appeal",
        initial="registered",
        states=(first, contacted, *handling_states, *closing_states),
        actions=(*actions, *handling_actions, *closing_actions),
        limit=Limit(cfg.enterprise_limit, f"{where}.enterprise_limit"),
        public_fields=PUBLIC,
        opens=(AGENT, DISPATCHER, *INTEGRATIONS),
    )


def grid(cfg: CivicSettings) -> sdk.CaseType:
    where = "scenes.civic"
    handling_states, handling_actions = _handling(cfg, where, "fed_back", "已反馈 / fed back")
    states = [
        sdk.State(
            "reported", "已上报 / reported", limit=Limit(cfg.grid_file_within, f"{where}.grid_file_within")
        ),
        sdk.State("filed", "已立案 / filed"),
        *handling_states,
        sdk.State("returned", "已退回 / returned to the command centre"),
        sdk.State("closed", "已结案 / closed", public="closed", final=True),
        sdk.State("not_filed", "不予立案 / not filed", public="closed", final=True),
        sdk.State("merged", "已并案 / merged into another", public="closed", final=True),
    ]
    actions = [
        sdk.Action("file", "立案 / file", ("reported",), "filed", (SUPERVISOR, DISPATCHER)),
        sdk.Action(
            "reject",
            "不予立案 / do not file",
            ("reported",),
            "not_filed",
            (SUPERVISOR, DISPATCHER),
            ("reason",),
        ),
        sdk.Action(
            "dispatch", "派遣 / dispatch", ("filed", "returned"), "dispatched", (DISPATCHER,), ("department",)
        ),
        *handling_actions,
        sdk.Action(
            "verify", "核查通过 / verified on site", ("fed_back",), "closed", (INSPECTOR,), ("result",)
        ),
        sdk.Action(
            "rework",
            "核查不通过 / failed the check",
            ("fed_back",),
            "dispatched",
            (INSPECTOR,),
            ("reason",),
            restarts=True,
        ),
        sdk.Action(
            "evaluate",
            "评价 / evaluate",
            ("closed",),
            None,
            (SUPERVISOR,),
            ("score",),
            choices={"score": SATISFACTION},
        ),
        sdk.Action(
            "merge",
            "并案 / merge a duplicate",
            ("reported", "filed", "dispatched"),
            "merged",
            (DISPATCHER,),
            ("master",),
        ),
    ]
    return sdk.CaseType(
        name="civic.grid",
        title="网格上报 / grid report",
        initial="reported",
        states=tuple(states),
        actions=tuple(actions),
        limit=Limit(cfg.grid_default, f"{where}.grid_default"),
        limits_by_category={k: Limit(v, f"{where}.grid_limits.{k}") for k, v in cfg.grid_limits.items()},
        public_fields=PUBLIC,
        opens=(INSPECTOR, SUPERVISOR, DISPATCHER, *INTEGRATIONS),
        routes=tuple(sdk.Route(tuple(r.categories), r.kind, r.owner, dict(r.local)) for r in cfg.grid_routes),
    )


def case_types(cfg: CivicSettings) -> list[sdk.CaseType]:
    return [hotline(cfg), enterprise(cfg), grid(cfg)]
