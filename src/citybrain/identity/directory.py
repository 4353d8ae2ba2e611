"""People and their sign-in: local accounts (Argon2id password, optional TOTP), console sessions
with an idle timeout and a lifetime, and the lockout that slows password guessing.

A session is a random 256-bit secret in an HttpOnly cookie; only its SHA-256 is stored, with a
CSRF token the page sends back in a header on every change. Sign-in failures say nothing about
which of name, password or code was wrong. A person's areas are their own, else their
department's.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

import msgspec

from citybrain.core.errors import AuthError, ConfigError, NotFoundError
from citybrain.core.store.base import People
from citybrain.identity import passwords, totp
from citybrain.identity.org import Organisation
from citybrain.identity.policy import Principal

USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
WRONG = "wrong username, password or code"  # one message for every sign-in failure
NOT_ADMITTED = "no enabled citybrain account for this identity"  # every refused identity-provider sign-in


class User(msgspec.Struct, kw_only=True):
    id: str
    username: str
    name: str  # the person's name as shown
    department: str
    roles: list[str]
    areas: list[str] = msgspec.field(default_factory=list)  # own areas; empty: the department's
    password_hash: str = ""
    totp_secret: str = ""  # empty: no second factor
    totp_step: int = -1  # the last accepted TOTP time step (a code is used once)
    failed: int = 0  # sign-in failures since the last success
    locked_until: int = 0  # epoch ms
    disabled: bool = False
    created_ts: int = 0
    updated_ts: int = 0


class Session(msgspec.Struct, kw_only=True):
    id: str  # SHA-256 of the cookie's secret
    user_id: str
    csrf: str
    created_ts: int
    last_ts: int


class StoredPeople:
    """Users and sessions as JSON documents in the store (``core.store.base.People``)."""

    def __init__(self, store: People) -> None:
        self.store = store

    def put_user(self, user: User) -> None:
        self.store.put_user(user.id, user.username, _ENC.encode(user).decode(), user.updated_ts)

    def user(self, user_id: str) -> User | None:
        doc = self.store.user_doc(user_id=user_id)
        return msgspec.json.decode(doc, type=User) if doc else None

    def user_by_name(self, username: str) -> User | None:
        doc = self.store.user_doc(username=username)
        return msgspec.json.decode(doc, type=User) if doc else None

    def users(self) -> list[User]:
        return [msgspec.json.decode(d, type=User) for d in self.store.user_docs()]

    def put_session(self, session: Session) -> None:
        self.store.put_session(session.id, session.user_id, _ENC.encode(session).decode(), session.last_ts)

    def session(self, session_id: str) -> Session | None:
        doc = self.store.session_doc(session_id)
        return msgspec.json.decode(doc, type=Session) if doc else None

    def end_sessions(self, *, user_id: str = "", session_id: str = "") -> int:
        return self.store.delete_sessions(user_id=user_id, session_id=session_id)


_ENC = msgspec.json.Encoder()


class Limits(msgspec.Struct, frozen=True):
    idle_s: int = 1_800  # a session unused this long ends
    lifetime_s: int = 43_200  # and every session ends this long after sign-in
    max_failures: int = 5  # failed sign-ins in a row before the account is locked...
    lockout_s: int = 900  # ...for this long


def session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Directory:
    def __init__(self, store: People, org: Organisation, limits: Limits | None = None) -> None:
        self.store, self.org, self.limits = StoredPeople(store), org, limits or Limits()

    # -- accounts -----------------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        name: str,
        department: str,
        roles: list[str],
        password: str,
        now: int,
        areas: list[str] | None = None,
    ) -> User:
        if not username or set(username) - USERNAME_CHARS or len(username) > 64:
            raise ConfigError(f"username {username!r}: 1-64 of a-z, 0-9, '.', '_', '-'")
        if self.store.user_by_name(username) is not None:
            raise ConfigError(f"username {username!r} is taken")
        user = User(
            id=secrets.token_hex(8), username=username, name=name, department=department,
            roles=list(roles), areas=list(areas or []), created_ts=now, updated_ts=now,
        )  # fmt: skip
        self._check(user)
        user.password_hash = passwords.hash_password(password)
        self.store.put_user(user)
        return user

    def update_user(self, user_id: str, now: int, **changes: object) -> User:
        user = self.get(user_id)
        allowed = {"name", "department", "roles", "areas", "disabled"}
        bad = set(changes) - allowed
        if bad:
            raise ConfigError(f"cannot change {sorted(bad)} of a user; can: {sorted(allowed)}")
        updated = msgspec.structs.replace(user, **changes, updated_ts=now)
        self._check(updated)
        self.store.put_user(updated)
        if updated != msgspec.structs.replace(user, updated_ts=now):
            self.store.end_sessions(user_id=user_id)  # any change applies from the next sign-in
        return updated

    def set_password(self, user_id: str, password: str, now: int) -> None:
        user = self.get(user_id)
        user.password_hash, user.updated_ts = passwords.hash_password(password), now
        self.store.put_user(user)
        self.store.end_sessions(user_id=user_id)

    def enrol_totp(self, user_id: str, now: int) -> str:
        """A new TOTP secret for the user (shown once as a provisioning URI)."""
        user = self.get(user_id)
        user.totp_secret, user.totp_step, user.updated_ts = totp.new_secret(), -1, now
        self.store.put_user(user)
        return totp.provisioning_uri(user.totp_secret, user.username)

    def get(self, user_id: str) -> User:
        user = self.store.user(user_id)
        if user is None:
            raise NotFoundError(f"no user {user_id!r}")
        return user

    def _check(self, user: User) -> None:
        self.org.department(user.department)
        for r in user.roles:
            self.org.role(r)
        codes = {a.code for a in self.org.areas}
        for a in user.areas:  # a district, or a township, village or grid inside one (a village cadre)
            if not a.isdigit() or not any(c.startswith(a) or a.startswith(c) for c in codes):
                raise ConfigError(
                    f"user {user.username!r}: area {a!r} is neither an area of the organisation "
                    "nor inside one"
                )

    # -- sign-in ------------------------------------------------------------------------------
    def sign_in(self, username: str, password: str, code: str, now: int) -> tuple[str, Session, User]:
        """(cookie secret, session, user) or AuthError with one message for every failure."""
        user = self.store.user_by_name(username)
        if user is None:
            passwords.verify_password(_decoy(), password)  # the same work: timing tells nothing
            raise AuthError(WRONG)
        if user.disabled or user.locked_until > now:
            raise AuthError(WRONG)
        step = None
        ok = passwords.verify_password(user.password_hash, password)
        if ok and user.totp_secret:
            step = totp.accept(user.totp_secret, code, now / 1000, user.totp_step)
            ok = step is not None
        if not ok:
            user.failed += 1
            if user.failed >= self.limits.max_failures:
                user.failed, user.locked_until = 0, now + self.limits.lockout_s * 1000
            self.store.put_user(user)
            raise AuthError(WRONG)
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        user.failed, user.locked_until = 0, 0
        if step is not None:
            user.totp_step = step
        self.store.put_user(user)
        secret = secrets.token_urlsafe(32)
        s = Session(
            id=session_id(secret),
            user_id=user.id,
            csrf=secrets.token_urlsafe(24),
            created_ts=now,
            last_ts=now,
        )
        self.store.put_session(s)
        return secret, s, user

    def sign_in_external(self, username: str, now: int) -> tuple[str, Session, User]:
        """A session for a person the city's identity provider has signed in (OIDC): (cookie secret,
        session, user) for an enabled, unlocked local account of ``username``, else AuthError with
        one message for every refusal. Roles, department and areas are the local account's."""
        user = self.store.user_by_name(username) if username else None
        if user is None or user.disabled or user.locked_until > now:
            raise AuthError(NOT_ADMITTED)
        secret = secrets.token_urlsafe(32)
        s = Session(id=session_id(secret), user_id=user.id, csrf=secrets.token_urlsafe(24), created_ts=now,
                    last_ts=now)  # fmt: skip
        self.store.put_session(s)
        return secret, s, user

    def session(self, secret: str, now: int) -> tuple[Session, User]:
        """The live session of a cookie secret (its last use moved to ``now``), or AuthError."""
        s = self.store.session(session_id(secret)) if secret else None
        if s is None:
            raise AuthError("not signed in")
        if now - s.last_ts > self.limits.idle_s * 1000 or now - s.created_ts > self.limits.lifetime_s * 1000:
            raise AuthError("the session has ended: sign in again")
        user = self.store.user(s.user_id)
        if user is None or user.disabled:
            raise AuthError("not signed in")
        if now - s.last_ts >= 60_000:  # a write per minute of use is enough for the idle clock
            s.last_ts = now
            self.store.put_session(s)
        return s, user

    def sign_out(self, secret: str) -> None:
        self.store.end_sessions(session_id=session_id(secret))

    def principal(self, user: User) -> Principal:
        areas = tuple(user.areas) or (self.org.department(user.department).area,)
        return Principal("user", user.id, user.name, tuple(user.roles), user.department, areas)


@functools.cache
def _decoy() -> str:
    """A valid hash of a random password, verified when the username is unknown (same cost)."""
    return passwords.hash_password(secrets.token_urlsafe(16))
