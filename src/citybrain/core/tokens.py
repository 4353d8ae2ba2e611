"""Scoped API tokens. Only a SHA-256 of each token is stored (tokens are 256-bit random, so a
plain hash is enough); the secret is shown once, when it is created."""

from __future__ import annotations

import hashlib
import secrets
import time

from citybrain.core.errors import AuthError, ConfigError
from citybrain.core.store.base import Store, Token

SCOPES = ("ingest", "read", "operate", "admin")
# a scope and everything it implies
IMPLIES: dict[str, frozenset[str]] = {
    "ingest": frozenset({"ingest"}),
    "read": frozenset({"read"}),
    "operate": frozenset({"read", "operate"}),
    "admin": frozenset(SCOPES),
}
PREFIX = "cb_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, name: str, scopes: list[str], owner: str = "") -> tuple[str, str]:
    """Returns (token id, secret). The secret is not stored anywhere. ``owner``: who made it
    (``user:<id>`` tokens stop working when that person is disabled)."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ConfigError(f"unknown scope(s) {bad or scopes}; choose from {', '.join(SCOPES)}")
    token_id = secrets.token_hex(4)
    secret = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    store.add_token(token_id, name, scopes, digest(secret), time.time_ns() // 1_000_000, owner)
    return token_id, secret


def granted(token: Token) -> frozenset[str]:
    out: set[str] = set()
    for s in token.scopes:
        out |= IMPLIES.get(s, frozenset())
    return frozenset(out)


def authenticate(store: Store, secret: str | None) -> Token:
    """The token ``secret`` belongs to; what it may do is the policy's to decide (``scope_roles``)."""
    if not secret:
        raise AuthError(
            "no token: send 'Authorization: Bearer <token>' (create one with 'citybrain token create')"
        )
    token = store.token_by_hash(digest(secret))
    if token is None:
        raise AuthError("unknown token")
    if token.revoked_ts is not None:
        raise AuthError(f"token {token.id} was revoked")
    return token


def scope_roles(token: Token) -> tuple[str, ...]:
    """The token's scopes as roles of the identity policy (``scope:read`` ...)."""
    return tuple(f"scope:{s}" for s in token.scopes)
