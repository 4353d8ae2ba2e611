"""The GB/T 32960 gateway: one :class:`Gb32960Session` per vehicle connection on the generic TCP server.

Per frame: split, check, decode, reply as the standard requires (Annex B), turn into events. The
events of one read are submitted together in ``flush``; the server writes the replies only after
that, so a login or logout acknowledgement means the event is durable. A correct real-time or
reissue report gets no reply (B.2.1); a frame failing its BCC or its decoding gets the error reply
and is logged with its hex, counted and dropped, and the connection lives on. When the same VIN
logs in on a new connection the old one is closed (B.2.7).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from citybrain.core.errors import DecodeError
from citybrain.core.events import MAX_TS, MIN_TS, Event
from citybrain.gateways.tcp import Connection, TcpServer
from citybrain.protocols import gb32960 as gb
from citybrain.scenes.nev.config import GatewayConfig, load_config
from citybrain.scenes.nev.convert import login_event, logout_event, report_event

log = logging.getLogger(__name__)

Submit = Callable[[list[Event]], Any]  # async: returns once the events are durable
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(gb.BJT)


class VinRegistry:
    """Which connection speaks for which VIN, so a second login drops the first (B.2.7)."""

    def __init__(self) -> None:
        self.by_vin: dict[str, Connection] = {}
        self.replaced = 0

    def bind(self, vin: str, conn: Connection) -> None:
        old = self.by_vin.get(vin)
        if old is not None and old is not conn and not old.is_closing:
            self.replaced += 1
            old.close(f"VIN {vin} logged in again from {conn.peer}")
        self.by_vin[vin] = conn

    def release(self, vin: str, conn: Connection) -> None:
        if self.by_vin.get(vin) is conn:
            del self.by_vin[vin]


class Gb32960Session:
    def __init__(
        self,
        conn: Connection,
        submit: Submit,
        cfg: GatewayConfig,
        vins: VinRegistry,
        clock: Clock = _now,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.conn = conn
        self.submit = submit
        self.cfg = cfg
        self.vins = vins
        self.clock = clock
        self.shape: Literal["echo", "time_only"] = "time_only" if cfg.reply_shape == "time_only" else "echo"
        self.splitter = gb.FrameSplitter()
        self.reassembler = gb.CellVoltageReassembler(max_pending=64)
        self.source = f"gb32960:{conn.peer}"
        self.events: list[Event] = []
        self.vins_seen: set[str] = set()
        self.counts: dict[str, int] = {} if counts is None else counts  # frames by kind, per server

    # -- Session protocol ----------------------------------------------------------------------
    @property
    def needs_flush(self) -> bool:
        return bool(self.events)

    def feed(self, data: bytes) -> list[bytes]:
        replies: list[bytes] = []
        now = self.clock()
        for item in self.splitter.feed(data):
            if isinstance(item, gb.BadBytes):
                self._bad(item.data, item.reason, replies, now)
                continue
            try:
                msg = gb.decode_frame(item.data)
            except DecodeError as err:
                self._bad(item.data, f"structure: {err}", replies, now, structure=True)
                continue
            reply = self._handle(msg, item.data, now, replies)
            if reply is not None:
                replies.append(reply)
        return replies

    async def flush(self) -> None:
        events, self.events = self.events, []
        await self.submit(events)

    async def closed(self, reason: str) -> None:
        for vin in self.vins_seen:
            self.vins.release(vin, self.conn)
        log.debug("gb32960 %s closed: %s", self.conn.peer, reason)

    # -- frames ----------------------------------------------------------------------------------
    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def _bad(
        self, raw: bytes, reason: str, replies: list[bytes], now: datetime, structure: bool = False
    ) -> None:
        self.conn.bad_frame(raw, reason)
        if reason == "garbage":
            return  # not a frame: nothing to answer
        reply = gb.reply_to_bad_frame(raw, now, "structure" if structure else "check", self.shape)
        if reply is not None:
            replies.append(reply)

    def _time_ok(self, t: datetime, now: datetime) -> bool:
        ms = int(t.timestamp() * 1000)
        ahead = (t - now).total_seconds()
        return MIN_TS <= ms <= MAX_TS and ahead <= self.cfg.max_clock_ahead_s

    def _handle(self, msg: gb.Message, raw: bytes, now: datetime, replies: list[bytes]) -> bytes | None:
        h = msg.header
        if h.response != gb.ResponseFlag.COMMAND:
            self.conn.frame_ok()
            self._count("response")  # a vehicle answering our (future) downlink commands
            return None
        t = getattr(msg, "time", None)
        if isinstance(t, datetime) and not self._time_ok(t, now):
            self._bad(raw, f"structure: data time {t.isoformat()} out of range", replies, now, structure=True)
            return None
        self.conn.frame_ok()
        if isinstance(msg, gb.RealtimeReport):
            self._count("reissue" if msg.reissue else "realtime")
            self.vins_seen.add(h.vin)
            self.events.append(report_event(msg, self.source, self.reassembler))
            return None
        if isinstance(msg, gb.VehicleLogin | gb.VehicleLogin2025):
            self._count("login")
            self.vins.bind(h.vin, self.conn)
            self.vins_seen.add(h.vin)
            self.events.append(login_event(msg, self.source))
        elif isinstance(msg, gb.VehicleLogout):
            self._count("logout")
            self.events.append(logout_event(msg, self.source))
        elif isinstance(msg, gb.PlatformLogin):
            self._count("platform_login")
            users = self.cfg.platform_users
            if users and users.get(msg.username.strip("\x00 ")) != msg.password.strip("\x00 "):
                log.warning("gb32960 %s: platform login refused for %r", self.conn.peer, msg.username)
                return gb.reply_to_bad_frame(raw, now, "check", self.shape)
        elif isinstance(msg, gb.Activation):
            self._count("activation")
            # no security-chip registry here: every activation succeeds (0x0A, result 1, info 1)
            hdr = gb.Header(h.edition, gb.Command.ACTIVATION_RESPONSE, gb.ResponseFlag.COMMAND, h.vin)
            return gb.encode(gb.ActivationResponse(hdr, 1, 1))
        elif isinstance(msg, gb.RawMessage):
            self._count("undecoded")
            log.info("gb32960 %s: %s command 0x%02X from %s kept undecoded", self.conn.peer, msg.reason,
                     h.command, h.vin)  # fmt: skip
            return None
        else:
            self._count(type(msg).__name__.lower())
        return gb.reply_to(msg, raw, now, self.shape)


class Gb32960Gateway(TcpServer):
    """The TCP server with GB/T 32960 sessions; ``submit`` is ``platform.batcher.submit``."""

    def __init__(self, submit: Submit, cfg: GatewayConfig, clock: Clock = _now) -> None:
        self.vins = VinRegistry()
        self.cfg = cfg
        self.kinds: dict[str, int] = {}
        super().__init__(
            lambda conn: Gb32960Session(conn, submit, cfg, self.vins, clock, self.kinds),
            name="gb32960", host=cfg.host, port=cfg.port, max_connections=cfg.max_connections,
            idle_timeout=cfg.idle_timeout_s, read_size=cfg.read_size,
        )  # fmt: skip

    def counters(self) -> dict[str, int]:
        """The server counters, frames by kind (``frames_login``...) and connected VINs."""
        out: dict[str, int] = dict(self.stats.as_dict())
        out.update({f"frames_{k}": v for k, v in sorted(self.kinds.items())})
        out["vins_connected"] = len(self.vins.by_vin)
        out["vins_replaced"] = self.vins.replaced
        return out


def servers(platform: Any, settings: Mapping[str, Any]) -> list[Gb32960Gateway]:
    cfg = load_config(settings)
    if not cfg.gateway.enabled:
        return []
    return [Gb32960Gateway(platform.batcher.submit, cfg.gateway)]
