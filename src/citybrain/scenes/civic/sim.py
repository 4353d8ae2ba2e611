"""The civic simulator: citizens calling 12345, enterprises appealing and grid inspectors reporting
at daily rhythms, and the departments answering them, all through the platform's case API.

Two halves. ``CivicWorld`` (pure, seeded) decides what happens: ``step(now_ms)`` returns the
commands due by then (cases to open, actions to take) and ``settle(key, outcome, now_ms)`` tells it
how the last command of a case went, so it schedules that case's next step. Each case's life is
planned when it arrives (派单, 签收 or 退单, 补充材料, 延期, 答复, 回访 with a score, 返工 ...) and
played one step at a time. ``CivicSimulator`` sends the commands over HTTP (``POST /api/v1/cases``
and ``/actions/{action}``) with the platform's admin token, which acts as an administrator in the
case engine; the note of each command says who would have acted ("东湖区城管局 承办人 李娜 签收").

Time: arrivals follow the real clock (China time): 12345 calls peak mid-morning and mid-afternoon,
inspectors patrol in office hours. Department delays are in simulated minutes that run ``speed``
times faster than real time, so a demo shows whole cases within minutes; the delays follow the
published rules (the civic settings' default limits, ../research notes A1.4, A2.3, A3), not the
limits a demo configures, so shortened limits in ``[scenes.civic]`` show overdue cases.

Rates, shares and delays are configuration (``CivicSimConfig``); where a default comes from a
published figure its comment says so, the rest are stated assumptions for a city of Nanchang's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import httpx
import msgspec

from citybrain import sdk
from citybrain.geo.regions import NANCHANG
from citybrain.scenes.civic.casetypes import HOTLINE_KINDS, grid
from citybrain.scenes.civic.settings import CivicSettings
from citybrain.sdk import SimContext
from citybrain.sdk.settings import load_settings

log = logging.getLogger(__name__)
BJT = timezone(timedelta(hours=8))
RULES = CivicSettings()  # the published rules the departments work to (the scene's default limits)
GRID = grid(RULES)  # the grid case type with its routing rules


class CivicSimConfig(msgspec.Struct, forbid_unknown_fields=True):
    seed: int = 12345
    speed: float = 720.0  # simulated minutes per real minute for department delays (a day in 2 min)
    tick_s: float = 1.0  # how often the simulator wakes up
    scale: float = 1.0  # multiplies every arrival rate
    # arrivals per day (real time), spread by the daily profiles below. Nanchang publishes no daily
    # 12345 volume we could find: ~1 call per 800 residents a day is an assumption (UNVERIFIED)
    hotline_per_day: float = 8000.0
    grid_per_day: float = 3000.0  # 监督员 reports ~95% of 立案 in 数字城管 (天门, A1.5): many per day
    enterprise_per_day: float = 24.0  # a few an hour in office hours
    # 12345 kinds (咨询 求助 投诉 举报 建议): an assumption; no published split was found
    kind_weights: dict[str, float] = msgspec.field(
        default_factory=lambda: {"咨询": 0.38, "求助": 0.2, "投诉": 0.3, "举报": 0.06, "建议": 0.06}
    )
    # delays in simulated minutes (medians of a log-normal spread ``spread``)
    dispatch_minutes: float = 12.0  # 派单 after 受理 (rule: within 4 working hours)
    first_contact_minutes: float = 15.0  # enterprise 首次联系 (rule: 1 hour, 中山 A3)
    file_minutes: float = 8.0  # 立案 of an inspector's report (rule: 1 working hour)
    sign_minutes: float = 40.0  # 签收 (rule: 1 working day, A2.3)
    handle_fraction: float = 0.35  # 答复 after this share of the rule's allowance (median)
    citizen_minutes: float = 600.0  # a citizen sending the missing material
    decision_minutes: float = 120.0  # 延期 approved or refused
    callback_minutes: float = 240.0  # 回访 after the reply (rule: 1 working day)
    check_minutes: float = 90.0  # the inspector's 核查 after the department's feedback
    spread: float = 0.6  # sigma of the log-normal delays
    # shares (probabilities per case or per step)
    late_sign_share: float = 0.08  # 签收 after the 1-working-day rule (1.1 to 3 times it)
    late_reply_share: float = 0.07  # 答复 after the allowance (1.05 to 2 times it)
    return_share: float = 0.06  # dispatched to the wrong department, which returns it (退单)
    ask_info_share: float = 0.07  # the department asks the citizen for more (the clock pauses)
    extension_share: float = 0.05  # the department asks for more time (延期申请)
    extension_granted_share: float = 0.8
    # callback scores 1..5: 满意率 (4-5) ~90%, as published 满意率/解决率 run 90-99% (A2.4)
    satisfaction_weights: tuple[float, float, float, float, float] = (0.02, 0.03, 0.05, 0.2, 0.7)
    rework_share: float = 0.6  # of callbacks scoring 1-3, those sent back (返工)
    not_filed_share: float = 0.05  # grid reports not filed (不予立案)
    check_fail_share: float = 0.12  # grid feedback failing the inspector's check (返工, 金华 KPI)
    evaluate_share: float = 0.3  # closed grid cases the supervisor scores (评价)
    max_cases: int = 5000  # cases followed at once; arrivals beyond it are not opened


# -- daily profiles: relative arrivals per hour of the day (China time); an assumption ----------
# 12345: few calls at night, peaks mid-morning and mid-afternoon (the usual call-centre curve)
HOTLINE_PROFILE = (0.15, 0.1, 0.07, 0.06, 0.06, 0.1, 0.25, 0.5, 0.85, 1.0, 1.0, 0.9,
                   0.6, 0.7, 0.9, 1.0, 0.95, 0.8, 0.6, 0.5, 0.45, 0.4, 0.3, 0.2)  # fmt: skip
# inspectors patrol in shifts, 08:00-12:00 and 14:00-18:00
GRID_PROFILE = (0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.3, 0.8, 1.0, 1.0, 0.8,
                0.3, 0.4, 0.9, 1.0, 1.0, 0.7, 0.3, 0.15, 0.08, 0.05, 0.03, 0.02)  # fmt: skip
# enterprises: office hours
ENTERPRISE_PROFILE = (0, 0, 0, 0, 0, 0, 0, 0.05, 0.5, 1.0, 1.0, 0.7,
                      0.2, 0.4, 0.9, 1.0, 0.9, 0.5, 0.1, 0.03, 0, 0, 0, 0)  # fmt: skip


def profile_weight(profile: Sequence[float], ts_ms: int) -> float:
    """The profile's weight at ``ts_ms``, linear between hour midpoints (no steps at the hour)."""
    hour = ((ts_ms / 3_600_000) + 8 - 0.5) % 24
    i = int(hour)
    frac = hour - i
    return profile[i] * (1 - frac) + profile[(i + 1) % 24] * frac


