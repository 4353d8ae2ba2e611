"""The NEV scene's settings (``[scenes.nev]`` in the settings file), with their defaults and reasons.

Every early-warning threshold lives in :class:`WarningConfig`; docs/scenes/nev.md explains each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from citybrain.core.errors import ConfigError


class GatewayConfig(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = True
    host: str = "127.0.0.1"  # "0.0.0.0" to take vehicles from other machines
    port: int = 32960
    max_connections: int = 50_000
    # Annex B.2.7: drop a link that stays silent; reports come at least every 30 s, heartbeats
    # in between, so six silent minutes means a dead link (half-open TCP after a lost modem).
    idle_timeout_s: float = 360.0
    read_size: int = 65_536
    # a connection sending this many bytes without one good frame is closed (it is no device)
    max_garbage_bytes: int = 1 << 20
    reply_shape: str = "echo"  # "echo" (Annex B.3.3.2, EMQX) or "time_only" (main body, rtm_con)
    # a frame time further than this ahead of the platform clock is refused (a broken RTC)
    max_clock_ahead_s: int = 86_400
    # platform login (0x05): accepted users; empty = accept any (vehicles never send it). A
    # connection whose platform login matched one of these may report for any VIN (forwarding)
    platform_users: dict[str, str] = msgspec.field(default_factory=dict)
    # a login for a VIN live on another connection that received data within this many seconds is
    # refused (flag 0x03) with an alert; a live connection silent that long is a dead link: replaced
    duplicate_quiet_s: float = 90.0


class WarningConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Platform-side early-warning thresholds (live reports only)."""

    # rapid temperature rise: the hottest probe climbs this much within the window
    temp_rise_c: float = 5.0
    temp_rise_critical_c: float = 10.0
    temp_rise_window_ms: int = 60_000
    # cell temperature spread (hottest - coolest probe)
    temp_spread_c: float = 15.0
    temp_spread_major_c: float = 25.0
    # cell voltage spread (highest - lowest cell), must hold voltage_spread_for_ms (load transients)
    voltage_spread_v: float = 0.3
    voltage_spread_major_v: float = 0.5
    voltage_spread_for_ms: int = 20_000
    # insulation resistance per volt of pack voltage (GB 18384: >= 100 ohm/V DC, >= 500 ohm/V AC)
    insulation_warn_ohm_per_v: float = 500.0
    insulation_major_ohm_per_v: float = 100.0
    insulation_for_ms: int = 20_000
    # SOC jump between consecutive live reports at most soc_jump_max_gap_ms apart
    soc_jump_pct: float = 10.0
    soc_jump_max_gap_ms: int = 60_000
    soc_jump_clear_ms: int = 300_000


class Region(msgspec.Struct, forbid_unknown_fields=True):
    """A named lon/lat box; the first box containing a vehicle's last valid fix is its region."""

    code: str
    name: dict[str, str]
    lon_min: float
    lat_min: float
    lon_max: float
    lat_max: float

    def contains(self, lon: float, lat: float) -> bool:
        return self.lon_min <= lon <= self.lon_max and self.lat_min <= lat <= self.lat_max


# Rough boxes around the seed city first, then its province; anything else is "other".
DEFAULT_REGIONS = [
    Region("360100", {"zh-CN": "南昌市", "en": "Nanchang"}, 115.45, 28.15, 116.60, 29.20),
    Region(
        "360000",
        {"zh-CN": "江西省(南昌以外)", "en": "Jiangxi (outside Nanchang)"},
        113.55,
        24.45,
        118.50,
        30.10,
    ),
]
OTHER_CODE = "other"
OTHER_NAME = {"zh-CN": "其他地区", "en": "elsewhere"}

# VIN prefix -> model name. The defaults name the simulator's fleet; a carmaker lists its own.
DEFAULT_MODELS: dict[str, dict[str, str]] = {
    "LCBEV1": {"zh-CN": "城市轿车 E1", "en": "City sedan E1"},
    "LCBEV2": {"zh-CN": "家用SUV E2", "en": "Family SUV E2"},
    "LCBBS3": {"zh-CN": "公交客车 B3", "en": "City bus B3"},
    "LCBLG4": {"zh-CN": "城配物流车 L4", "en": "Delivery van L4"},
}


class VehicleInfo(msgspec.Struct, forbid_unknown_fields=True):
    model: str = ""
    region: str = ""
    plate: str = ""


class NevConfig(msgspec.Struct, forbid_unknown_fields=True):
    gateway: GatewayConfig = msgspec.field(default_factory=GatewayConfig)
    warnings: WarningConfig = msgspec.field(default_factory=WarningConfig)
    # no report or login for this long (platform receive time) -> offline. The standard's report
    # interval is at most 30 s, so three missed reports.
    offline_after_ms: int = 90_000
    # history: which signals become metrics, and at most one point per VIN per this interval
    history_min_interval_ms: int = 0
    models: dict[str, dict[str, str]] = msgspec.field(default_factory=lambda: dict(DEFAULT_MODELS))
    regions: list[Region] = msgspec.field(default_factory=lambda: list(DEFAULT_REGIONS))
    vehicles: dict[str, VehicleInfo] = msgspec.field(default_factory=dict)  # per-VIN overrides

    def model_of(self, vin: str) -> str:
        info = self.vehicles.get(vin)
        if info is not None and info.model:
            return info.model
        best = ""
        for prefix in self.models:
            if vin.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return best or vin[:3]  # the WMI (maker code) when no model is known

    def model_name(self, model: str) -> dict[str, str]:
        return self.models.get(model, {"zh-CN": model, "en": model})

    def region_of(self, vin: str, lon: float | None, lat: float | None) -> str:
        info = self.vehicles.get(vin)
        if info is not None and info.region:
            return info.region
        if lon is not None and lat is not None:
            for r in self.regions:
                if r.contains(lon, lat):
                    return r.code
        return OTHER_CODE

    def region_name(self, code: str) -> dict[str, str]:
        for r in self.regions:
            if r.code == code:
                return r.name
        return dict(OTHER_NAME) if code == OTHER_CODE else {"zh-CN": code, "en": code}


def load_config(settings: Mapping[str, Any]) -> NevConfig:
    try:
        return msgspec.convert(dict(settings), NevConfig)
    except msgspec.ValidationError as err:
        raise ConfigError(f"invalid [scenes.nev] settings: {err}") from err
