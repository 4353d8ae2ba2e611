"""The GB/T 32960 gateway: one :class:`Gb32960Session` per vehicle connection on the generic TCP server.

Per frame: split, check, decode, reply as the standard requires (Annex B), turn into events. The
events of one read are submitted together in ``flush``; the server writes the replies only after
that, so a login or logout acknowledgement means the event is durable. A correct real-time or
reissue report gets no reply (B.2.1); a frame failing its BCC or its decoding gets the error reply
and is logged with its hex, counted and dropped, and the connection lives on.

Identity (docs/scenes/nev.md). GB/T 32960 has no device secret, so the platform holds on to what it
can check: a real-time or reissue report (0x02/0x03), and a logout (0x04), count only for a VIN
that logged in (0x01) on *that* connection. Otherwise the frame gets the error reply (flag 0x02,
as for a frame that fails its check, so the terminal logs in and resends, B.2.1), is counted
(``frames_refused_not_logged_in``) and never stored. A connection whose platform login (0x05)
matched a configured ``platform_users`` entry forwards for many vehicles and may speak for any VIN.

A second login for a VIN that is live on another connection: B.2.7 says the old link is dropped,
but anyone can send a login frame, so that would let any client disconnect any vehicle. The rule
here: while the live connection received data within ``duplicate_quiet_s`` (reports come at least
every 30 s) it keeps the VIN; the newcomer's login is answered with flag 0x03 "duplicate VIN",
its reports for that VIN are refused as above, and an alert names both peers. A live connection
that has gone quiet that long is a dead link (a lost modem, half-open TCP): the newcomer replaces
it, as B.2.7 says, without an alert.

Data security (GB/T 32960-2025, ``[scenes.nev.security]``). A vehicle whose SM2 public key is
configured must sign its real-time and reissue reports; the signature is verified before the report
counts. One that does not verify (a tampered frame, a wrong key, a signature that is not the last
block) gets the error reply (flag 0x05 "invalid signature" in 2025), is counted
(``frames_refused_bad_signature``), raises a ``gb32960.bad_signature`` alert and is never stored; a
report without a signature is refused the same way unless ``unsigned = "accept"``. A stored report
says how it was checked in its ``signature`` field. A 0x09 activation from such a vehicle must carry
the configured key and a signature that verifies with it, or it is answered "failed".

Encryption (2025): a vehicle sends its SM4 data key in a 0x0B key exchange on its own connection
(wrapped with the platform's SM2 key from ``platform_key_file``, or bare over TLS); the key is
acknowledged and held for that connection within its validity. A frame whose data unit is
SM4-encrypted (encryption byte 0x05) is decrypted with it before anything else, so its signature
is checked on the plain unit; one without a valid key, or that does not decrypt, gets flag 0x07
"decryption failed", is counted (``frames_refused_undecryptable``) and never stored. The layout
assumptions are in ``protocols/gb32960/cipher.py``.

TLS (``[scenes.nev.gateway.tls]``): the server speaks TLS, with client certificates when
``client_ca`` is set; ``tls_vin_in_certificate`` then binds each login to the VIN in the
certificate's subject CN.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from citybrain import sdk
from citybrain.gateways.alerts import AlertingGateway, GatewayAlerts
from citybrain.gateways.tcp import Connection
from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960 import cipher as gbcipher
from citybrain.protocols.gb32960 import security as gbsec
from citybrain.scenes.nev.convert import login_event, logout_event, report_event
from citybrain.scenes.nev.events import SignatureMark
from citybrain.scenes.nev.settings import GatewaySettings, NevSettings, SecuritySettings
from citybrain.sdk import MAX_TS, MIN_TS, ConfigError, DecodeError, Event

log = logging.getLogger(__name__)

Submit = Callable[[list[Event]], Any]  # async: returns once the events are durable
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(gb.BJT)


class VinRegistry:
    """Which connection speaks for which VIN (one at a time)."""

    def __init__(self) -> None:
        self.by_vin: dict[str, Connection] = {}
        self.replaced = 0  # a quiet (dead) link replaced by a new login (B.2.7)
        self.refused = 0  # logins refused: the VIN is live on another connection

    def bind(self, vin: str, conn: Connection, quiet_s: float) -> Connection | None:
        """Bind ``vin`` to ``conn``; returns the live connection that keeps it instead, if any."""
        old = self.by_vin.get(vin)
        if old is not None and old is not conn and not old.is_closing:
            if time.monotonic() - old.last_rx < quiet_s:
                self.refused += 1
                return old
            self.replaced += 1
            old.close(f"VIN {vin} logged in again from {conn.peer} after {quiet_s:g} s of silence")
        self.by_vin[vin] = conn
        return None

    def release(self, vin: str, conn: Connection) -> None:
        if self.by_vin.get(vin) is conn:
            del self.by_vin[vin]


class Keys:
    """The vehicles' SM2 public keys (parsed and checked once) and the policy for unsigned reports."""

    def __init__(self, cfg: SecuritySettings) -> None:
        self.by_vin: dict[str, bytes] = {}
        for vin, text in cfg.public_keys.items():
            try:
                self.by_vin[vin] = gbsec.parse_public_key(text)
            except ValueError as err:
                raise ConfigError(f"scenes.nev.security.public_keys[{vin!r}]: {err}") from err
        self.accept_unsigned = cfg.unsigned == "accept"
        self.user_id = cfg.user_id.encode()
        self.platform_key: int | None = None
        if cfg.platform_key_file:
            where = f"scenes.nev.security.platform_key_file ({cfg.platform_key_file})"
            try:
                text = Path(cfg.platform_key_file).read_text().strip()
                self.platform_key = int(text, 16)
            except (OSError, ValueError) as err:
                raise ConfigError(f"{where}: an SM2 private key in hex is expected: {err}") from err
            if not 1 <= self.platform_key < gbsec.N - 1:
                raise ConfigError(f"{where}: not an SM2 private key (out of range)")