def rate_per_ms(per_day: float, profile: Sequence[float], ts_ms: int) -> float:
    """Arrivals per millisecond at ``ts_ms``: ``per_day`` spread over the day by ``profile``."""
    return per_day * profile_weight(profile, ts_ms) / sum(profile) / 3_600_000


# -- the city: districts, streets, departments ---------------------------------------------------
# weights roughly by resident population (an assumption), centres for GPS (WGS-84, approximate)
DISTRICTS: dict[str, tuple[float, tuple[float, float], tuple[str, ...]]] = {
    "360102": (0.10, (115.905, 28.688), ("八一大道", "中山路", "胜利路", "象山北路", "叠山路", "阳明路")),
    "360103": (0.10, (115.885, 28.660), ("孺子路", "船山路", "系马桩街", "桃花路", "朝阳洲路")),
    "360104": (0.07, (115.920, 28.625), ("洪都中大道", "井冈山大道", "迎宾北大道", "三店西路")),
    "360111": (0.14, (115.955, 28.685), ("北京东路", "上海路", "青山路", "南京东路", "湖滨东路")),
    "360112": (0.12, (115.820, 28.690), ("长堎大道", "子实路", "礼步湖路", "望城大道")),
    "360113": (0.10, (115.845, 28.700), ("红谷中大道", "赣江中大道", "丰和中大道", "会展路", "庐山南大道")),
    "360121": (0.20, (115.940, 28.550), ("澄碧湖路", "莲武路", "向阳路", "东新大道")),
    "360123": (0.04, (115.550, 28.845), ("龙津大道", "文峰路", "东阳大道")),
    "360124": (0.13, (116.240, 28.380), ("民和大道", "胜利路", "抚河路")),
}  # fmt: skip
ESTATES = ("阳光花园", "锦绣华庭", "滨江苑", "翠苑小区", "幸福里", "金域名都", "丽景湾", "绿地新城",
           "文化苑", "银河城", "紫金城", "梅岭小区")  # fmt: skip
NANCHANG_BOX = (115.45, 28.15, 116.60, 29.20)  # lon/lat bounds every GPS point stays in

# who handles what: a route names a department kind, the district decides which one (区 first)
LOCAL = {"urban": {"360102": "donghu-urban", "360103": "xihu-urban"},
         "civil": {"360102": "donghu-civil", "360103": "xihu-civil"}}  # fmt: skip
