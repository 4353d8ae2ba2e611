"""Fleet state per VIN, vehicle alarms as platform alerts, and history metrics.

Live vs reissue: a reissue (0x03) report is data the vehicle buffered while offline. It goes into
history (metrics at its own time) and proves the link is up, but it never overwrites the live
signals and never raises or clears a live alert. A live report older than the state's latest one
(reordered in transit) is treated the same way.

Online/offline uses the platform's receive time (``ingest_ts``), not the vehicle's clock: a
vehicle with a drifting clock is still online when its frames keep arriving.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.scenes.nev.events import NevLogin, NevLogout, NevReport
from citybrain.scenes.nev.history import POSITION, SIGNALS
from citybrain.scenes.nev.rules import VEHICLE_ALARM
from citybrain.scenes.nev.settings import NevSettings
from citybrain.scenes.nev.warnings import EarlyWarnings
from citybrain.scenes.nev.words import LEVEL_WORDS, alarm_text, alarm_words
from citybrain.sdk import Severity

LEVEL_SEVERITY: dict[int, Severity] = {1: "warning", 2: "major", 3: "critical"}

# fields a report may carry, copied into the state when present (see _apply)
_LIVE_FIELDS = (
    "vehicle_state", "charging_state", "running_mode", "speed_kmh", "odometer_km", "total_voltage_v",
    "total_current_a", "soc_pct", "gear", "insulation_kohm", "max_cell_v", "min_cell_v", "max_temp_c",
    "min_temp_c", "max_motor_temp_c",
)  # fmt: skip


class Vehicle(msgspec.Struct, array_like=True):
    """The state of one VIN. array_like keeps the checkpoint small (tens of thousands of VINs)."""

    vin: str
    edition: str = ""
    model: str = ""
    region: str = ""
    online: bool = False
    last_seen: int = 0  # platform receive time of the last frame, epoch ms
    ts: int = 0  # vehicle time of the latest live report
    login_ts: int | None = None
    logout_ts: int | None = None
    mode: str = "unknown"  # driving | charging | parked | unknown
    vehicle_state: int | None = None
    charging_state: int | None = None
    running_mode: int | None = None
    speed_kmh: float | None = None
    odometer_km: float | None = None
    total_voltage_v: float | None = None
    total_current_a: float | None = None
    soc_pct: float | None = None
    gear: str | None = None
    insulation_kohm: float | None = None
    max_cell_v: float | None = None
    min_cell_v: float | None = None
    max_temp_c: float | None = None
    min_temp_c: float | None = None
    max_motor_temp_c: float | None = None
    lon: float | None = None
    lat: float | None = None
    fix_valid: bool | None = None
    position_ts: int | None = None
    alarm_level: int = 0
    alarm_flags: int = 0
    alarms: list[str] = msgspec.field(default_factory=list)
    faults: int = 0  # fault codes reported (all four lists)
    alarm_since: int | None = None
    reports: int = 0
    reissues: int = 0
    history_ts: int = 0  # time of the last history point (history_min_interval_ms)


class FleetState(msgspec.Struct):
    vehicles: dict[str, Vehicle] = msgspec.field(default_factory=dict)


def mode_of(v: Vehicle) -> str:
    """Charging when parked-charging; driving when started (incl. charging while driving); else parked."""
    if v.charging_state == 1:
        return "charging"
    if v.vehicle_state == 1 or v.charging_state == 2:
        return "driving"
    if v.vehicle_state in (2, 3) or v.charging_state in (3, 4):
        return "parked"
    return "unknown"


def public(v: Vehicle, cfg: NevSettings) -> dict[str, Any]:
    """What the API and the live feed show of a vehicle."""
    d: dict[str, Any] = msgspec.structs.asdict(v)
    d.pop("history_ts")
    d["model_name"] = cfg.model_name(v.model)
    d["region_name"] = cfg.region_name(v.region)
    d["alarm_words"] = alarm_words(v.alarms)
    d["alarm_level_words"] = LEVEL_WORDS.get(v.alarm_level, LEVEL_WORDS[0])
    info = cfg.vehicles.get(v.vin)
    d["plate"] = info.plate if info is not None else ""  # personal: masked for some roles
    return d


FleetEvent = NevLogin | NevLogout | NevReport


class FleetProcessor(sdk.Processor[FleetState, FleetEvent]):
    name = "nev.fleet"
    kinds = (NevLogin, NevLogout, NevReport)
    state_type = FleetState
    config: NevSettings

    def __init__(self, partition: int, settings: NevSettings) -> None:
        super().__init__(partition, settings)

    def _vehicle(self, vin: str) -> Vehicle:
        v = self.state.vehicles.get(vin)
        if v is None:
            v = self.state.vehicles[vin] = Vehicle(vin=vin, model=self.config.model_of(vin))
            v.region = self.config.region_of(vin, None, None)
        return v

    def process(self, batch: Sequence[tuple[int, FleetEvent]], out: sdk.Emitter) -> None:
        changed: dict[str, Vehicle] = {}
        for _, ev in batch:
            v = self._vehicle(ev.key)
            seen = ev.ingest_ts or ev.ts
            v.last_seen = max(v.last_seen, seen)
            v.online = True
            if isinstance(ev, NevReport):
                self._report(v, ev, out)
            elif isinstance(ev, NevLogin):
                v.edition, v.login_ts = ev.edition, ev.ts
            elif ev.ts >= v.ts:  # NevLogout
                v.online, v.logout_ts = False, ev.ts
            changed[v.vin] = v
        for v in changed.values():
            out.state("nev", v.vin, v.ts or v.last_seen, public(v, self.config))

    def _report(self, v: Vehicle, ev: NevReport, out: sdk.Emitter) -> None:
        live = not ev.reissue and ev.ts >= v.ts
        self._history(v, ev, out, live)
        if not live:
            v.reissues += ev.reissue
            return
        v.reports += 1
        v.edition, v.ts = ev.edition, ev.ts
        for name in _LIVE_FIELDS:
            # an absent block keeps the last value; a value sent as abnormal/invalid clears it
            value = getattr(ev, name)
            if value is not None or name in ev.invalid:
                setattr(v, name, value)
        if ev.lon is not None and ev.lat is not None:
            v.lon, v.lat, v.fix_valid, v.position_ts = ev.lon, ev.lat, ev.fix_valid, ev.ts
            v.region = self.config.region_of(v.vin, ev.lon, ev.lat)
        v.mode = mode_of(v)
        if ev.alarm_level is not None or "alarm.alarm_level" in ev.invalid:
            self._alarm(v, ev, out)

    def _history(self, v: Vehicle, ev: NevReport, out: sdk.Emitter, live: bool) -> None:
        if live:
            if ev.ts - v.history_ts < self.config.history_min_interval_ms:
                return
            v.history_ts = ev.ts
        for sig in SIGNALS:
            value = getattr(ev, sig.field)
            if value is None or (sig.name in POSITION and ev.fix_valid is False):
                continue
            out.metric(sig.metric, v.vin, ev.ts, float(value))

    def _alarm(self, v: Vehicle, ev: NevReport, out: sdk.Emitter) -> None:
        level = ev.alarm_level or 0  # an invalid level with flags set still counts the flags
        if level == 0 and ev.alarm_flags:
            level = 1
        if level and not v.alarm_level:
            v.alarm_since = ev.ts
        elif not level:
            v.alarm_since = None
        v.alarm_level, v.alarm_flags, v.alarms = level, ev.alarm_flags, ev.alarms
        faults = {"ress": ev.ress_faults, "motor": ev.motor_faults, "engine": ev.engine_faults,
                  "other": ev.other_faults}  # fmt: skip
        v.faults = sum(len(f) for f in faults.values())
        words = LEVEL_WORDS.get(level, LEVEL_WORDS[3])
        out.signal(
            VEHICLE_ALARM, v.vin, ev.ts, level > 0,
            severity=LEVEL_SEVERITY.get(level, "critical"),
            message=f"{v.vin} {words['zh-CN']}: {alarm_text(ev.alarms)} ({words['en']})",
            data={"vin": v.vin, "level": level, "flags": ev.alarm_flags, "alarms": ev.alarms,
                  "words": alarm_words(ev.alarms), "faults": faults, "model": v.model, "lon": v.lon,
                  "lat": v.lat},
        )  # fmt: skip

    def tick(self, now_ms: int, out: sdk.Emitter) -> None:
        limit = self.config.offline_after_ms
        for v in self.state.vehicles.values():
            if v.online and now_ms - v.last_seen > limit:
                v.online = False
                out.state("nev", v.vin, v.ts or v.last_seen, public(v, self.config))


PROCESSORS = (FleetProcessor, EarlyWarnings)  # the early warnings live in warnings.py
