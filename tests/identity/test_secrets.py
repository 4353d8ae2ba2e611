"""Password hashes (Argon2id) and TOTP codes (RFC 6238)."""

from __future__ import annotations

import pyotp
import pytest

from citybrain.core.errors import ConfigError
from citybrain.identity import passwords, totp

# RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890"; pyotp gives 6 digits of the 8 listed
SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_argon2id_hashes_verify_and_are_salted() -> None:
    a, b = passwords.hash_password("correct horse battery"), passwords.hash_password("correct horse battery")
    assert a.startswith("$argon2id$") and a != b
    assert passwords.verify_password(a, "correct horse battery")
    assert not passwords.verify_password(a, "correct horse batterY")
    assert not passwords.verify_password("not a hash", "correct horse battery")
    assert not passwords.needs_rehash(a)


def test_short_passwords_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 12 characters"):
        passwords.hash_password("short")


@pytest.mark.parametrize(("t", "code"), [(59, "287082"), (1111111109, "081804"), (1234567890, "005924")])
def test_totp_rfc6238_vectors(t: int, code: str) -> None:
    assert totp.accept(SEED, code, t, -1) == t // 30


def test_a_totp_code_is_accepted_once_and_within_one_step() -> None:
    secret = totp.new_secret()
    now = 1_800_000_000.0
    code = pyotp.TOTP(secret).at(now)
    step = totp.accept(secret, code, now, -1)
    assert step == int(now // 30)
    assert totp.accept(secret, code, now, step) is None  # replayed
    assert totp.accept(secret, code, now + 30, -1) == step  # one step late: still fine
    assert totp.accept(secret, code, now + 90, -1) is None  # three steps late: refused
    assert totp.accept(secret, "000000" if code != "000000" else "111111", now, -1) is None
    assert totp.provisioning_uri(secret, "zhangsan").startswith("otpauth://totp/citybrain:zhangsan?secret=")