CITY = {"urban": "nc-urban", "civil": "nc-civil", "water": "nc-water", "housing": "nc-housing",
        "market": "nc-market", "health": "nc-health", "transport": "nc-transport", "traffic": "nc-traffic",
        "industry": "nc-industry"}  # fmt: skip
DEPT_NAMES = {
    "nc-12345": "12345热线", "nc-urban": "市数字城管指挥中心", "donghu-urban": "东湖区城管局",
    "xihu-urban": "西湖区城管局", "nc-civil": "市民政局", "donghu-civil": "东湖区民政局",
    "xihu-civil": "西湖区民政局", "nc-water": "市水务局", "nc-housing": "市住建局",
    "nc-market": "市市场监管局", "nc-health": "市医保局", "nc-transport": "市交通运输局",
    "nc-traffic": "市交管局", "nc-industry": "市工信局",
}  # fmt: skip


def department(route: str, district: str) -> str:
    """The department a route names in ``district``: the district's own, else the city's."""
    return LOCAL.get(route, {}).get(district) or CITY[route]


@dataclass(frozen=True)
class Topic:
    """What a 12345 call is about: the kinds it comes as, who handles it, what is said and replied."""

    title: str
    kinds: tuple[str, ...]
    route: str
    says: str  # {addr} {street} filled in
    reply: str


TOPICS = (
    Topic("垃圾未及时清运", ("投诉", "求助"), "urban", "{addr}附近垃圾桶满溢，两天没人清运，气味很大。",
          "已安排环卫作业队清运并增加清运频次。"),
    Topic("流动摊贩占道经营", ("投诉", "举报"), "urban", "{addr}路边有流动摊贩占道经营，晚上油烟和噪音扰民。",
          "执法队员已到场劝离摊贩，将加强夜间巡查。"),
    Topic("路灯不亮", ("求助", "投诉"), "urban", "{addr}一段路灯不亮已经一周，晚上出行不安全。",
          "已派员更换损坏灯具，路灯恢复正常。"),
    Topic("绿化设施建议", ("建议",), "urban", "建议在{street}沿线增加休息座椅和行道树。",
          "感谢建议，已纳入明年街道提升计划。"),
    Topic("停水无通知", ("求助", "咨询", "投诉"), "water",
          "{addr}今天早上开始停水，没有收到通知，什么时候恢复供水？",
          "系管网抢修临时停水，已恢复供水，今后将提前公告。"),
    Topic("路面积水", ("求助",), "water", "{addr}下雨后路面积水严重，排水口堵塞。",
          "已疏通排水口，积水已排除。"),
    Topic("物业不作为", ("投诉",), "housing", "{addr}电梯经常故障，物业拖着不修。",
          "已约谈物业公司，电梯已维修并通过检验。"),
    Topic("夜间施工噪音", ("投诉", "举报"), "housing", "{addr}附近工地夜间施工到凌晨，噪音很大，影响休息。",
          "已责令施工单位停止夜间施工，违规行为已立案处理。"),
    Topic("餐馆食品卫生", ("举报", "投诉"), "market", "在{addr}一家餐馆就餐后身体不适，怀疑食品不卫生。",
          "已对该餐馆现场检查并责令整改，抽检样品已送检。"),
    Topic("商品质量纠纷", ("投诉", "咨询"), "market", "在{addr}一家商店买的电器有质量问题，商家拒绝退换。",
          "经调解，商家同意退货退款。"),
    Topic("异地就医备案", ("咨询",), "health", "想咨询异地就医备案的办理流程和报销比例。",
          "已告知可在赣服通办理备案，报销比例按政策执行。"),
    Topic("公交线路", ("建议", "咨询"), "transport", "建议增开{street}到红谷滩的公交线路，早高峰太挤。",
          "已将建议转公交集团研究，早高峰将加密班次。"),
    Topic("路口信号灯", ("建议", "投诉"), "traffic", "{addr}路口行人绿灯时间太短，老人过不去马路。",
          "已调整该路口信号配时，行人绿灯延长至30秒。"),
    Topic("居家养老服务", ("咨询", "求助"), "civil", "家中老人独居在{addr}，想咨询社区居家养老服务如何申请。",
          "已告知申请流程，社区工作人员将上门评估。"),
)  # fmt: skip

