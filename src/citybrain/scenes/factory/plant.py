"""The plant model: site -> workshop -> line -> machine, each machine's tags and their roles, the
shift calendar and planned stops. Loaded from a TOML or JSON file; edits made through the API are
saved to an overlay file (whole sites, by id) that wins over the shipped file on the next start.

The parts of a scene runtime share one :class:`PlantBook` (``FactorySettings.book``), so an edit
applies at once. Editing swaps whole immutable snapshots: readers on the pipeline thread never see
a half-applied change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from citybrain import data
from citybrain.sdk import ConfigError, NotFoundError, read_document

Role = Literal["cycle", "good", "reject", "state", "process"]
Category = Literal["running", "stopped", "planned"]


class TagSpec(msgspec.Struct, forbid_unknown_fields=True):
    role: Role
    unit: str = ""
    label: str = ""
    lo: float | None = None  # process values: the allowed range (alert outside it)
    hi: float | None = None
    counter_max: float = 4_294_967_295.0  # counters wrap from this back to 0 (a PLC's UDINT)
    anomaly: bool = True  # process values: EWMA anomaly detection
    expect_every_s: float = 0.0  # > 0: alert when the tag is silent longer than this


class MachineSpec(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str = ""
    station: str = ""
    ideal_cycle_s: float = 1.0  # PRI of ISO 22400-2: planned run time per item
    source: str = ""  # JSON entity "<site>/<machine>" by default; Sparkplug "spb:group/node/device"
    tags: dict[str, TagSpec] = msgspec.field(default_factory=dict)
    states: dict[str, Category] = msgspec.field(default_factory=dict)  # raw state value -> category
    output: bool = False  # this machine's good count is the line's output


class LineSpec(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str = ""
    plan_per_hour: float = 0.0  # planned good units per hour (output target)
    machines: list[MachineSpec] = msgspec.field(default_factory=list)


class WorkshopSpec(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str = ""
    lines: list[LineSpec] = msgspec.field(default_factory=list)


class ShiftSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    start: str  # local "HH:MM"
    end: str  # local "HH:MM"; before start means the shift ends the next day


class PlannedStop(msgspec.Struct, forbid_unknown_fields=True):
    start: str  # local "HH:MM", every day
    end: str
    reason: str = "planned"
    lines: list[str] = msgspec.field(default_factory=list)  # empty: every line of the site


class Thresholds(msgspec.Struct, forbid_unknown_fields=True):
    minor_stop_s: float = 300.0  # a stop shorter than this is a minor stop (performance loss)
    max_gap_s: float = 60.0  # periodic sources: beyond this without data the time is "no data"
    down_alert_min: float = 10.0  # alert: machine stopped longer than this
    quality_min: float = 0.9  # alert: first-pass yield of the shift below this...
    quality_min_count: int = 50  # ...once at least this many pieces were made
    silent_s: float = 120.0  # alert: no data from a machine for this long
    anomaly_z: float = 4.0  # EWMA z-score beyond which a process value is anomalous
    anomaly_alpha: float = 0.3  # EWMA weight of a new value (smooths noise before judging)
    anomaly_warmup: int = 30  # values before the detector judges
    # a counter rising faster than this many times the ideal rate (1 / ideal_cycle_s) did not
    # count pieces: it jumped (a restart, a replaced PLC) and starts a new baseline; 0: no limit
    max_rate_factor: float = 2.0


class SiteSpec(msgspec.Struct, forbid_unknown_fields=True, dict=True):  # dict: shifts.py's day cache
    id: str
    name: str = ""
    name_en: str = ""
    industry: str = ""
    district: str = ""
    utc_offset_h: float = 8.0
    workshops: list[WorkshopSpec] = msgspec.field(default_factory=list)
    shifts: list[ShiftSpec] = msgspec.field(default_factory=list)
    planned_stops: list[PlannedStop] = msgspec.field(default_factory=list)
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)


class PlantsFile(msgspec.Struct, forbid_unknown_fields=True):
    sites: list[SiteSpec] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class MachineRef:
    """A machine with where it hangs: its key is ``<site>/<machine>``."""

    key: str
    site: SiteSpec
    workshop: WorkshopSpec
    line: LineSpec
    machine: MachineSpec


def _hhmm(text: str, where: str) -> int:
    try:
        h, m = text.split(":")
        minutes = int(h) * 60 + int(m)
    except ValueError as err:
        raise ConfigError(f"{where}: time {text!r} is not HH:MM") from err
    if not 0 <= minutes <= 24 * 60:
        raise ConfigError(f"{where}: time {text!r} is out of range")
    return minutes


def validate(site: SiteSpec) -> None:
    """Everything a processor relies on, checked once; raises ConfigError naming what is wrong."""
    where = f"site {site.id!r}"
    for s in site.shifts:
        _hhmm(s.start, f"{where} shift {s.name!r}")
        _hhmm(s.end, f"{where} shift {s.name!r}")
    for p in site.planned_stops:
        _hhmm(p.start, f"{where} planned stop")
        _hhmm(p.end, f"{where} planned stop")
    seen: set[str] = set()
    for ws in site.workshops:
        for line in ws.lines:
            for m in line.machines:
                if m.id in seen:
                    raise ConfigError(f"{where}: machine id {m.id!r} is used twice")
                seen.add(m.id)
                if m.ideal_cycle_s <= 0:
                    raise ConfigError(f"{where} machine {m.id!r}: ideal_cycle_s must be positive")


def machine_key(site: str, machine: str) -> str:
    return f"{site}/{machine}"


class _Snapshot:
    def __init__(self, sites: list[SiteSpec]) -> None:
        self.sites = {s.id: s for s in sites}
        self.machines: dict[str, MachineRef] = {}
        self.by_source: dict[str, str] = {}
        for s in sites:
            for ws in s.workshops:
                for line in ws.lines:
                    for m in line.machines:
                        key = machine_key(s.id, m.id)
                        self.machines[key] = MachineRef(key, s, ws, line, m)
                        self.by_source[m.source or key] = key


class PlantBook:
    """The plants of one config file (plus saved edits)."""

    def __init__(self, sites: list[SiteSpec], edits_file: Path | None = None) -> None:
        for s in sites:
            validate(s)
        self._snap = _Snapshot(sites)
        self._lock = threading.Lock()
        self.edits_file = edits_file
        self.version = 0

    # -- reading ------------------------------------------------------------------------------
    def sites(self) -> list[SiteSpec]:
        return list(self._snap.sites.values())

    def site(self, site_id: str) -> SiteSpec:
        s = self._snap.sites.get(site_id)
        if s is None:
            raise NotFoundError(f"plant {site_id!r} is not in the plant model")
        return s

    def machine(self, key: str) -> MachineRef | None:
        return self._snap.machines.get(key)

    def machines(self) -> list[MachineRef]:
        return list(self._snap.machines.values())

    def by_source(self, source: str) -> str | None:
        """The machine key fed by an MQTT source (JSON entity or ``spb:group/node/device``)."""
        return self._snap.by_source.get(source)

    def line_machines(self, site_id: str, line_id: str) -> list[MachineRef]:
        return [r for r in self._snap.machines.values() if r.site.id == site_id and r.line.id == line_id]

    # -- editing ------------------------------------------------------------------------------
    def put_site(self, site: SiteSpec) -> None:
        validate(site)
        with self._lock:
            sites = {**self._snap.sites, site.id: site}
            self._snap = _Snapshot(list(sites.values()))
            self.version += 1
            self._save_edit(site.id, site)

    def delete_site(self, site_id: str) -> None:
        with self._lock:
            if site_id not in self._snap.sites:
                raise NotFoundError(f"plant {site_id!r} is not in the plant model")
            self._snap = _Snapshot([s for k, s in self._snap.sites.items() if k != site_id])
            self.version += 1
            self._save_edit(site_id, None)

    def _save_edit(self, site_id: str, site: SiteSpec | None) -> None:
        if self.edits_file is None:
            return
        edits = _read_edits(self.edits_file)
        edits[site_id] = msgspec.to_builtins(site) if site is not None else None
        self.edits_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.edits_file.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(edits))
        tmp.replace(self.edits_file)  # atomic: a crash leaves the old or the new file, never half

    def attach_edits(self, path: Path) -> None:
        """Apply the edits saved in ``path`` (site -> spec, or null for deleted) and save there from now."""
        with self._lock:
            self.edits_file = path
            sites = dict(self._snap.sites)
            for site_id, raw in _read_edits(path).items():
                if raw is None:
                    sites.pop(site_id, None)
                else:
                    spec = _convert(raw, SiteSpec, str(path))
                    validate(spec)
                    sites[site_id] = spec
            self._snap = _Snapshot(list(sites.values()))
            self.version += 1


def _read_edits(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = msgspec.json.decode(path.read_bytes(), type=dict[str, Any])
    except msgspec.DecodeError as err:
        raise ConfigError(f"plant edits file {path}: {err}") from err
    return data


def _convert(raw: Any, typ: type[Any], where: str) -> Any:
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as err:
        raise ConfigError(f"plant model {where}: {err}") from err


DEFAULT_FILE = str(data.path("plants/demo.toml"))


def load_file(path: str | Path) -> list[SiteSpec]:
    return read_document(path, "plant model", PlantsFile).sites