@dataclass(frozen=True, slots=True)
class DataKey:
    """An SM4 data key a vehicle sent in a 0x0B key exchange, and when it may be used."""

    key: bytes
    valid_from: datetime
    valid_to: datetime


def certificate_cn(cert: dict[str, Any] | None) -> str | None:
    """The subject commonName of a peer certificate (``getpeercert()`` form), if any."""
    for rdn in (cert or {}).get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


def with_flag(reply: bytes, flag: int) -> bytes:
    """A reply frame with another response flag (byte 3), its BCC (XOR from byte 2) adjusted."""
    out = bytearray(reply)
    out[-1] ^= out[3] ^ flag
    out[3] = flag
    return bytes(out)


class Gb32960Session:
    def __init__(
        self,
        conn: Connection,
        submit: Submit,
        cfg: GatewaySettings,
        vins: VinRegistry,
        clock: Clock = _now,
        counts: dict[str, int] | None = None,
        alerts: GatewayAlerts | None = None,
        keys: Keys | None = None,
    ) -> None:
        self.conn = conn
        self.keys = keys or Keys(SecuritySettings())
        self.submit = submit
        self.cfg = cfg
        self.vins = vins
        self.clock = clock
        self.shape: Literal["echo", "time_only"] = "time_only" if cfg.reply_shape == "time_only" else "echo"
        self.splitter = gb.FrameSplitter()
        self.reassembler = gb.CellVoltageReassembler(max_pending=64)
        self.source = f"gb32960:{conn.peer}"
        self.events: list[Event] = []
        self.logged_in: set[str] = set()  # VINs this connection speaks for (login 0x01 accepted)
        self.trusted_platform = False  # platform login matched a configured user: any VIN
        self.alerts = alerts or GatewayAlerts(None, "nev", "gb32960")
        self.counts: dict[str, int] = {} if counts is None else counts  # frames by kind, per server
        self.data_keys: dict[str, DataKey] = {}  # VIN -> its SM4 key (0x0B on this connection)

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
            raw = item.data
            if raw[21] == gb.Encryption.SM4:
                raw = self._decrypt(raw, now, replies)
                if not raw:
                    continue
            try:
                msg = gb.decode_frame(raw)
            except DecodeError as err:
                self._bad(raw, f"structure: {err}", replies, now, structure=True)
                continue
            reply = self._handle(msg, raw, now, replies)
            if reply is not None:
                replies.append(reply)
        return replies

    async def flush(self) -> None:
        events, self.events = self.events, []
        await self.submit(events)

    async def closed(self, reason: str) -> None:
        for vin in self.logged_in:
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

    def _decrypt(self, raw: bytes, now: datetime, replies: list[bytes]) -> bytes:
        """The frame with its SM4 data unit decrypted, or b"" (refused: counted, answered 0x07)."""
        vin = raw[4:21].decode("latin-1")
        held = self.data_keys.get(vin)
        try:
            if held is None:
                raise gbcipher.CipherError(f"no data key was exchanged for VIN {vin} on this connection")
            if not held.valid_from <= now <= held.valid_to:
                span = f"{held.valid_from:%Y-%m-%d %H:%M} to {held.valid_to:%Y-%m-%d %H:%M}"
                raise gbcipher.CipherError(f"the data key of VIN {vin} is valid {span}, not now")
            return gbcipher.decrypt_frame(raw, held.key)
        except gbcipher.CipherError as err:
            self._count("refused_undecryptable")
            self.conn.bad_frame(raw, f"decryption: {err}")
            reply = gb.reply_to_bad_frame(raw, now, "decryption", self.shape)
            if reply is not None:
                replies.append(reply)
            return b""

    def _key_exchange(self, msg: gb.KeyExchange, raw: bytes, now: datetime) -> bytes | None:
        """Take a vehicle's SM4 data key (for a VIN this connection speaks for)."""
        vin = msg.header.vin
        why = ""
        if not self._speaks_for(vin):
            why = "without a login on this connection"
        elif msg.algorithm != gb.Encryption.SM4:
            why = f"for algorithm 0x{msg.algorithm:02X} (only SM4, 0x05, is taken)"
        else:
            try:
                key = gbcipher.unwrap_key(msg.key, self.keys.platform_key)
            except gbcipher.CipherError as err:
                why = str(err)
        if why:
            self._count("key_exchange_refused")
            log.warning("gb32960 %s: key exchange for VIN %s refused: %s", self.conn.peer, vin, why)
            return gb.reply_to_bad_frame(raw, now, "decryption", self.shape)
        self._count("key_exchange")
        self.data_keys[vin] = DataKey(key, msg.valid_from, msg.valid_to)
        return gb.reply_to(msg, raw, now, self.shape)

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
        if isinstance(msg, gb.RealtimeReport | gb.VehicleLogout) and not self._speaks_for(h.vin):
            self._count("refused_not_logged_in")
            log.info("gb32960 %s: %s for VIN %s without a login on this connection refused",
                     self.conn.peer, type(msg).__name__, h.vin)  # fmt: skip
            return gb.reply_to_bad_frame(raw, now, "check", self.shape)
        if isinstance(msg, gb.RealtimeReport):
            mark = self._signature(msg, raw)
            if mark == "refused":
                return gb.reply_to_bad_frame(raw, now, "signature", self.shape)
            self._count("reissue" if msg.reissue else "realtime")
            event = report_event(msg, self.source, self.reassembler)
            event.signature = mark
            self.events.append(event)
            return None
        if isinstance(msg, gb.VehicleLogin | gb.VehicleLogin2025):
            self._count("login")
            if not self._certificate_allows(h.vin):
                return gb.reply_to_bad_frame(raw, now, "check", self.shape)
            live = self.vins.bind(h.vin, self.conn, self.cfg.duplicate_quiet_s)
            if live is not None:
                return self._duplicate_login(msg, raw, now, live)
            self.logged_in.add(h.vin)
            self.events.append(login_event(msg, self.source))
        elif isinstance(msg, gb.VehicleLogout):
            self._count("logout")
            self.logged_in.discard(h.vin)
            self.vins.release(h.vin, self.conn)
            self.events.append(logout_event(msg, self.source))
        elif isinstance(msg, gb.PlatformLogin):
            self._count("platform_login")
            users = self.cfg.platform_users
            if users and users.get(msg.username.strip("\x00 ")) != msg.password.strip("\x00 "):
                log.warning("gb32960 %s: platform login refused for %r", self.conn.peer, msg.username)
                return gb.reply_to_bad_frame(raw, now, "check", self.shape)
            self.trusted_platform = bool(users)  # with no users configured it proves nothing
        elif isinstance(msg, gb.Activation):
            self._count("activation")
            # no security-chip registry here: an activation succeeds (0x0A, result 1, info 1) unless
            # the VIN has a configured key that the activation does not carry and prove
            key = self.keys.by_vin.get(h.vin)
            ok = key is None or (
                msg.public_key in (key, b"\x04" + key)
                and gbsec.check(msg, raw, key, self.keys.user_id) == "verified"
            )
            if not ok:
                self._refuse_signature(h.vin, "activation without the configured key or signature")
            hdr = gb.Header(h.edition, gb.Command.ACTIVATION_RESPONSE, gb.ResponseFlag.COMMAND, h.vin)
            return gb.encode(gb.ActivationResponse(hdr, 1 if ok else 2, 1))
        elif isinstance(msg, gb.KeyExchange):
            return self._key_exchange(msg, raw, now)
        elif isinstance(msg, gb.RawMessage):
            self._count("undecoded")
            log.info("gb32960 %s: %s command 0x%02X from %s kept undecoded", self.conn.peer, msg.reason,
                     h.command, h.vin)  # fmt: skip
            return None
        else:
            self._count(type(msg).__name__.lower())
        return gb.reply_to(msg, raw, now, self.shape)

    def _signature(self, msg: gb.RealtimeReport, raw: bytes) -> SignatureMark | Literal["refused"] | None:
        """How a report's 2025 signature checks out, or "refused" (counted and alerted)."""
        vin = msg.header.vin
        key = self.keys.by_vin.get(vin)
        if key is None:
            return None if gbsec.signed_part(msg, raw) is None else "unchecked"
        verdict = gbsec.check(msg, raw, key, self.keys.user_id)
        if verdict == "verified":
            return "verified"
        if verdict == "missing" and self.keys.accept_unsigned:
            return "unsigned"
        self._refuse_signature(vin, "report without a signature" if verdict == "missing" else
                               f"report signature {verdict}")  # fmt: skip
        return "refused"

    def _refuse_signature(self, vin: str, why: str) -> None:
        self._count("refused_bad_signature")
        self.alerts.raise_alert(
            "gb32960.bad_signature", vin, "车辆数据签名无效 / vehicle data signature invalid",
            f"VIN {vin} from {self.conn.peer}: {why}; the frame was refused and not stored",
            {"vin": vin, "peer": self.conn.peer, "reason": why},
        )  # fmt: skip

    def _certificate_allows(self, vin: str) -> bool:
        """With ``tls_vin_in_certificate``: the client certificate's CN must be the login's VIN
        (a forwarding platform that passed its platform login may log in any VIN)."""
        if not self.cfg.tls_vin_in_certificate or self.trusted_platform:
            return True
        cn = certificate_cn(self.conn.peer_cert)
        if cn == vin:
            return True
        self._count("login_refused_certificate")
        self.alerts.raise_alert(
            "gb32960.certificate_mismatch", vin, "证书与车辆不符 / certificate does not name the vehicle",
            f"login for VIN {vin} from {self.conn.peer} with a client certificate for {cn!r}",
            {"vin": vin, "peer": self.conn.peer, "certificate_cn": cn},
        )  # fmt: skip
        return False

    def _speaks_for(self, vin: str) -> bool:
        return self.trusted_platform or vin in self.logged_in

    def _duplicate_login(self, msg: gb.Message, raw: bytes, now: datetime, live: Connection) -> bytes | None:
        vin = msg.header.vin
        self._count("login_refused_duplicate")
        self.alerts.raise_alert(
            "gb32960.duplicate_login", vin, "同一车辆重复登入 / second login for a live vehicle",
            f"VIN {vin} logged in from {self.conn.peer} while live on {live.peer}; the live connection "
            "keeps the vehicle and the newcomer's data for it is refused",
            {"vin": vin, "live_peer": live.peer, "new_peer": self.conn.peer},
        )  # fmt: skip
        ok = gb.reply_to(msg, raw, now, self.shape)
        return None if ok is None else with_flag(ok, gb.ResponseFlag.DUPLICATE_VIN)