GRID_SAYS = {
    "暴露垃圾": "{addr}路边有暴露垃圾堆放，约两平方米。", "道路不洁": "{addr}路面有油污和散落垃圾。",
    "积存垃圾渣土": "{addr}有积存的建筑渣土未清运。", "绿地脏乱": "{addr}绿化带内有塑料袋和杂物。",
    "道路积水": "{addr}路面积水约十厘米深。", "占道经营": "{addr}有商户占用人行道摆卖。",
    "非法小广告": "{addr}电线杆和墙面张贴大量小广告。", "违法搭建": "{addr}有居民在屋顶违法搭建彩钢棚。",
    "乱停车": "{addr}人行道上有多辆机动车违停。", "井盖缺失": "{addr}人行道上一处井盖缺失，存在安全隐患。",
    "路灯损坏": "{addr}路灯灯杆倾斜，灯具损坏。",
}  # fmt: skip
# enterprise appeals (政企直通车): topic -> department kind
ENTERPRISE_TOPICS = (("政策咨询", "industry"), ("审批办理", "market"), ("用水报装", "water"),
                     ("厂房建设", "housing"), ("用工招聘", "industry"), ("市场监管", "market"))  # fmt: skip
ENTERPRISE_TRADES = ("精密机械", "电子科技", "食品", "医药", "物流", "纺织服饰", "新材料", "软件")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志文斌辉"


# -- commands: what the world asks the runner to send --------------------------------------------
@dataclass(frozen=True)
class Open:
    """Open a case: ``body`` is the ``POST /api/v1/cases`` body; ``key`` is the sim's handle."""

    key: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Act:
    """Take ``action`` on the case ``key`` (the runner knows its id and version)."""

    key: str
    action: str
    fields: dict[str, Any]
    note: str
    command_id: str


Command = Open | Act
Outcome = Literal["ok", "skip", "drop"]  # done; refused (skip what depends on it); the case is gone


@dataclass(frozen=True)
class Step:
    minutes: float  # simulated minutes after the previous step
    action: str
    fields: dict[str, Any]
    note: str
    after_previous: bool = False  # only if the previous step went through (批准 after 延期申请)


@dataclass
class Life:
    steps: list[Step]
    done: int = 0  # steps sent so far
    busy: bool = True  # a command of this case is out (the open, at first)


@dataclass
class Stream:
    name: str
    per_day: Callable[[CivicSimConfig], float]
    profile: Sequence[float]


STREAMS = (
    Stream("hotline", lambda c: c.hotline_per_day, HOTLINE_PROFILE),
    Stream("grid", lambda c: c.grid_per_day, GRID_PROFILE),
    Stream("enterprise", lambda c: c.enterprise_per_day, ENTERPRISE_PROFILE),
)
MAX_GAP_MS = 60_000  # after a longer pause, arrivals of only this long are made up


def rule_minutes(limit: str) -> float:
    """A rule's allowance as elapsed simulated minutes (a working day ~ 1.4 calendar days)."""
    lim = sdk.Limit.parse(limit)
    per = {"hours": 60.0, "days": 1440.0, "working_hours": 90.0, "working_days": 2016.0}
    return lim.amount * per[lim.unit]


