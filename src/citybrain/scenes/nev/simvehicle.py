"""One virtual new-energy vehicle: a seeded model of driving, parking, charging and the odd fault,
written out as real GB/T 32960 frames of its edition. No sockets here (see sim.py): for the same
seed, index and sequence of times it produces the same bytes, which the tests rely on.

Models: sedans and SUVs (2016 and 2025 editions), a city bus on the 2016 edition whose 240-cell
pack is split over two frames as Annex B requires, and a delivery van on the 2025 edition.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from citybrain.protocols import gb32960 as gb


@dataclass(frozen=True)
class Model:
    prefix: str  # VIN prefix; the scene's default model table names these
    cells: int
    probes: int
    capacity_kwh: float
    kwh_per_km: float
    cruise_kmh: float
    nominal_cell_v: float


MODELS = (
    Model("LCBEV1", 96, 16, 60.0, 0.14, 45.0, 3.65),
    Model("LCBEV2", 108, 24, 80.0, 0.18, 50.0, 3.65),
    Model("LCBBS3", 240, 48, 280.0, 1.10, 30.0, 3.25),
    Model("LCBLG4", 120, 24, 100.0, 0.25, 40.0, 3.25),
)
# Where the fleet lives and turns back at (lon_min, lat_min, lon_max, lat_max). The default is the
# bounding box of the demo road network (citybrain/data/networks/stockholm.geojson, the traffic scene's
# default), so the NEV fleet drives on the same map as the live congestion; see docs/scenes/nev.md.
Area = tuple[float, float, float, float]
DEMO_AREA: Area = (18.0296, 59.3348, 18.0732, 59.3525)

# general alarm bits a fault episode may set (Table 18), with the level they usually carry
FAULTS = ((1, "battery_high_temperature"), (4, "soc_low"), (10, "cell_poor_consistency"), (11, "insulation"),
          (0, "temperature_difference"), (13, "brake_system"), (17, "motor_temperature"))  # fmt: skip


def bjt(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms // 1000, gb.BJT)


class VirtualVehicle:
    def __init__(
        self,
        seed: int,
        index: int,
        edition: gb.Edition | None = None,
        model: Model | None = None,
        area: Area = DEMO_AREA,
    ) -> None:
        if not (area[0] < area[2] and area[1] < area[3]):
            raise ValueError(f"area must be (lon_min, lat_min, lon_max, lat_max), got {area}")
        self.area = area
        # km per degree of longitude at the area's latitude (111.32 km at the equator)
        self.km_per_deg_lon = 111.32 * math.cos(math.radians((area[1] + area[3]) / 2))
        self.rng = random.Random(f"citybrain-nev:{seed}:{index}")
        rng = self.rng
        self.model = model or MODELS[index % len(MODELS)]
        if edition is None:
            # the bus runs the 2016 edition, the van 2025; cars alternate in groups of four
            fixed = {"LCBBS3": "2016", "LCBLG4": "2025"}
            edition = (
                "2016" if fixed.get(self.model.prefix, ("2016", "2025")[index // 4 % 2]) == "2016" else "2025"
            )
        self.edition: gb.Edition = edition
        self.vin = f"{self.model.prefix}{'AB'[edition == '2025']}{seed % 100:02d}{index:08d}"[:17]
        self.iccid = f"8986{seed % 1000:03d}{index:013d}"[:20]
        self.lon = area[0] + (area[2] - area[0]) * rng.uniform(0.05, 0.95)
        self.lat = area[1] + (area[3] - area[1]) * rng.uniform(0.05, 0.95)
        self.heading = rng.uniform(0, 2 * math.pi)
        self.speed = 0.0
        self.soc = rng.uniform(35, 95)
        self.odometer = round(rng.uniform(1_000, 120_000), 1)
        self.mode = "parked"
        self.mode_left_s = rng.uniform(0, 600)
        self.ambient = 24.0 + rng.uniform(-3, 3)
        self.pack_temp = self.ambient
        self.serial = 0
        self.weak_cell = False  # a self-discharging cell: cell voltage spread warning
        self.hot_probe = 0.0  # extra heat on one probe: temperature spread / rise warnings
        self.fault_bits: list[int] = []
        self.fault_level = 0
        self.fault_left_s = 0.0
        self.last_ts = 0

    # -- the physics of one step ------------------------------------------------------------------
    def step(self, ts_ms: int) -> None:
        dt = 10.0 if not self.last_ts else max(0.0, (ts_ms - self.last_ts) / 1000)
        self.last_ts = ts_ms
        rng, m = self.rng, self.model
        self.mode_left_s -= dt
        if self.mode == "driving" and self.soc < 25:
            self._switch("charging", rng.uniform(1800, 3600))
        elif self.mode_left_s <= 0:
            if self.mode == "driving":
                self._switch("charging" if self.soc < 40 else "parked", rng.uniform(300, 2400))
            elif self.mode == "charging" and self.soc < 90:
                self.mode_left_s = 300
            else:
                self._switch("driving", rng.uniform(600, 2400))
        if self.mode == "driving":
            target = max(0.0, rng.gauss(m.cruise_kmh, 15))
            self.speed = max(0.0, min(120.0, self.speed + (target - self.speed) * 0.5))
            km = self.speed * dt / 3600
            self.heading += rng.gauss(0, 0.25)
            self.lon += km * math.sin(self.heading) / self.km_per_deg_lon
            self.lat += km * math.cos(self.heading) / 111.0
            box = self.area
            if not (box[0] < self.lon < box[2] and box[1] < self.lat < box[3]):
                self.heading += math.pi
                self.lon = min(max(self.lon, box[0]), box[2])
                self.lat = min(max(self.lat, box[1]), box[3])
            self.odometer += km
            self.soc = max(0.0, self.soc - 100 * km * m.kwh_per_km / m.capacity_kwh)
            heat = 6 + self.speed / 10
        else:
            self.speed = 0.0
            if self.mode == "charging":
                self.soc = min(100.0, self.soc + dt * 0.03)
            heat = 8.0 if self.mode == "charging" else 0.0
        self.pack_temp += (self.ambient + heat - self.pack_temp) * min(1.0, dt / 600)
        self._faults(dt)

    def _switch(self, mode: str, seconds: float) -> None:
        self.mode, self.mode_left_s = mode, seconds

    def _faults(self, dt: float) -> None:
        rng = self.rng
        if self.fault_left_s > 0:
            self.fault_left_s -= dt
            if self.hot_probe:
                self.hot_probe = min(30.0, self.hot_probe + 2.0 * dt / 10)
            if self.fault_left_s <= 0:
                self.fault_bits, self.fault_level, self.hot_probe, self.weak_cell = [], 0, 0.0, False
            return
        if rng.random() < 0.004 * dt / 10:  # about one episode per vehicle per 40 minutes of reports
            kind = rng.random()
            self.fault_left_s = rng.uniform(40, 150)
            if kind < 0.2:
                self.hot_probe = 4.0  # warms 2 °C per report: spread, then a vehicle alarm
                self.fault_bits, self.fault_level = [0, 1], 2
            elif kind < 0.35:
                self.weak_cell = True
                self.fault_bits, self.fault_level = [10], 1
            else:
                bit, _ = FAULTS[rng.randrange(len(FAULTS))]
                self.fault_bits = [bit]
                self.fault_level = rng.choices((1, 2, 3), weights=(70, 25, 5))[0]

    # -- values as the vehicle reports them ---------------------------------------------------------
    def cells(self) -> list[float | None]:
        m, rng = self.model, self.rng
        base = m.nominal_cell_v + (self.soc - 50) / 100 * (0.5 if m.nominal_cell_v > 3.5 else 0.2)
        cells: list[float | None] = [round(base + rng.uniform(-0.01, 0.01), 3) for _ in range(m.cells)]
        if self.weak_cell:
            cells[m.cells // 3] = round(base - 0.38, 3)
        return cells

    def temps(self) -> list[int | None]:
        out: list[int | None] = [
            round(self.pack_temp + self.rng.uniform(-1.5, 1.5)) for _ in range(self.model.probes)
        ]
        if self.hot_probe:
            out[1] = round(self.pack_temp + self.hot_probe)
        return out

    def _state_bytes(self) -> tuple[int, int, float]:
        charging = {"charging": 1, "driving": 3}.get(self.mode, 3)
        if self.mode == "charging" and self.soc >= 99.5:
            charging = 4
        current = -60.0 if self.mode == "charging" else (self.speed * 1.2 if self.mode == "driving" else 0.5)
        return (1 if self.mode == "driving" else 2), charging, round(current, 1)

    # -- frames ---------------------------------------------------------------------------------------
    def header(self, command: int) -> gb.Header:
        return gb.Header(self.edition, command, gb.ResponseFlag.COMMAND, self.vin)

    def login(self, ts_ms: int) -> bytes:
        self.serial = self.serial % 65531 + 1
        h, t = self.header(gb.Command.VEHICLE_LOGIN), bjt(ts_ms)
        if self.edition == "2016":
            return gb.encode(gb.VehicleLogin(h, t, self.serial, self.iccid, 1, 0, []))
        return gb.encode(
            gb.VehicleLogin2025(h, t, self.serial, self.iccid, [1], [f"PACK{self.vin}"[:24].ljust(24, "0")])
        )

    def logout(self, ts_ms: int) -> bytes:
        return gb.encode(gb.VehicleLogout(self.header(gb.Command.VEHICLE_LOGOUT), bjt(ts_ms), self.serial))

    def heartbeat(self) -> bytes:
        return gb.encode(gb.Heartbeat(self.header(gb.Command.HEARTBEAT)))

    def report(self, ts_ms: int, reissue: bool = False) -> list[bytes]:
        """The frames of one report at ``ts_ms`` (two for a split 2016 pack of over 200 cells)."""
        cmd = gb.Command.REISSUE if reissue else gb.Command.REALTIME
        t, cells, temps = bjt(ts_ms), self.cells(), self.temps()
        vstate, cstate, current = self._state_bytes()
        gear = 0x0E if self.mode == "driving" else 0x0F  # D or P
        volts = round(sum(c or 0.0 for c in cells), 1)
        insulation = 15_000 if 11 not in self.fault_bits else 40  # kΩ; 40 kΩ on ~350 V is ~115 Ω/V
        level = self.fault_level
        faults = [0x0100 + b for b in self.fault_bits]
        motor_temp = round(self.pack_temp + 10 + self.speed / 8)
        rpm = round(self.speed * 80)
        lon, lat = round(self.lon, 6), round(self.lat, 6)
        speed, odo, soc = round(self.speed, 1), round(self.odometer, 1), round(self.soc)
        motor_state = 1 if self.speed else 3  # consuming power / off
        if self.edition == "2016":
            known = [c for c in cells if c is not None]
            hot, cold = max(t_ for t_ in temps if t_ is not None), min(t_ for t_ in temps if t_ is not None)
            blocks: list[gb.Block] = [
                gb.VehicleData(vstate, cstate, 1, speed, odo, volts, current, soc, 1, gear, insulation,
                               20 if self.speed else 0, 0),
                gb.DriveMotors([gb.DriveMotor(1, motor_state, motor_temp - 5, rpm, 50.0, motor_temp, volts,
                                              current)]),
                gb.Location(0, lon, lat),
                gb.Extremes(1, cells.index(max(known)) + 1, max(known), 1, cells.index(min(known)) + 1,
                            min(known), 1, temps.index(hot) + 1, hot, 1, temps.index(cold) + 1, cold),
                gb.Alarm(level, sum(1 << b for b in self.fault_bits), faults, [], [], []),
                gb.ProbeTemperatures([gb.SubsystemTemperatures(1, temps)]),
            ]  # fmt: skip
            parts = [cells[i : i + 200] for i in range(0, len(cells), 200)]
            first = gb.CellVoltages([gb.SubsystemVoltages(1, volts, current, len(cells), 1, parts[0])])
            frames = [gb.encode(gb.RealtimeReport(self.header(cmd), t, [*blocks[:4], first, *blocks[4:]]))]
            start = 1 + len(parts[0])
            for part in parts[1:]:
                cv = gb.CellVoltages([gb.SubsystemVoltages(1, volts, current, len(cells), start, part)])
                frames.append(gb.encode(gb.RealtimeReport(self.header(cmd), t, [cv])))
                start += len(part)
            return frames
        blocks25: list[gb.Block] = [
            gb.VehicleData2025(vstate, cstate, 1, speed, odo, volts, current, soc, 1, gear, insulation),
            gb.DriveMotors2025([gb.DriveMotor2025(1, motor_state, motor_temp - 5, rpm, 50.0, motor_temp)]),
            gb.Location2025(0, 1, lon, lat),
            gb.Alarm2025(level, sum(1 << b for b in self.fault_bits), faults, [], [], [],
                         [gb.AlarmLevel(b, level) for b in self.fault_bits]),
            gb.CellVoltages2025([gb.PackVoltages(1, volts, current, cells)]),
            gb.ProbeTemperatures([gb.SubsystemTemperatures(1, temps)]),
        ]  # fmt: skip
        return [gb.encode(gb.RealtimeReport(self.header(cmd), t, blocks25))]
