"""Time-based one-time passwords (RFC 6238 via pyotp): a second factor any authenticator app
reads from the provisioning URI. One step of clock drift either way is accepted, and a code is
accepted once: the last accepted time step is kept by the caller and passed back in."""

from __future__ import annotations

import pyotp

ISSUER = "citybrain"
STEP_S = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def accept(secret: str, code: str, now_s: float, last_step: int) -> int | None:
    """The time step ``code`` belongs to (within one step of ``now_s``), if it is later than
    ``last_step`` (a code is never accepted twice); None when it is not valid."""
    totp = pyotp.TOTP(secret)
    step = int(now_s // STEP_S)
    for s in (step, step - 1, step + 1):
        if s > last_step and totp.at(s * STEP_S) == code.strip():
            return s
    return None