@dataclass
class CivicWorld:
    """The pure core: arrivals and each case's planned life; no I/O, deterministic for a seed and
    the same sequence of ``step`` and ``settle`` calls."""

    cfg: CivicSimConfig
    grid_categories: Sequence[str] = field(default_factory=lambda: list(RULES.grid_limits))
    run: str = "r0"  # a tag in every command id, unique per run of the platform
    rng: random.Random = field(init=False)
    lives: dict[str, Life] = field(default_factory=dict, init=False)
    queue: list[tuple[int, int, str]] = field(default_factory=list, init=False)  # (due ms, seq, key)
    last_ms: int | None = field(default=None, init=False)
    seq: int = field(default=0, init=False)
    opened: Counter[str] = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.cfg.seed)
        if not self.grid_categories:
            self.grid_categories = list(RULES.grid_limits)

    # -- the clock ----------------------------------------------------------------------------
    def step(self, now_ms: int) -> list[Command]:
        """The commands due by ``now_ms``: new cases (arrivals since the last call) and the next
        step of every case whose previous command has settled and whose delay has passed."""
        out: list[Command] = []
        if self.last_ms is not None and now_ms > self.last_ms:
            span = min(now_ms - self.last_ms, MAX_GAP_MS)
            for stream in STREAMS:
                lam = rate_per_ms(stream.per_day(self.cfg), stream.profile, now_ms) * span * self.cfg.scale
                for _ in range(sdk.poisson(self.rng, lam)):
                    if len(self.lives) < self.cfg.max_cases:
                        out.append(self._arrive(stream.name, now_ms))
        self.last_ms = now_ms if self.last_ms is None else max(self.last_ms, now_ms)
        while self.queue and self.queue[0][0] <= now_ms:
            _, _, key = heapq.heappop(self.queue)
            life = self.lives.get(key)
            if life is None or life.busy or life.done >= len(life.steps):
                continue
            s = life.steps[life.done]
            life.done += 1
            life.busy = True
            out.append(Act(key, s.action, dict(s.fields), s.note, f"{key}.{life.done}"))
        return out

    def settle(self, key: str, outcome: Outcome, now_ms: int) -> None:
        """How the last command of ``key`` went: its next step is due a delay after ``now_ms``."""
        life = self.lives.get(key)
        if life is None:
            return
        life.busy = False
        if outcome == "skip":  # what needed the refused step goes too
            while life.done < len(life.steps) and life.steps[life.done].after_previous:
                life.done += 1
        if outcome == "drop" or life.done >= len(life.steps):
            del self.lives[key]
            return
        delay = life.steps[life.done].minutes * 60_000 / max(self.cfg.speed, 1e-6)
        self.seq += 1
        heapq.heappush(self.queue, (now_ms + max(1, round(delay)), self.seq, key))

    # -- arrivals -----------------------------------------------------------------------------
    def _arrive(self, stream: str, now_ms: int) -> Open:
        self.seq += 1
        self.opened[stream] += 1
        key = f"sim-civic-{self.run}-{self.seq}"
        plan = {"hotline": self._hotline, "grid": self._grid, "enterprise": self._enterprise}[stream]
        body, steps = plan(now_ms)
        self.lives[key] = Life(steps)
        return Open(key, {**body, "command_id": key})

    def _place(self) -> tuple[str, str, str, str, float, float]:
        """A district, a street, an address, a 15-digit unit-grid code and a GPS point near it."""
        r = self.rng
        code = r.choices(list(DISTRICTS), [d[0] for d in DISTRICTS.values()])[0]
        _, (lon, lat), streets = DISTRICTS[code]
        street = r.choice(streets)
        addr = f"{NANCHANG[code]['zh-CN']}{street}{r.randint(1, 899)}号{r.choice(ESTATES)}"
        area = f"{code}{r.randint(1, 12):03d}{r.randint(1, 15):03d}{r.randint(1, 20):03d}"
        lo, la = lon + r.uniform(-0.02, 0.02), lat + r.uniform(-0.02, 0.02)
        return code, street, addr, area, round(lo, 6), round(la, 6)

    def _person(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2))))

    def _phone(self) -> str:
        return f"1{self.rng.choice('3578')}{self.rng.randint(0, 9)}{self.rng.randint(0, 99_999_999):08d}"

    def _hotline(self, now_ms: int) -> tuple[dict[str, Any], list[Step]]:
        r, c = self.rng, self.cfg
        kinds = [k for k in HOTLINE_KINDS if c.kind_weights.get(k, 0) > 0] or list(HOTLINE_KINDS)
        kind = r.choices(kinds, [c.kind_weights.get(k, 1.0) for k in kinds])[0]
        topic = r.choice([t for t in TOPICS if kind in t.kinds])
        district, street, addr, area, lon, lat = self._place()
        dept = department(topic.route, district)
        agent = f"12345热线 话务员 {r.randint(1001, 1180)}号"
        body = {
            "type": "civic.hotline", "category": kind, "area": area, "department": "nc-12345",
            "title": f"{topic.title}（{NANCHANG[district]['zh-CN']}{street}）", "lon": lon, "lat": lat,
            "fields": {"description": topic.says.format(addr=addr, street=street), "address": addr,
                       "name": self._person(), "phone": self._phone(), "channel": "12345电话"},
            "note": f"{agent} 受理来电",
        }  # fmt: skip
        allowance = rule_minutes(RULES.hotline_limits.get(kind, RULES.hotline_default))
        steps = self._dispatch("dispatch", dept, c.dispatch_minutes, "12345热线 派单员", wrong=True)
        steps += self._handle(dept, allowance, topic.reply)
        steps += self._callback(dept, allowance, topic.reply)
        return body, steps

    def _enterprise(self, now_ms: int) -> tuple[dict[str, Any], list[Step]]:
        r, c = self.rng, self.cfg
        topic, route = r.choice(ENTERPRISE_TOPICS)
        district, _, addr, area, lon, lat = self._place()
        dept = department(route, district)
        brand = r.choice("宏恒鑫瑞华盛嘉丰") + r.choice("远达泰源安利")
        company = f"南昌{brand}{r.choice(ENTERPRISE_TRADES)}有限公司"
        says = {"政策咨询": "想了解今年中小企业技改补贴的申报条件和时间。",
                "审批办理": "食品经营许可证变更已提交两周，一直没有进展。",
                "用水报装": "新厂房用水报装申请后迟迟没有安排接水。",
                "厂房建设": "厂房扩建的施工许可办理需要哪些材料？",
                "用工招聘": "企业急需招聘一批技术工人，希望协助对接职业院校。",
                "市场监管": "周边有企业仿冒我司商标，请求查处。"}[topic]  # fmt: skip
        body = {
            "type": "civic.enterprise", "category": topic, "area": area, "department": "nc-12345",
            "title": f"{company}：{topic}", "lon": lon, "lat": lat,
            "fields": {"description": says, "address": addr, "enterprise": company, "name": self._person(),
                       "phone": self._phone(), "channel": "政企直通车"},
            "note": "12345热线 涉企服务专席 受理企业诉求",
        }  # fmt: skip
        contact = Step(self._delay(c.first_contact_minutes), "contact",
                       {"contact_note": f"已电话联系{company}，确认诉求：{topic}"},
                       "12345热线 涉企服务专席 首次联系企业")  # fmt: skip
        allowance = rule_minutes(RULES.enterprise_limit)
        steps = [
            contact,
            *self._dispatch("dispatch", dept, c.dispatch_minutes, "12345热线 派单员", wrong=True),
        ]
        steps += self._handle(dept, allowance, "已与企业对接，问题已协调解决。")
        steps += self._callback(dept, allowance, "已与企业对接，问题已协调解决。")
        return body, steps

    def _grid(self, now_ms: int) -> tuple[dict[str, Any], list[Step]]:
        r, c = self.rng, self.cfg
        category = r.choice(list(self.grid_categories))
        district, street, addr, area, lon, lat = self._place()
        # the scene's routing rules (部件 by owner, 事件 by place: A1.2), as the dispatcher sees them
        routed = sdk.route_for(GRID.routes, category, area)
        dept = routed.department if routed is not None else department("urban", district)
        inspector = f"网格员 {self._person()}（网格 {area}）"
        says = GRID_SAYS.get(category, "{addr}发现{category}问题。").format(addr=addr, category=category)
        body = {
            "type": "civic.grid", "category": category, "area": area, "department": "nc-urban",
            "title": f"{category}：{NANCHANG[district]['zh-CN']}{street}", "lon": lon, "lat": lat,
            "fields": {"description": says, "address": addr, "photos": [self._photo(now_ms)],
                       "reporter": inspector},
            "note": f"{inspector} 巡查上报",
        }  # fmt: skip
        centre = "数字城管指挥中心"
        if r.random() < c.not_filed_share:
            reason = {"reason": "经核实不属于城市管理范围，转相关单位"}
            reject = Step(self._delay(c.file_minutes), "reject", reason, f"{centre} 值班长 不予立案")
            return body, [reject]
        steps = [Step(self._delay(c.file_minutes), "file", {}, f"{centre} 值班长 立案")]
        steps += self._dispatch("dispatch", dept, c.dispatch_minutes, f"{centre} 派遣员", wrong=False)
        allowance = rule_minutes(RULES.grid_limits.get(category, RULES.grid_default))
        reply = f"已按要求处置{category}问题，现场已整改。"
        steps += self._handle(dept, allowance, reply, photo=now_ms)
        if r.random() < c.check_fail_share:
            steps.append(Step(self._delay(c.check_minutes), "rework", {"reason": "现场复核仍未整改到位"},
                              f"{inspector} 现场核查未通过"))  # fmt: skip
            steps += self._handle(dept, allowance, reply, photo=now_ms, again=True)
        steps.append(Step(self._delay(c.check_minutes), "verify", {"result": "现场核查已整改到位"},
                          f"{inspector} 现场核查通过"))  # fmt: skip
        if r.random() < c.evaluate_share:
            score = r.choices((1, 2, 3, 4, 5), c.satisfaction_weights)[0]
            steps.append(Step(self._delay(c.decision_minutes), "evaluate", {"score": score},
                              "数字城管监督中心 值班长 综合评价"))  # fmt: skip
        return body, steps

    # -- the parts every flow shares ------------------------------------------------------------
    def _dispatch(self, action: str, dept: str, minutes: float, who: str, wrong: bool) -> list[Step]:
        """派单 to ``dept``; sometimes first to a wrong department, which returns it (退单)."""
        r, c = self.rng, self.cfg
        right = Step(
            self._delay(minutes), action, {"department": dept}, f"{who} 派至{DEPT_NAMES.get(dept, dept)}"
        )
        if not wrong or r.random() >= c.return_share:
            return [right]
        other = r.choice(sorted({*CITY.values()} - {dept, "nc-urban"}))
        name, right_name = DEPT_NAMES.get(other, other), DEPT_NAMES.get(dept, dept)
        return [
            Step(self._delay(minutes), action, {"department": other}, f"{who} 派至{name}"),
            Step(self._delay(c.sign_minutes), "return", {"reason": f"非本单位职责，建议改派{right_name}"},
                 f"{name} 承办人 {self._person()} 退单"),
            Step(self._delay(minutes), action, {"department": dept}, f"{who} 改派至{right_name}"),
        ]  # fmt: skip

    def _handle(
        self, dept: str, allowance: float, reply: str, photo: int | None = None, again: bool = False
    ) -> list[Step]:
        """签收 -> (补充材料) -> (延期申请 -> 批准/驳回) -> 答复, timed against the rule's allowance."""
        r, c = self.rng, self.cfg
        name = DEPT_NAMES.get(dept, dept)
        handler = f"{name} 承办人 {self._person()}"
        late_sign = r.random() < c.late_sign_share
        sign = (
            r.uniform(1.1, 3.0) * rule_minutes(RULES.sign_within)
            if late_sign
            else self._delay(c.sign_minutes)
        )
        steps = [Step(sign, "sign", {}, f"{handler} 签收")]
        total = allowance * (r.uniform(1.05, 2.0) if r.random() < c.late_reply_share
                             else min(0.95, self._fraction(c.handle_fraction)))  # fmt: skip
        if again:
            total *= 0.5  # a rework is quicker: the case is known
        used = 0.0
        if r.random() < c.ask_info_share:
            ask, wait = self._delay(min(120.0, total / 3)), self._delay(c.citizen_minutes)
            question = {"question": "请提供具体位置照片和联系方式"}
            steps += [Step(ask, "ask_info", question, f"{handler} 联系市民补充材料"),
                      Step(wait, "info_received", {}, "12345热线 话务员 转交市民补充的材料",
                           after_previous=True)]  # fmt: skip
            used += ask
        if r.random() < c.extension_share:
            ask = max(1.0, total * 0.5)
            granted = r.random() < c.extension_granted_share
            decision = "approve_extension" if granted else "deny_extension"
            why = {} if granted else {"reason": "未说明延期理由，请按期办结"}
            verdict = f"12345热线 值班长 {'批准' if granted else '驳回'}延期"
            decide = Step(self._delay(c.decision_minutes), decision, why, verdict, after_previous=True)
            reason = {"reason": "涉及多部门协调，需要更多时间"}
            ask_at = ask - used if ask > used else 1.0
            steps += [Step(ask_at, "request_extension", reason, f"{handler} 申请延期"), decide]
            used = max(used, ask)
            if granted:
                total = max(total, allowance * r.uniform(1.0, 1.4))
        fields: dict[str, Any] = {"reply": reply}
        if photo is not None:
            fields["photos"] = [self._photo(photo)]
        steps.append(Step(max(5.0, total - used), "reply", fields, f"{handler} 办结答复"))
        return steps

    def _callback(self, dept: str, allowance: float, reply: str) -> list[Step]:
        """回访 with a score; a low score is sometimes sent back (返工), handled again, called again."""
        r, c = self.rng, self.cfg
        who = f"12345热线 回访员 {r.randint(2001, 2060)}号"
        score = r.choices((1, 2, 3, 4, 5), c.satisfaction_weights)[0]
        steps = [
            Step(self._delay(c.callback_minutes), "callback", {"satisfaction": score}, f"{who} 电话回访")
        ]
        if score <= 3 and r.random() < c.rework_share:
            steps.append(Step(self._delay(30.0), "rework", {"reason": "市民对办理结果不满意，要求重新办理"},
                              f"{who} 市民不满意，退回重办"))  # fmt: skip
            steps += self._handle(dept, allowance, reply, again=True)
            second = r.choices((3, 4, 5), (0.2, 0.3, 0.5))[0]
            steps.append(Step(self._delay(c.callback_minutes), "callback", {"satisfaction": second},
                              f"{who} 再次回访"))  # fmt: skip
        return steps

    def _delay(self, median: float) -> float:
        """A log-normal delay around ``median`` simulated minutes (never under a minute)."""
        return max(1.0, median * math.exp(self.rng.gauss(0, self.cfg.spread)))

    def _fraction(self, median: float) -> float:
        return median * math.exp(self.rng.gauss(0, self.cfg.spread))

    def _photo(self, ts_ms: int) -> str:
        day = datetime.fromtimestamp(ts_ms / 1000, BJT).strftime("%Y/%m/%d")
        return f"photo://grid/{day}/{self.rng.getrandbits(64):016x}.jpg"


