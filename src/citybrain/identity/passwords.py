"""Password hashes: Argon2id (argon2-cffi, RFC 9106 parameters of its current profile). Only the
hash is stored; a hash made with older parameters is replaced at the next successful sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from citybrain.core.errors import ConfigError

MIN_LENGTH = 12  # NIST SP 800-63B asks for at least 8; a city's operators get 12
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ConfigError(f"a password needs at least {MIN_LENGTH} characters, got {len(password)}")
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches ``stored``; a malformed hash is a mismatch, not an error."""
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
