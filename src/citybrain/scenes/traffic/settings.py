"""The traffic scene's settings (``[scenes.traffic]``), with defaults and the reason for each.

Level thresholds and their sources are documented in docs/scenes/traffic.md; every one of them is
configuration, not code, because the published band values disagree (see that page).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from citybrain import data, sdk
from citybrain.sdk import ConfigError

DEFAULT_NETWORK = data.path("networks/stockholm.geojson")
DEFAULT_AREAS = data.path("hotspots/stockholm.json")

# Delay-index band presets: index at which slow, congested and severe begin.
INDEX_PRESETS: dict[str, tuple[float, float, float]] = {
    # Amap 拥堵延时指数 bands as quoted by coreui.cn (1.0-1.5 畅通, 1.5-2.0 缓行, 2.0-4.0 拥堵, >=4 严重)
    "amap": (1.5, 2.0, 4.0),
    # the "city bands" widely repeated in Chinese media; no primary source found, so not the default
    "city": (1.5, 1.8, 2.0),
}


class GatewayConfig(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = True  # run the JT/T 808 gateway
    host: str = "127.0.0.1"  # "0.0.0.0" to accept terminals from other machines
    port: int = 8808  # listen port (0: any free port)
    max_connections: int = 50_000  # open connections at most
    # terminals send a heartbeat every 60 s by default (0x8103 param 0x0001); three missed = dead
    idle_timeout_s: float = 200.0  # a connection silent this long is closed
    read_size: int = 65_536  # bytes per socket read
    # a connection sending this many bytes without one good frame is closed (it is no device)
    max_garbage_bytes: int = 1 << 20  # bytes without one good frame before the connection is closed
    # issued auth codes (random, bound to the registering phone; SHA-256 only), a JSON-lines
    # journal; default: <data_dir>/jt808-auth.jsonl
    auth_file: str = ""  # journal of issued auth codes; default <data_dir>/jt808-auth.jsonl
    # codes are rotated: an authentication with a code older than this is refused (0x8001 result
    # 1), so the terminal registers again and gets a new one; 0 keeps codes until re-registration
    auth_max_age_days: float = 0.0  # a code older than this is refused and the terminal re-registers
    # removed: codes used to be an HMAC under a shipped default secret; a leftover setting is refused
    auth_secret: str = ""  # removed: a value left in the settings is refused at start
    # a second authenticated connection of a terminal closes the first; when the first had received
    # data within this many seconds (not a dead link being replaced) an alert is raised
    duplicate_quiet_s: float = 90.0  # a takeover of a link active this recently raises an alert
    # terminals holding a code at most: a flood of invented phone numbers cannot grow the table
    # without bound (0x8100 result 4 beyond it); list real fleets in ``terminals`` and set
    # accept_unknown = false to admit only those
    max_terminals: int = 1_000_000  # terminals holding a code at most
    require_auth: bool = True  # locations from a terminal that has not authenticated are refused
    accept_unknown: bool = True  # register terminals not listed in ``terminals``
    # vehicle type by registration plate colour (JT/T 697.7: 1 blue, 2 yellow, 3 black, 4 white, 9 other)
    # yellow plates are large vehicles: in a city's probe fleet, buses
    type_by_plate_color: dict[str, str] = msgspec.field(  # plate colour -> vehicle type
        default_factory=lambda: {"2": "bus"}
    )
    default_type: str = "taxi"  # type when neither terminals nor the plate colour says
    # per terminal phone: {"vehicle_id": ..., "type": ...}; overrides what registration says
    terminals: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)  # phone -> vehicle_id, type
    max_clock_ahead_s: int = 600  # a fix further ahead of the platform clock is a broken RTC: dropped


class LevelConfig(msgspec.Struct, forbid_unknown_fields=True):
    method: str = "index"  # "index" (delay-index bands) or "speed_bands" (by road class, km/h)
    preset: str = "amap"  # for method "index" unless ``index`` is given
    index: list[float] = msgspec.field(default_factory=list)  # [slow, congested, severe]: replaces preset
    # GB/T 33171-2016-style speed bands (km/h, [smooth above, slow above, congested above]; at or
    # below the last: severe), as tabulated in hanspub 6-1700079; 畅通 and 基本畅通 both count as smooth
    speed_bands: dict[str, list[float]] = msgspec.field(  # for method speed_bands, km/h by road class
        default_factory=lambda: {
            "expressway": [50.0, 35.0, 20.0],
            "arterial": [30.0, 20.0, 15.0],
            "collector": [25.0, 15.0, 10.0],
            "local": [25.0, 15.0, 10.0],
        }
    )

    def index_bands(self) -> tuple[float, float, float]:
        if self.index:
            if len(self.index) != 3 or not self.index[0] < self.index[1] < self.index[2]:
                raise ConfigError(f"scenes.traffic.levels.index must be 3 rising values, got {self.index}")
            return (self.index[0], self.index[1], self.index[2])
        try:
            return INDEX_PRESETS[self.preset]
        except KeyError:
            raise ConfigError(
                f"scenes.traffic.levels.preset {self.preset!r} is unknown; one of {sorted(INDEX_PRESETS)}"
            ) from None


class MatchConfig(msgspec.Struct, forbid_unknown_fields=True):
    window_points: int = 8  # recent points re-matched per vehicle (online, sliding)
    confirm_points: int = 1  # a segment's exit must be followed by this many points before it counts
    max_gap_s: float = 120.0  # a longer silence starts a new trace
    max_speed_kmh: float = 150.0  # a faster traversal is a matching artefact: dropped
    min_travel_s: float = 0.5  # a shorter traversal is dropped
    vehicle_state_every_ms: int = 5_000  # vehicle map positions, at most this often per vehicle
    source_seen_every_ms: int = 5_000  # traffic.source_seen at most this often per source


class SegmentConfig(msgspec.Struct, forbid_unknown_fields=True):
    min_samples_1m: int = 3  # fewer traversals in a window: "no data", never a guess
    min_samples_5m: int = 3  # the same for 5-minute windows
    allowed_lateness_ms: int = 30_000  # traversals arrive one report interval after their exit
    idle_close_ms: int = 90_000  # no traversals for this long: event time moves on with the clock
    # free flow = p-th percentile of off-peak traversal speeds once min_samples were seen (FHWA UCR)
    freeflow_percentile: float = 85.0  # of off-peak traversal speeds
    freeflow_min_samples: int = 30  # off-peak traversals before free flow is learned
    # off-peak hours, China time, [start, end): outside the 07-09 and 17-19 peaks and their shoulders
    offpeak_hours: list[list[int]] = msgspec.field(  # China time, [start, end)
        default_factory=lambda: [[0, 6], [10, 16], [20, 24]]
    )
    flow_half_life_h: float = 168.0  # flow weight: decayed traversal count, one-week half-life
    # sudden collapse: the minute's speed under this share of the recent baseline (and of free flow)
    collapse_ratio: float = 0.4  # share of the baseline under which a minute's speed collapsed
    collapse_baseline_minutes: int = 5  # minutes with data in the baseline
    collapse_min_baseline: int = 2  # minutes with data needed in the baseline


class AreaConfig(msgspec.Struct, forbid_unknown_fields=True):
    min_segments: int = 1  # segments with data needed for an area index
    hotspot_min_coverage: float = 0.2  # share of a hotspot's length with data needed
    finalize_after_ms: int = 120_000  # a minute is final this long after its start is passed
    congested_minutes: int = 5  # hotspot alert: congested or worse this many final minutes in a row
    history_minutes: int = 60  # final minutes kept per area
    trend_minutes: int = 5  # trend compares with the final minute this many minutes earlier
    trend_delta: float = 0.1  # index change that counts as rising or falling


class SourceConfig(msgspec.Struct, forbid_unknown_fields=True):
    silent_after_s: float = 120.0  # wall-clock seconds without deliveries: silent


class TrafficSettings(sdk.SceneSettings):
    network: str = ""  # GeoJSON / OSM XML / shapefile; default: the demo network
    areas: str = ""  # districts + hotspots JSON; default: the demo list
    gateway: GatewayConfig = msgspec.field(default_factory=GatewayConfig)  # the JT/T 808 gateway
    levels: LevelConfig = msgspec.field(default_factory=LevelConfig)  # index or speed -> level
    matching: MatchConfig = msgspec.field(default_factory=MatchConfig)  # stage 1
    segments: SegmentConfig = msgspec.field(default_factory=SegmentConfig)  # stage 2
    area: AreaConfig = msgspec.field(default_factory=AreaConfig)  # stage 3
    sources: SourceConfig = msgspec.field(default_factory=SourceConfig)  # the silence alert

    def __post_init__(self) -> None:
        # ConfigError (not ValueError) passes through msgspec unwrapped, with its own wording
        self.levels.index_bands()  # fail at start, not at the first closed window
        if self.gateway.auth_secret:
            raise ConfigError(
                "scenes.traffic.gateway.auth_secret is no longer used: JT/T 808 auth codes are random, "
                "bound to the registering terminal and kept in scenes.traffic.gateway.auth_file; "
                "remove the setting (codes derived from it are no longer accepted)"
            )
        if self.levels.method not in ("index", "speed_bands"):
            raise ConfigError(
                f"scenes.traffic.levels.method must be 'index' or 'speed_bands', got {self.levels.method!r}"
            )

    @property
    def network_path(self) -> Path:
        return Path(self.network) if self.network else DEFAULT_NETWORK

    @property
    def areas_path(self) -> Path:
        return Path(self.areas) if self.areas else DEFAULT_AREAS
