"""The JT/T 808 gateway: one :class:`Jt808Session` per terminal connection on the generic TCP server.

Per frame: split, un-escape and check, decode, reassemble split messages, turn positions into
events, answer as the standard requires. Replies that acknowledge data (0x8001 to 0x0200/0x0704)
are written only after the events of that read are durable: the session reports ``needs_flush``
and the server awaits ``flush`` (the runtime's durable ``submit``) before writing. A frame that does
not decode is logged with its hex, counted, answered with 0x8001 result 2 when its header is
readable (so the terminal resends), and dropped; the connection lives on.

Identity (docs/scenes/traffic.md): registration (0x0100) yields the vehicle id (plate, or VIN when
unplated) and type (configured per terminal, else by plate colour). The auth code issued in 0x8100
is random and bound to the registering phone in :class:`~citybrain.scenes.traffic.auth.AuthBook`
(durable before the reply is written). A vehicle whose code another phone holds is refused (0x8100
result 1, and an alert) unless ``terminals`` names this phone for it; a phone already live on
another connection is refused too (result 3). One live connection per terminal: the newer
*authenticated* connection wins (it proved it holds the code; the older one is most often a
half-open link of the same terminal) and the older one is closed; while the older one was still
talking (``duplicate_quiet_s``) an alert "terminal connected twice" names both peers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from citybrain import sdk
from citybrain.gateways.alerts import AlertingGateway, GatewayAlerts
from citybrain.gateways.tcp import Connection
from citybrain.protocols import jt808
from citybrain.protocols.jt808.messages import (
    REGISTER_NO_SUCH_TERMINAL,
    REGISTER_OK,
    RESULT_FAILED,
)
from citybrain.scenes.traffic.auth import FILE_NAME, AuthBook
from citybrain.scenes.traffic.events import VEHICLE_TYPES, TrafficPosition, TrafficTerminal, vehicle_type
from citybrain.scenes.traffic.settings import GatewayConfig, TrafficSettings
from citybrain.sdk import MAX_TS, MIN_TS, DecodeError, Event

log = logging.getLogger(__name__)

Submit = Callable[[list[Event]], Any]  # async: returns once the events are durable
SOURCE = "jt808"


# 0x8100 results (JT/T 808-2013 Table 8 / 2019 Table 14)
REGISTER_VEHICLE_TAKEN = 1  # vehicle already registered (to another terminal)
REGISTER_TERMINAL_TAKEN = 3  # terminal already registered (and live on another connection)


class Terminals:
    """What every session of one gateway shares: issued codes, live connections, alerts."""

    def __init__(self, book: AuthBook, alerts: GatewayAlerts) -> None:
        self.book = book
        self.alerts = alerts
        self.live: dict[str, Jt808Session] = {}  # phone -> its authenticated session
        self.takeovers = 0

    def live_elsewhere(self, phone: str, session: Jt808Session) -> Jt808Session | None:
        other = self.live.get(phone)
        if other is None or other is session or other.conn.is_closing:
            return None
        return other


class Jt808Session:
    def __init__(
        self,
        conn: Connection,
        submit: Submit,
        cfg: GatewayConfig,
        counts: dict[str, int],
        clock: Callable[[], float] = time.time,
        terminals: Terminals | None = None,
    ) -> None:
        self.conn = conn
        self.terminals = terminals or Terminals(AuthBook(None), GatewayAlerts(None, "traffic", "jt808"))
        self.submit = submit
        self.cfg = cfg
        self.counts = counts
        self.clock = clock
        self.splitter = jt808.FrameSplitter()
        self.reassembler = jt808.Reassembler(max_pending=16)
        self.events: list[Event] = []
        self.serial = 0
        self.vehicle: tuple[str, str] | None = None  # (type, id) once authenticated
        self.phone = ""  # the terminal this connection authenticated as

    # -- Session protocol ----------------------------------------------------------------------
    @property
    def needs_flush(self) -> bool:
        return bool(self.events) or bool(self.terminals.book.unsaved)

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
        if self.terminals.book.unsaved:  # issued codes are durable before the reply carries them
            await asyncio.to_thread(self.terminals.book.save)
        events, self.events = self.events, []
        if events:
            await self.submit(events)

    async def closed(self, reason: str) -> None:
        self._leave()
        log.debug("jt808 %s closed: %s", self.conn.peer, reason)

    def _leave(self) -> None:
        if self.phone and self.terminals.live.get(self.phone) is self:
            del self.terminals.live[self.phone]

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
            if self.phone and h.phone != self.phone:  # one connection speaks for one terminal
                self._count("refused_other_terminal")
                return jt808.general_response(h, self._facts(), RESULT_FAILED)
            items = (body,) if isinstance(body, jt808.LocationReport) else body.items
            live = not (isinstance(body, jt808.LocationBatch) and body.reissue)
            for item in items:
                self._position(h.phone, item, live)
        elif isinstance(body, jt808.Logout) and self.vehicle is not None:
            self._terminal_event("logout", self.phone)
            self._leave()
            self.vehicle, self.phone = None, ""
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
        t = self.terminals
        holder = t.book.holder(vid)
        configured = self.cfg.terminals.get(phone, {}).get("vehicle_id") == vid  # the operator's word
        if holder is not None and holder != phone and not configured:
            self._count("register_vehicle_taken")
            t.alerts.raise_alert(
                "jt808.vehicle_taken", vid, "车辆已由其他终端注册 / vehicle registered from another terminal",
                f"terminal {phone} at {self.conn.peer} registered {vid}, which terminal {holder} holds",
                {"vehicle": vid, "terminal": phone, "peer": self.conn.peer, "holder": holder},
            )  # fmt: skip
            return jt808.reply_for(msg, self._facts(register_result=REGISTER_VEHICLE_TAKEN))
        held = t.book.grant_of(phone)
        if held is None and len(t.book.by_phone) >= self.cfg.max_terminals:
            self._count("register_table_full")
            return jt808.reply_for(msg, self._facts(register_result=REGISTER_NO_SUCH_TERMINAL))
        other = t.live_elsewhere(phone, self)
        if other is not None or (held is not None and held.vehicle_id != vid and not configured):
            # live on another connection, or bound to another vehicle: JT/T 808 "terminal registered"
            self._count("register_terminal_taken")
            return jt808.reply_for(msg, self._facts(register_result=REGISTER_TERMINAL_TAKEN))
        if holder is not None and holder != phone and (old := t.live.get(holder)) is not None:
            old.conn.close(f"vehicle {vid} re-bound to terminal {phone} by configuration")
        code = t.book.issue(phone, vtype, vid, self._now_ms())
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
        t = self.terminals
        grant = t.book.check(phone, auth.auth_code)
        if grant is None:
            self._count("auth_failed")
            log.info("jt808 %s: terminal %s sent an auth code not issued to it", self.conn.peer, phone)
            return jt808.reply_for(msg, self._facts(auth_code=None))
        max_age = self.cfg.auth_max_age_days * 86_400_000
        if max_age and self._now_ms() - grant.issued_ms > max_age:
            self._count("auth_expired")  # rotation: the terminal registers again for a new code
            log.info("jt808 %s: terminal %s sent an expired auth code", self.conn.peer, phone)
            return jt808.reply_for(msg, self._facts(auth_code=None))
        if self.phone and self.phone != phone:
            self._leave()  # one connection speaks for one terminal
        other = t.live_elsewhere(phone, self)
        if other is not None:
            self._take_over(phone, other)
        self.vehicle, self.phone = (grant.vehicle_type, grant.vehicle_id), phone
        t.live[phone] = self
        self._terminal_event("auth", phone)
        return jt808.reply_for(msg, self._facts(auth_code=auth.auth_code))

    def _take_over(self, phone: str, other: Jt808Session) -> None:
        """The newer authenticated connection wins; the older one is closed."""
        t = self.terminals
        t.takeovers += 1
        quiet = time.monotonic() - other.conn.last_rx
        other.conn.close(f"terminal {phone} authenticated again from {self.conn.peer}")
        if quiet < self.cfg.duplicate_quiet_s:
            vid = other.vehicle[1] if other.vehicle else phone
            t.alerts.raise_alert(
                "jt808.connected_twice", phone, "终端重复连接 / terminal connected twice",
                f"terminal {phone} ({vid}) authenticated from {self.conn.peer} while connected from "
                f"{other.conn.peer} (active {quiet:.0f} s ago); the older connection was closed",
                {"terminal": phone, "vehicle": vid, "old_peer": other.conn.peer, "new_peer": self.conn.peer},
            )  # fmt: skip
        else:
            self._count("takeover_stale")  # the older link had gone quiet: a reconnect, no alert

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


class Jt808Gateway(AlertingGateway):
    """The TCP server with JT/T 808 sessions; ``submit`` is the runtime's (durable when it returns)."""

    def __init__(
        self,
        submit: Submit,
        cfg: GatewayConfig,
        clock: Callable[[], float] = time.time,
        book: AuthBook | None = None,
        alerts: GatewayAlerts | None = None,
    ) -> None:
        self.cfg = cfg
        self.kinds: dict[str, int] = {}
        self.alerts = alerts or GatewayAlerts(None, "traffic", "jt808")
        self.terminals = Terminals(book or AuthBook(None), self.alerts)
        super().__init__(
            lambda conn: Jt808Session(conn, submit, cfg, self.kinds, clock, self.terminals),
            name="jt808",
            host=cfg.host,
            port=cfg.port,
            max_connections=cfg.max_connections,
            idle_timeout=cfg.idle_timeout_s,
            read_size=cfg.read_size,
            max_garbage_bytes=cfg.max_garbage_bytes,
        )

    def extra_counters(self) -> dict[str, int]:
        return {
            "terminals_live": len(self.terminals.live),
            "terminals_known": len(self.terminals.book.by_phone),
            "terminal_takeovers": self.terminals.takeovers,
        }


def servers(rt: sdk.Runtime[TrafficSettings]) -> list[Jt808Gateway]:
    g = rt.settings.gateway
    if not g.enabled:
        return []
    path = Path(g.auth_file) if g.auth_file else rt.data_path / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    alerts = GatewayAlerts(rt, "traffic", "jt808")
    return [Jt808Gateway(rt.submit, g, book=AuthBook(path), alerts=alerts)]
