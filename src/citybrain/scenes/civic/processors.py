"""Civic processors: camera detections become alerts (dispatched as grid cases by their rule), and
case deadlines are watched from the case engine's ``cases.changed`` events.

``civic.deadlines`` keeps, per open civic case, its deadlines as the last change left them; once a
``watch_every_s`` it signals ``civic.case_due_soon`` when a case has used
``warn_at`` of an allowance (its type's escalation setting; 80 %) and ``civic.case_overdue`` once a
deadline has passed, for the whole case and for its current step (签收). A case that closes, or
moves on to a step with time left, resolves its alerts.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citybrain import sdk
from citybrain.scenes.civic.casetypes import case_types
from citybrain.scenes.civic.events import CameraDetection
from citybrain.scenes.civic.rules import CAMERA, DUE_SOON, OVERDUE
from citybrain.scenes.civic.settings import CivicSettings

CLOSED_KEPT_MS = 2 * 86_400_000  # how long a closed case is remembered against late changes


class CameraState(msgspec.Struct):
    seen: dict[str, int] = msgspec.field(default_factory=dict)  # "<camera>:<小类>" -> last detection (ms)


class CameraAlerts(sdk.Processor[CameraState, CameraDetection]):
    name = "civic.camera"
    kinds = (CameraDetection,)
    state_type = CameraState
    config: CivicSettings

    def __init__(self, partition: int, settings: CivicSettings) -> None:
        super().__init__(partition, settings)

    def process(self, batch: Sequence[tuple[int, CameraDetection]], out: sdk.Emitter) -> None:
        for _, ev in batch:
            if ev.confidence < self.config.camera_min_confidence:
                continue
            key = f"{ev.key}:{ev.category}"
            self.state.seen[key] = max(self.state.seen.get(key, 0), ev.ts)
            out.signal(
                CAMERA, key, ev.ts, True,
                message=f"摄像头 {ev.key} 发现{ev.category} · camera {ev.key} saw {ev.category}",
                data={"camera": ev.key, "category": ev.category, "area": ev.area, "lon": ev.lon,
                      "lat": ev.lat, "photos": [ev.image] if ev.image else [], "confidence": ev.confidence},
            )  # fmt: skip

    def tick(self, now_ms: int, out: sdk.Emitter) -> None:
        quiet = int(self.config.camera_quiet_s * 1000)
        for key, last in list(self.state.seen.items()):
            if now_ms - last >= quiet:
                out.signal(CAMERA, key, now_ms, False, message="不再发现 · no longer seen")
                if f"{CAMERA.name}:{key}" not in out.book.tracks:  # resolved (or never opened)
                    del self.state.seen[key]


class Watch(msgspec.Struct, array_like=True):
    """An open case's deadlines as its last change left them."""

    type: str
    version: int = 0
    title: str = ""
    department: str = ""
    area: str = ""
    opened_ts: int = 0  # when its allowance started: the opening, or the last rework
    due_ts: int | None = None
    entered_ts: int = 0  # when it entered its current step
    step_due_ts: int | None = None


class DeadlineState(msgspec.Struct):
    cases: dict[str, Watch] = msgspec.field(default_factory=dict)
    # cases closed lately: version and when, so a change published late (events of one case may
    # arrive out of order: two API nodes, a republish) does not bring a closed case back
    closed: dict[str, tuple[int, int]] = msgspec.field(default_factory=dict)
    last_watch: int = 0


class CaseDeadlines(sdk.Processor[DeadlineState, sdk.CaseChanged]):
    name = "civic.deadlines"
    kinds = (sdk.CaseChanged,)
    state_type = DeadlineState
    config: CivicSettings

    def __init__(self, partition: int, settings: CivicSettings) -> None:
        super().__init__(partition, settings)
        types = case_types(settings)
        self.warn_at = {ct.name: ct.escalation.warn_at for ct in types}
        # actions after which a case's allowance starts over (返工): measured from then on
        self.restarts = {(ct.name, a.name) for ct in types for a in ct.actions if a.restarts}

    def process(self, batch: Sequence[tuple[int, sdk.CaseChanged]], out: sdk.Emitter) -> None:
        for _, ev in batch:
            if ev.type not in self.warn_at:
                continue
            seen = self.state.cases.get(ev.key)
            known = max(self.state.closed.get(ev.key, (0, 0))[0], seen.version if seen else 0)
            if ev.version <= known:
                continue  # older than what is known of the case
            if ev.final:
                self.state.cases.pop(ev.key, None)
                self.state.closed[ev.key] = (ev.version, ev.ts)
                self._judge(ev.key, None, ev.ts, out)
                continue
            self.state.closed.pop(ev.key, None)  # reopened (返工)
            w = seen or Watch(ev.type, opened_ts=ev.opened_ts)
            w.version = ev.version
            if (ev.type, ev.action) in self.restarts:
                w.opened_ts = ev.ts
            if ev.from_state != ev.to_state:
                w.entered_ts = ev.ts
            w.title = str(ev.fields.get("title") or w.title)
            w.department, w.area, w.due_ts, w.step_due_ts = ev.department, ev.area, ev.due_ts, ev.step_due_ts
            self.state.cases[ev.key] = w

    def tick(self, now_ms: int, out: sdk.Emitter) -> None:
        if now_ms - self.state.last_watch < self.config.watch_every_s * 1000:
            return
        self.state.last_watch = now_ms
        for case_id, (_, ts) in list(self.state.closed.items()):
            if now_ms - ts > CLOSED_KEPT_MS:
                del self.state.closed[case_id]
        for case_id, w in self.state.cases.items():
            self._judge(case_id, w, now_ms, out)

    def _judge(self, case_id: str, w: Watch | None, now: int, out: sdk.Emitter) -> None:
        """Signal both rules for one case (``w`` None: it closed)."""
        late: list[tuple[int, int]] = []  # (how late, allowance) of each passed deadline
        soon = False
        if w is not None:
            warn_at = self.warn_at.get(w.type, 0.8)
            for start, due in ((w.opened_ts, w.due_ts), (w.entered_ts, w.step_due_ts)):
                if due is None:
                    continue
                if now > due:
                    late.append((now - due, max(1, due - start)))
                elif now - start >= warn_at * (due - start):
                    soon = True
        data = {} if w is None else {"case": case_id, "department": w.department, "area": w.area,
                                     "due_ts": w.due_ts, "step_due_ts": w.step_due_ts}  # fmt: skip
        worst = max((d / a for d, a in late), default=0.0)
        out.signal(
            OVERDUE, case_id, now, bool(late), severity="critical" if worst >= 1 else "major",
            message=f"工单 {case_id} 已超期 · case {case_id} is overdue ({w.department if w else ''})",
            data=data,
        )  # fmt: skip
        out.signal(
            DUE_SOON, case_id, now, soon and not late,
            message=f"工单 {case_id} 即将超期 · case {case_id} is due soon", data=data,
        )  # fmt: skip