class Gb32960Gateway(AlertingGateway):
    """The TCP server with GB/T 32960 sessions; ``submit`` makes events durable (``rt.submit``)."""

    def __init__(
        self,
        submit: Submit,
        cfg: GatewaySettings,
        clock: Clock = _now,
        alerts: GatewayAlerts | None = None,
        security: SecuritySettings | None = None,
    ) -> None:
        self.vins = VinRegistry()
        self.cfg = cfg
        self.kinds: dict[str, int] = {}
        self.alerts = alerts or GatewayAlerts(None, "nev", "gb32960")
        self.keys = Keys(security or SecuritySettings())
        self.submit, self.clock = submit, clock
        super().__init__(
            self._session,
            name="gb32960", host=cfg.host, port=cfg.port, max_connections=cfg.max_connections,
            idle_timeout=cfg.idle_timeout_s, read_size=cfg.read_size, max_garbage_bytes=cfg.max_garbage_bytes,
            tls=cfg.tls.build("gb32960"),
        )  # fmt: skip

    def _session(self, conn: Connection) -> Gb32960Session:
        return Gb32960Session(
            conn, self.submit, self.cfg, self.vins, self.clock, self.kinds, self.alerts, self.keys
        )

    def extra_counters(self) -> dict[str, int]:
        """Connected VINs, quiet links replaced, logins refused (frames by kind: ``frames_login``...)."""
        return {
            "vins_connected": len(self.vins.by_vin),
            "vins_replaced": self.vins.replaced,
            "vins_login_refused": self.vins.refused,
        }


def servers(rt: sdk.Runtime[NevSettings]) -> list[Gb32960Gateway]:
    cfg = rt.settings.gateway
    if not cfg.enabled:
        return []
    alerts = GatewayAlerts(rt, "nev", "gb32960")
    return [Gb32960Gateway(rt.submit, cfg, alerts=alerts, security=rt.settings.security)]
