"""The NEV scene's settings (``[scenes.nev]``), with their defaults and reasons.

Every early-warning threshold lives in :class:`WarningSettings`; docs/scenes/nev.md explains each.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from citybrain import sdk
from citybrain.gateways.tls import TlsSettings


class GatewaySettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[scenes.nev.gateway]``: the GB/T 32960 TCP server."""

    enabled: bool = True  # run the gateway in this process
    host: str = "127.0.0.1"  # "0.0.0.0" to take vehicles from other machines
    port: int = 32960  # TCP port vehicles and forwarding platforms connect to
    max_connections: int = 50_000  # connections beyond this are refused
    # Annex B.2.7: reports come at least every 30 s, heartbeats in between, so six silent minutes
    # means a dead link (half-open TCP after a lost modem).
    idle_timeout_s: float = 360.0  # a link silent this long is dropped
    read_size: int = 65_536  # bytes read from a socket at a time
    max_garbage_bytes: int = 1 << 20  # bytes without one good frame before the connection is closed
    reply_shape: str = "echo"  # "echo" (Annex B.3.3.2, EMQX) or "time_only" (main body, rtm_con)
    max_clock_ahead_s: int = 86_400  # a frame time further ahead of the platform clock is refused
    # Platform login (0x05): accepted users; empty = accept any (vehicles never send it). A
    # connection whose platform login matched one of these may report for any VIN (forwarding).
    platform_users: dict[str, str] = msgspec.field(default_factory=dict)  # user -> password (0x05)
    # A login for a VIN live on another connection that received data within this many seconds is
    # refused (flag 0x03) with an alert; a live connection silent that long is a dead link: replaced.
    duplicate_quiet_s: float = 90.0  # a live VIN's connection keeps it unless silent this long
    # TLS instead of plain TCP for terminals that support it (docs/scenes/nev.md, "Transport security")
    tls: TlsSettings = msgspec.field(default_factory=TlsSettings)
    # With tls.client_ca set: a vehicle login's VIN must be the client certificate's subject CN (one
    # certificate per vehicle); a forwarding platform that passed its platform login may log in any VIN.
    tls_vin_in_certificate: bool = False  # the client certificate names the VIN it may speak for


class SecuritySettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[scenes.nev.security]``: GB/T 32960-2025 data signatures (SM2 with SM3), checked on ingest."""

    # A vehicle listed here must sign its real-time and reissue reports; a report whose signature
    # does not verify is refused (docs/scenes/nev.md, "Data security").
    public_keys: dict[str, str] = msgspec.field(default_factory=dict)  # VIN -> SM2 public key, hex (04||X||Y)
    unsigned: Literal["reject", "accept"] = "reject"  # a keyed vehicle's unsigned report: refuse or store
    user_id: str = "1234567812345678"  # the SM2 signer ID in Z (GM/T 0009's default)
    # unwraps the SM4 data keys vehicles send in 0x0B key exchanges (docs/scenes/nev.md)
    platform_key_file: str = ""  # a file with the platform's SM2 private key, hex, readable by it only


class WarningSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[scenes.nev.warnings]``: platform-side early-warning thresholds (live reports only)."""

    temp_rise_c: float = 5.0  # °C the hottest probe climbs within temp_rise_window_ms: major
    temp_rise_critical_c: float = 10.0  # ... this many °C: critical
    temp_rise_window_ms: int = 60_000  # the window of a rapid temperature rise
    temp_spread_c: float = 15.0  # hottest minus coolest probe at least this: warning
    temp_spread_major_c: float = 25.0  # ... at least this: major
    voltage_spread_v: float = 0.3  # highest minus lowest cell at least this (held): warning
    voltage_spread_major_v: float = 0.5  # ... at least this: major
    voltage_spread_for_ms: int = 20_000  # how long a voltage spread must hold (load transients)
    # GB 18384 asks >= 100 ohm/V for DC and >= 500 ohm/V for AC circuits
    insulation_warn_ohm_per_v: float = 500.0  # insulation per volt of pack voltage below this (held): warning
    insulation_major_ohm_per_v: float = 100.0  # ... below this: critical (a shock hazard)
    insulation_for_ms: int = 20_000  # how long low insulation must hold
    soc_jump_pct: float = 10.0  # SOC change between consecutive live reports at least this: warning
    soc_jump_max_gap_ms: int = 60_000  # ... of reports at most this far apart
    soc_jump_clear_ms: int = 300_000  # a SOC jump stays open this long (so an operator sees it)


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
DEFAULT_REGIONS = (
    Region("360100", {"zh-CN": "南昌市", "en": "Nanchang"}, 115.45, 28.15, 116.60, 29.20),
    Region("360000", {"zh-CN": "江西省(南昌以外)", "en": "Jiangxi (outside Nanchang)"},
           113.55, 24.45, 118.50, 30.10),
)  # fmt: skip
OTHER_CODE = "other"
OTHER_NAME = {"zh-CN": "其他地区", "en": "elsewhere"}

# VIN prefix -> model name. The defaults name the simulator's fleet; a carmaker lists its own.
DEFAULT_MODELS = {
    "LCBEV1": {"zh-CN": "城市轿车 E1", "en": "City sedan E1"},
    "LCBEV2": {"zh-CN": "家用SUV E2", "en": "Family SUV E2"},
    "LCBBS3": {"zh-CN": "公交客车 B3", "en": "City bus B3"},
    "LCBLG4": {"zh-CN": "城配物流车 L4", "en": "Delivery van L4"},
}


class VehicleInfo(msgspec.Struct, forbid_unknown_fields=True):
    """``[scenes.nev.vehicles.<VIN>]``: what the platform knows of one vehicle."""

    model: str = ""  # overrides the model found from the VIN prefix
    region: str = ""  # overrides the region found from the position
    plate: str = ""  # the licence plate


class NevSettings(sdk.SceneSettings):
    gateway: GatewaySettings = msgspec.field(default_factory=GatewaySettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    warnings: WarningSettings = msgspec.field(default_factory=WarningSettings)
    # The standard's report interval is at most 30 s, so three missed reports.
    offline_after_ms: int = 90_000  # no report or login for this long (platform receive time): offline
    history_min_interval_ms: int = 0  # at most one history point per VIN per this interval (0: every one)
    models: dict[str, dict[str, str]] = msgspec.field(  # VIN prefix -> model name (longest prefix wins)
        default_factory=lambda: dict(DEFAULT_MODELS)
    )
    regions: list[Region] = msgspec.field(  # named lon/lat boxes; the first holding the fix wins
        default_factory=lambda: list(DEFAULT_REGIONS)
    )
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
