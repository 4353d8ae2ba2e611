"""The JT/T 808 gateway: one :class:`Jt808Session` per terminal connection on the generic TCP server.

Per frame: split, un-escape and check, decode, reassemble split messages, turn positions into
events, answer as the standard requires. Replies that acknowledge data (0x8001 to 0x0200/0x0704)
are written only after the events of that read are durable: the session reports ``needs_flush``
and the server awaits ``flush`` (``platform.batcher.submit``) before writing. A frame that does
not decode is logged with its hex, counted, answered with 0x8001 result 2 when its header is
readable (so the terminal resends), and dropped; the connection lives on.

Identity: registration (0x0100) yields the vehicle id (plate, or VIN when unplated) and type
(configured per terminal, else by plate colour). The auth code issued in 0x8100 carries the type
and id with an HMAC under ``auth_secret``, so a restarted or second gateway accepts it without any
shared table, and a forged code fails.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from citybrain.core.errors import DecodeError
from citybrain.core.events import MAX_TS, MIN_TS, Event
from citybrain.gateways.tcp import Connection, TcpServer
from citybrain.protocols import jt808
from citybrain.protocols.jt808.messages import (
    REGISTER_NO_SUCH_TERMINAL,
    REGISTER_OK,
    RESULT_FAILED,
)
from citybrain.scenes.traffic.config import GatewayConfig, load_config
from citybrain.scenes.traffic.events import VEHICLE_TYPES, TrafficPosition, TrafficTerminal, vehicle_type

log = logging.getLogger(__name__)

Submit = Callable[[list[Event]], Any]  # async: returns once the events are durable
SOURCE = "jt808"


def make_auth_code(secret: str, phone: str, vtype: str, vehicle_id: str) -> str:
    mac = hmac.new(secret.encode(), f"{phone}|{vtype}|{vehicle_id}".encode(), hashlib.sha256)
    return f"{vtype}|{vehicle_id}|{mac.hexdigest()[:16]}"


def check_auth_code(secret: str, phone: str, code: str) -> tuple[str, str] | None:
    """(vehicle type, vehicle id) when ``code`` is one this platform issued to ``phone``."""
    parts = code.split("|")
    if len(parts) != 3 or parts[0] not in VEHICLE_TYPES:
        return None
    if not hmac.compare_digest(make_auth_code(secret, phone, parts[0], parts[1]).encode(), code.encode()):
        return None
    return parts[0], parts[1]


class Jt808Session:
    def __init__(
        self,
        conn: Connection,
        submit: Submit,
        cfg: GatewayConfig,
        counts: dict[str, int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conn = conn
        self.submit = submit
        self.cfg = cfg
        self.counts = counts
        self.clock = clock
        self.splitter = jt808.FrameSplitter()
        self.reassembler = jt808.Reassembler(max_pending=16)
        self.events: list[Event] = []
        self.serial = 0
        self.vehicle: tuple[str, str] | None = None  # (type, id) once authenticated

    # -- Session protocol ----------------------------------------------------------------------
    @property
    def needs_flush(self) -> bool:
        return bool(self.events)

    def feed(self, data: bytes) -> list[bytes]:
        replies: list[bytes] = []
        for frame in self.splitter.feed(data):
            try:
                msg = jt808.decode_frame(frame)
                whole = self.reassembler.add(msg)
            except DecodeError as err:
                self._bad(frame, str(err), replies)
                continue
            self.conn.frame_ok()
            if msg.header.is_fragment:  # every package is acknowledged on its own (§4.4.3)
                replies.append(self._encode(jt808.reply_for(msg, self._facts())))
            if whole is None:
                continue
            reply = self._handle(whole)
            if reply is not None and not msg.header.is_fragment:
                replies.append(self._encode(reply))
        return [r for r in replies if r]

    async def flush(self) -> None:
        events, self.events = self.events, []
        await self.submit(events)

    async def closed(self, reason: str) -> None:
        log.debug("jt808 %s closed: %s", self.conn.peer, reason)

    # -- helpers -------------------------------------------------------------------------------
    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def _facts(self, **kw: Any) -> jt808.SessionFacts:
        self.serial = (self.serial + 1) & 0xFFFF
        return jt808.SessionFacts(next_serial=self.serial, **kw)

    def _encode(self, msg: jt808.Message | None) -> bytes:
        return b"" if msg is None else jt808.encode_frame(msg)

    def _bad(self, frame: bytes, reason: str, replies: list[bytes]) -> None:
        self.conn.bad_frame(frame, reason)
        h = jt808.peek_header(frame)
        if h is not None and not h.msg_id & 0x8000 and h.msg_id != jt808.TERMINAL_GENERAL_RESPONSE:
            replies.append(self._encode(jt808.bad_message_reply(h, self._facts())))

    # -- messages ------------------------------------------------------------------------------
    def _handle(self, msg: jt808.Message) -> jt808.Message | None:
        body, h = msg.body, msg.header
        self._count(msg.name)
        if isinstance(body, jt808.Register):
            return self._register(msg, body)
        if isinstance(body, jt808.Authenticate):
            return self._authenticate(msg, body)
        if isinstance(body, jt808.LocationReport | jt808.LocationBatch):
            if self.cfg.require_auth and self.vehicle is None:
                self._count("refused_unauthenticated")
                return jt808.general_response(h, self._facts(), RESULT_FAILED)
            items = (body,) if isinstance(body, jt808.LocationReport) else body.items
            live = not (isinstance(body, jt808.LocationBatch) and body.reissue)
            for item in items:
                self._position(h.phone, item, live)
        elif isinstance(body, jt808.Logout) and self.vehicle is not None:
            self._terminal_event("logout", h.phone)
            self.vehicle = None
        return jt808.reply_for(msg, self._facts())

    def identify(self, phone: str, reg: jt808.Register) -> tuple[str, str] | None:
        """(type, vehicle id) for a registering terminal; None when it may not register."""
        known: Mapping[str, str] | None = self.cfg.terminals.get(phone)
        if known is None and not self.cfg.accept_unknown:
            return None
        known = known or {}
        vid = known.get("vehicle_id") or reg.plate.strip() or f"jt808:{phone}"
        vtype = known.get("type") or self.cfg.type_by_plate_color.get(
            str(reg.plate_color), self.cfg.default_type
        )
        return (vtype if vtype in VEHICLE_TYPES else "other"), vid[:64]

    def _register(self, msg: jt808.Message, reg: jt808.Register) -> jt808.Message | None:
        phone = msg.header.phone
        who = self.identify(phone, reg)
        if who is None:
            self._count("register_refused")
            return jt808.reply_for(msg, self._facts(register_result=REGISTER_NO_SUCH_TERMINAL))
        vtype, vid = who
        code = make_auth_code(self.cfg.auth_secret, phone, vtype, vid)
        self.events.append(
            TrafficTerminal(
                key=vid,
                ts=self._now_ms(),
                source=SOURCE,
                action="register",
                terminal=phone,
                vehicle_type=vehicle_type(vtype),
                plate=reg.plate[:32],
                plate_color=reg.plate_color,
                model=reg.model[:64],
            )
        )
        return jt808.reply_for(msg, self._facts(register_result=REGISTER_OK, auth_code=code))

    def _authenticate(self, msg: jt808.Message, auth: jt808.Authenticate) -> jt808.Message | None:
        phone = msg.header.phone
        who = check_auth_code(self.cfg.auth_secret, phone, auth.auth_code)
        if who is None:
            self._count("auth_failed")
            log.info(
                "jt808 %s: terminal %s sent an auth code this platform did not issue", self.conn.peer, phone
            )
            return jt808.reply_for(msg, self._facts(auth_code=None))
        self.vehicle = who
        self._terminal_event("auth", phone)
        return jt808.reply_for(msg, self._facts(auth_code=auth.auth_code))

    def _terminal_event(self, action: Literal["auth", "logout"], phone: str) -> None:
        assert self.vehicle is not None
        vtype, vid = self.vehicle
        self.events.append(
            TrafficTerminal(
                key=vid,
                ts=self._now_ms(),
                source=SOURCE,
                action=action,
                terminal=phone,
                vehicle_type=vehicle_type(vtype),
            )
        )

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _position(self, phone: str, loc: jt808.LocationReport, live: bool) -> None:
        """A fix becomes an event only if it is usable: positioned, timed, in range."""
        t = loc.time_ms
        if t is None or not MIN_TS <= t <= MAX_TS or t > self._now_ms() + self.cfg.max_clock_ahead_s * 1000:
            self._count("dropped_bad_time")
            return
        if (
            not loc.positioned
            or not (-90 <= loc.lat <= 90 and -180 <= loc.lon <= 180)
            or (loc.lat, loc.lon) == (0, 0)
        ):
            self._count("dropped_unpositioned")
            return
        vtype, vid = self.vehicle or (self.cfg.default_type, f"jt808:{phone}")
        self._count("positions_live" if live else "positions_reissue")
        self.events.append(
            TrafficPosition(
                key=vid,
                ts=t,
                source=SOURCE,
                lon=loc.lon,
                lat=loc.lat,
                speed_kmh=min(loc.speed_kmh, 400.0),
                heading=float(loc.direction % 360),
                vehicle_type=vehicle_type(vtype),
                live=live,
                terminal=phone[:32],
                alarm=loc.alarm,
                status=loc.status,
            )
        )


class Jt808Gateway(TcpServer):
    """The TCP server with JT/T 808 sessions; ``submit`` is ``platform.batcher.submit``."""

    def __init__(self, submit: Submit, cfg: GatewayConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.kinds: dict[str, int] = {}
        super().__init__(
            lambda conn: Jt808Session(conn, submit, cfg, self.kinds, clock),
            name="jt808",
            host=cfg.host,
            port=cfg.port,
            max_connections=cfg.max_connections,
            idle_timeout=cfg.idle_timeout_s,
            read_size=cfg.read_size,
        )

    def counters(self) -> dict[str, int]:
        out: dict[str, int] = dict(self.stats.as_dict())
        out.update({f"frames_{k}": v for k, v in sorted(self.kinds.items())})
        return out


def servers(platform: Any, settings: Mapping[str, Any]) -> list[Jt808Gateway]:
    cfg = load_config(settings)
    if not cfg.gateway.enabled:
        return []
    return [Jt808Gateway(platform.batcher.submit, cfg.gateway)]
