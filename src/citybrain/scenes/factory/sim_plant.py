"""The simulated shop floor: stations that run, stop and reject, with process values and one
drifting humidity sensor. Deterministic for a seed and a sequence of ``step`` times; it knows
nothing of MQTT (``sim.py`` publishes what it produces)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from citybrain.scenes.factory.plant import MachineRef, PlantBook
from citybrain.scenes.factory.shifts import segments


@dataclass
class Pv:
    base: float
    noise: float
    drift_per_s: float = 0.0  # while drifting
    drift_every_s: int = 0  # a drift episode starts every this many seconds of wall time...
    drift_len_s: int = 0  # ...and lasts this long, then the sensor is recalibrated

    def value(self, rng: random.Random, now_ms: int) -> float:
        x = self.base + rng.gauss(0.0, self.noise)
        if self.drift_every_s:
            phase = (now_ms // 1000) % self.drift_every_s
            if phase < self.drift_len_s:
                x += self.drift_per_s * phase
        return x


@dataclass
class StationModel:
    rate_per_s: float  # pieces per second at full speed
    reject_p: float
    reasons: tuple[str, ...]
    pvs: dict[str, Pv] = field(default_factory=dict)
    stop_every_s: float = 1_200.0  # mean time between unplanned stops
    stop_mean_s: float = 90.0  # mean stop length (exponential: most are minor, some long)
    speed: float = 0.9  # fraction of the ideal rate while running (speed loss)


@dataclass
class Station:
    ref: MachineRef
    model: StationModel
    counters: dict[str, float]
    state: str = "running"
    stop_until: int = 0
    acc: float = 0.0
    last_ms: int = 0

    def step(self, rng: random.Random, now_ms: int) -> tuple[int, dict[str, int]]:
        """Advance to ``now_ms``; the pieces made and rejects by reason since the last step."""
        dt = (now_ms - self.last_ms) / 1000 if self.last_ms else 0.0
        self.last_ms = now_ms
        m = self.model
        planned = any(s.planned for s in segments(self.ref.site, self.ref.line.id, now_ms, now_ms + 1))
        if planned:
            self.state = "break"
            return 0, {}
        if self.state == "break":
            self.state = "running"
        if self.state != "running":
            if now_ms >= self.stop_until:
                self.state = "running"
            else:
                return 0, {}
        if dt > 0 and rng.random() < dt / m.stop_every_s:
            self.state = rng.choice(("fault", "idle", "starved", "fault"))
            self.stop_until = now_ms + int(rng.expovariate(1 / m.stop_mean_s) * 1000)
            return 0, {}
        self.acc += m.rate_per_s * m.speed * dt * rng.uniform(0.9, 1.1)
        n = int(self.acc)
        self.acc -= n
        rejects: dict[str, int] = {}
        for _ in range(n):
            if rng.random() < m.reject_p:
                reason = rng.choice(m.reasons)
                rejects[reason] = rejects.get(reason, 0) + 1
        return n, rejects


def _wrap(value: float, spec_max: float) -> float:
    return math.fmod(value, spec_max + 1)


# Models of the demo stations (by machine key); unknown machines get a generic one.
KNIT = dict(rate_per_s=1.25, reject_p=0.01, reasons=("污渍 stain",))
MODELS: dict[str, StationModel] = {
    "knit-01/hanging": StationModel(**KNIT, pvs={"speed": Pv(25, 0.8)}),  # type: ignore[arg-type]
    "knit-01/ironing": StationModel(
        rate_per_s=1.25,
        reject_p=0.02,
        reasons=("烫焦 scorch", "褶皱 crease"),
        pvs={"temp_dc": Pv(1680, 15), "steam_bar": Pv(4.5, 0.1)},
    ),
    "knit-01/needle": StationModel(
        rate_per_s=1.25, reject_p=0.004, reasons=("断针 broken needle",), pvs={"sensitivity": Pv(1.0, 0.0)}
    ),
    "knit-01/sorting": StationModel(rate_per_s=1.25, reject_p=0.03, reasons=("二等品 second grade",)),
    "knit-01/palletizing": StationModel(rate_per_s=1.25, reject_p=0.001, reasons=("包装破损 damaged pack",)),
    "yarn-01/spin-01": StationModel(
        rate_per_s=1 / 6,
        reject_p=0.02,
        reasons=("断头 end break", "粗细节 slub"),
        pvs={
            "Process/Humidity": Pv(63, 0.3),
            "Process/Temperature": Pv(26, 0.2),
            "Process/SpindleSpeed": Pv(16500, 40),
        },
        stop_every_s=3_600,
        stop_mean_s=240,
    ),
    "yarn-01/spin-02": StationModel(
        rate_per_s=1 / 6,
        reject_p=0.02,
        reasons=("断头 end break", "粗细节 slub"),
        # the drifting humidity sensor: +0.004 %RH/s for 30 min of every 2 h, then recalibrated
        pvs={
            "Process/Humidity": Pv(63, 0.3, drift_per_s=0.004, drift_every_s=7_200, drift_len_s=1_800),
            "Process/Temperature": Pv(26, 0.2),
            "Process/SpindleSpeed": Pv(16500, 40),
        },
        stop_every_s=3_600,
        stop_mean_s=240,
    ),
    "yarn-01/wind-01": StationModel(
        rate_per_s=1 / 3, reject_p=0.01, reasons=("毛羽 hairiness",), pvs={"Process/Tension": Pv(14, 0.5)}
    ),
    "parts-01/cnc-01": StationModel(
        rate_per_s=1 / 30,
        reject_p=0.02,
        reasons=("尺寸超差 out of tolerance",),
        pvs={"spindle_load": Pv(62, 4)},
        stop_every_s=2_400,
    ),
    "parts-01/cmm-01": StationModel(rate_per_s=1 / 32, reject_p=0.01, reasons=("孔位偏差 hole position",)),
}


def build_stations(book: PlantBook, sites: list[str], rng: random.Random) -> list[Station]:
    out = []
    for ref in book.machines():
        if ref.site.id not in sites:
            continue
        model = MODELS.get(ref.key) or StationModel(
            rate_per_s=1 / ref.machine.ideal_cycle_s, reject_p=0.01, reasons=("other",)
        )
        counters = {}
        for tag, spec in ref.machine.tags.items():
            if spec.role in ("cycle", "good", "reject"):
                # start near the top of a 16-bit counter so the demo shows a rollover early
                counters[tag] = 65_000.0 if spec.counter_max == 65_535 else float(rng.randrange(0, 100_000))
        out.append(Station(ref, model, counters))
    return out


def apply_counts(st: Station, made: int, rejects: dict[str, int]) -> None:
    """Advance the station's cumulative counters (wrapping at each tag's counter_max)."""
    n_rej = sum(rejects.values())
    for tag, spec in st.ref.machine.tags.items():
        if spec.role == "cycle":
            st.counters[tag] = _wrap(st.counters[tag] + made, spec.counter_max)
        elif spec.role == "good":
            st.counters[tag] = _wrap(st.counters[tag] + made - n_rej, spec.counter_max)
        elif spec.role == "reject":
            st.counters[tag] = _wrap(st.counters[tag] + n_rej, spec.counter_max)
