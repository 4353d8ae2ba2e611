"""The JT/T 808 authentication codes this platform issued: one per registration, bound to the
terminal (phone number) that registered, random (``secrets``), never derivable from anything shipped.

Why a table and not an HMAC: a code derived from a secret is as strong as the secret, and a shipped
default secret let anyone compute every vehicle's code offline. A random code proves only that the
terminal took part in a registration with us, which is what JT/T 808 means by it.

Durability: a journal of JSON lines under the data directory (``jt808-auth.jsonl``). A grant is
appended and fsynced before the 0x8100 reply carrying the code is written (the session's ``flush``),
so a terminal that re-authenticates after a restart still works. Only a SHA-256 of each code is
kept: the file does not give the codes away. Later lines override earlier ones (a re-registration
or a revocation); the journal is rewritten atomically (temporary file + rename) when it is loaded
with many superseded lines. A torn last line (a crash mid-append) is skipped: its reply was never sent.

Scaled out, each gateway node has its own journal: a terminal that registered on one node and
authenticates on another is refused and registers again (what terminals do after a failed 0x0102).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from pathlib import Path

import msgspec

log = logging.getLogger(__name__)

FILE_NAME = "jt808-auth.jsonl"


class Grant(msgspec.Struct, forbid_unknown_fields=True):
    """One journal line: ``phone`` holds a code for ``vehicle_id`` (or lost it: ``revoked``)."""

    phone: str
    vehicle_type: str = ""
    vehicle_id: str = ""
    digest: str = ""  # SHA-256 hex of the code
    issued_ms: int = 0
    revoked: bool = False


_LINE = msgspec.json.Decoder(Grant)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogateescape")).hexdigest()


class AuthBook:
    """phone -> grant and vehicle -> phone; ``path`` None keeps it in memory (tests)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.by_phone: dict[str, Grant] = {}
        self.by_vehicle: dict[str, str] = {}
        self.unsaved: list[Grant] = []
        self._lock = threading.Lock()
        if path is not None:
            self._load(path)

    # -- queries ---------------------------------------------------------------------------------
    def holder(self, vehicle_id: str) -> str | None:
        """The phone that holds a code for this vehicle, if any."""
        return self.by_vehicle.get(vehicle_id)

    def grant_of(self, phone: str) -> Grant | None:
        return self.by_phone.get(phone)

    def check(self, phone: str, code: str) -> Grant | None:
        """The grant when ``code`` is the one issued to ``phone``; None otherwise."""
        g = self.by_phone.get(phone)
        if g is None or not hmac.compare_digest(g.digest, _digest(code)):
            return None
        return g

    # -- changes (in memory now, durable after ``save``) -----------------------------------------
    def issue(self, phone: str, vehicle_type: str, vehicle_id: str, now_ms: int) -> str:
        """A new random code for ``phone`` (replacing any it held); the vehicle moves to it."""
        old = self.by_phone.get(phone)
        if old is not None and self.by_vehicle.get(old.vehicle_id) == phone:
            del self.by_vehicle[old.vehicle_id]
        previous = self.by_vehicle.get(vehicle_id)
        if previous is not None and previous != phone:
            self.revoke(previous, now_ms)
        code = secrets.token_hex(16)  # 128 bits, plain ASCII: fits every edition's STRING field
        g = Grant(phone, vehicle_type, vehicle_id, _digest(code), now_ms)
        self._apply(g)
        self.unsaved.append(g)
        return code

    def revoke(self, phone: str, now_ms: int) -> None:
        if phone in self.by_phone:
            g = Grant(phone, issued_ms=now_ms, revoked=True)
            self._apply(g)
            self.unsaved.append(g)

    def _apply(self, g: Grant) -> None:
        old = self.by_phone.pop(g.phone, None)
        if old is not None and self.by_vehicle.get(old.vehicle_id) == g.phone:
            del self.by_vehicle[old.vehicle_id]
        if not g.revoked:
            self.by_phone[g.phone] = g
            self.by_vehicle[g.vehicle_id] = g.phone

    def save(self) -> None:
        """Append what changed and fsync (blocking: run it in a thread)."""
        with self._lock:
            pending, self.unsaved = self.unsaved, []
            if not pending or self.path is None:
                return
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # owner only
                with os.fdopen(fd, "ab") as f:
                    f.write(b"".join(msgspec.json.encode(g) + b"\n" for g in pending))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError:
                self.unsaved = pending + self.unsaved
                raise

    # -- journal ---------------------------------------------------------------------------------
    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        lines = 0
        with path.open("rb") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                lines += 1
                try:
                    self._apply(_LINE.decode(line))
                except msgspec.DecodeError as err:
                    log.warning("%s line %d skipped (%s)", path, n, err)
        if lines > 2 * len(self.by_phone) + 1_000:
            self._compact(path)

    def _compact(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(b"".join(msgspec.json.encode(g) + b"\n" for g in self.by_phone.values()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        log.info("%s compacted to %d grants", path, len(self.by_phone))