# -- the HTTP side ------------------------------------------------------------------------------
_STATUS = re.compile(r"HTTP (\d{3})")


@dataclass
class Tracked:
    id: str
    version: int


class CivicSimulator:
    """Plays ``CivicWorld`` against the platform's case API; never crashes on an answer it dislikes:
    a 409 reloads the case and retries once if the action is still possible, other 4xx answers are
    logged and the step skipped."""

    name = "civic"

    def __init__(self, cfg: CivicSimConfig) -> None:
        self.cfg = cfg
        self.statuses: Counter[int] = Counter()  # HTTP answers seen (599: no answer)
        self.actions: Counter[str] = Counter()  # actions that went through
        self.refused_open = False

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        scene = load_settings(CivicSettings, ctx.scene_settings, "civic")
        run = f"{time.time_ns() // 1_000_000:x}"
        world = CivicWorld(self.cfg, list(scene.grid_limits), run)
        cases: dict[str, Tracked] = {}
        told = 0.0
        while not stop.is_set():
            for cmd in world.step(time.time_ns() // 1_000_000):
                outcome = await self._send(ctx, cmd, cases)
                world.settle(cmd.key, outcome, time.time_ns() // 1_000_000)
                if outcome == "drop":
                    cases.pop(cmd.key, None)
                elif isinstance(cmd, Act) and cmd.key not in world.lives:
                    cases.pop(cmd.key, None)  # its life is over
            if time.monotonic() - told > 300:
                told = time.monotonic()
                log.info("civic sim: following %d cases; answers %s", len(world.lives), dict(self.statuses))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.tick_s)

    async def _send(self, ctx: SimContext, cmd: Command, cases: dict[str, Tracked]) -> Outcome:
        if isinstance(cmd, Open):
            status, body = await _post(ctx, "/api/v1/cases", cmd.body)
            self.statuses[status] += 1
            if status < 300 and isinstance(body, dict):
                cases[cmd.key] = Tracked(str(body["id"]), int(body["version"]))
                self.actions["open"] += 1
                return "ok"
            if status in (401, 403) and not self.refused_open:
                self.refused_open = True  # said once: every arrival would say it again
                log.error("civic sim: the platform refuses to open cases (%d): it needs a token that may "
                          "operate on cases, such as the local admin token", status)  # fmt: skip
            elif status not in (401, 403):
                _refused(status, "open", cmd.key, body)
            return "drop"
        tracked = cases.get(cmd.key)
        if tracked is None:
            return "drop"
        for attempt in range(2):
            payload = {"version": tracked.version, "command_id": f"{cmd.command_id}.{attempt}"
                       if attempt else cmd.command_id, "fields": cmd.fields, "note": cmd.note}  # fmt: skip
            status, body = await _post(ctx, f"/api/v1/cases/{tracked.id}/actions/{cmd.action}", payload)
            self.statuses[status] += 1
            if status < 300 and isinstance(body, dict):
                tracked.version = int(body["version"])
                self.actions[cmd.action] += 1
                return "ok"
            if status == 404:
                return "drop"
            if status != 409 or attempt:
                _refused(status, cmd.action, tracked.id, body)
                return "skip"
            status, now = await _get(ctx, f"/api/v1/cases/{tracked.id}")
            if status >= 300 or not isinstance(now, dict):
                return "skip"
            tracked.version = int(now["version"])
            if cmd.action not in [a.get("name") for a in now.get("actions", [])]:
                log.debug(
                    "civic sim: %s no longer possible on %s (%s)", cmd.action, tracked.id, now.get("state")
                )
                return "skip"
        return "skip"


def _refused(status: int, action: str, what: str, body: Any) -> None:
    level = logging.DEBUG if status == 409 else logging.WARNING
    log.log(level, "civic sim: %s on %s answered %d: %s", action, what, status, str(body)[:200])


async def _post(ctx: SimContext, path: str, payload: Any) -> tuple[int, Any]:
    """(status, JSON body) of a POST; the ingest client raises on 4xx, so its message is parsed."""
    try:
        r = await ctx.http.post(path, payload)
    except RuntimeError as err:
        found = _STATUS.search(str(err))
        return (int(found.group(1)) if found else 599), str(err)
    except httpx.HTTPError as err:
        return 599, str(err)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


async def _get(ctx: SimContext, path: str) -> tuple[int, Any]:
    try:
        r = await ctx.http._client.get(path)
        return r.status_code, r.json()
    except (httpx.HTTPError, ValueError) as err:
        return 599, str(err)


def simulator(settings: Mapping[str, Any]) -> CivicSimulator:
    return CivicSimulator(msgspec.convert(dict(settings), CivicSimConfig))
