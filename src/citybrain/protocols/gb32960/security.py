"""GB/T 32960-2025 data security: SM2 signatures (with SM3) on data units.

What is signed (docs/protocols/gb32960.md, "Data security"). The 2025 signature block (0xFF: algorithm
BYTE, R length WORD + R, S length WORD + S) ends a real-time (0x02) or reissue (0x03) data unit, and
signs the data unit **from the data-acquisition time up to the byte before the 0xFF type byte**
(rtm_con's layout, ``types_sig.py``; EMQX and sunsky74 agree on where the block sits). A 0x09
activation signs from its time to the end of its VIN (its signature has no 0xFF byte). The header
(VIN, command) is not signed; the gateway binds the VIN through the key it looks up for it.

SM2 per GB/T 32918.2 / GM/T 0009: ``e = SM3(Z || M)`` with ``Z = SM3(ENTL || ID || a || b || xG ||
yG || xA || yA)`` on the recommended curve, and the default signer ID ``1234567812345678`` unless a
deployment sets another (the 2025 text was not read; the ID is the GM/T 0009 default every SM2
library uses). R and S are big-endian integers; a leading zero byte (33 bytes) is accepted.

The arithmetic is gmssl's (``gmssl.sm2.CryptSM2.verify`` on the digest, ``gmssl.sm3.sm3_hash``); Z
is computed here so that the ID is a parameter. Pure Python: a verification costs a few
milliseconds, so keys are configured only for vehicles that sign.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from gmssl import sm2 as _sm2
from gmssl import sm3 as _sm3

from .blocks_common import Signature
from .encoder import encode
from .frame import HEADER_SIZE
from .messages import Activation, Message, RealtimeReport

CURVE: dict[str, str] = _sm2.default_ecc_table  # the recommended 256-bit curve (GB/T 32918.5)
P, A, B, N = (int(CURVE[k], 16) for k in ("p", "a", "b", "n"))
DEFAULT_ID = b"1234567812345678"
SM2 = 1  # the signature block's algorithm byte for SM2 (1 SM2, 2 RSA, 3 ECC)

Verdict = Literal["verified", "invalid", "unsupported", "missing"]


def parse_public_key(text: str) -> bytes:
    """An SM2 public key from hex (``04 || X || Y`` or ``X || Y``) -> the 64 bytes ``X || Y``.

    Raises ValueError when it is not hex, has the wrong length or is not a point of the curve."""
    raw = bytes.fromhex(text.strip())
    if len(raw) == 65 and raw[0] == 4:
        raw = raw[1:]
    if len(raw) != 64:
        raise ValueError(f"an SM2 public key is 64 bytes (X || Y) or 65 with 04 first, not {len(raw)}")
    x, y = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if not (x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0):
        raise ValueError("not a point of the SM2 curve")
    return raw


def digest(public_key: bytes, message: bytes, user_id: bytes = DEFAULT_ID) -> bytes:
    """``e = SM3(Z || message)`` for the signer with ``public_key`` (64 bytes X || Y)."""
    entl = (len(user_id) * 8).to_bytes(2, "big")
    curve = bytes.fromhex(CURVE["a"] + CURVE["b"] + CURVE["g"])
    z = bytes.fromhex(_sm3.sm3_hash(list(entl + user_id + curve + public_key)))
    return bytes.fromhex(_sm3.sm3_hash(list(z + message)))


def _signer(public_key: bytes, private_key: int = 0) -> _sm2.CryptSM2:
    obj = _sm2.CryptSM2(private_key=f"{private_key:064x}", public_key=public_key.hex())
    # CryptSM2 strips a "04" prefix with str.lstrip, which also eats a leading 0 or 4 of X: set it as is
    obj.public_key = public_key.hex()
    return obj


def verify(public_key: bytes, message: bytes, r: bytes, s: bytes, user_id: bytes = DEFAULT_ID) -> bool:
    """True when (r, s) is a valid SM2 signature of ``message`` (SM3 with Z) by ``public_key``."""
    ri, si = int.from_bytes(r, "big"), int.from_bytes(s, "big")
    if not (len(r) <= 33 and len(s) <= 33 and 1 <= ri < N and 1 <= si < N):
        return False
    try:
        return bool(_signer(public_key).verify(f"{ri:064x}{si:064x}", digest(public_key, message, user_id)))
    except (ValueError, TypeError, IndexError):  # a degenerate point sum: not a signature
        return False


def new_key_pair() -> tuple[int, bytes]:
    """A fresh (private key, public key X || Y) pair (tests and simulated vehicles)."""
    d = secrets.randbelow(N - 2) + 1
    return d, bytes.fromhex(_signer(b"", d)._kg(d, CURVE["g"]))


def sign(private_key: int, public_key: bytes, message: bytes, user_id: bytes = DEFAULT_ID) -> Signature:
    """The SM2 signature block of ``message`` (R and S 32 bytes each)."""
    obj = _signer(public_key, private_key)
    while True:  # gmssl returns None for the rare k that gives r = 0 or s = 0: draw another
        k = secrets.randbelow(N - 2) + 1
        rs = obj.sign(digest(public_key, message, user_id), f"{k:064x}")
        if rs:
            return Signature(SM2, bytes.fromhex(rs[:64]), bytes.fromhex(rs[64:]))


@dataclass(slots=True)
class SignedPart:
    """The signed bytes of a frame and the signature over them."""

    data: bytes
    signature: Signature


def signed_part(msg: Message, raw: bytes) -> SignedPart | None:
    """What ``msg`` (decoded from the frame ``raw``) signs, or None when it carries no signature.

    A report whose signature block is not its last block (bytes follow it, unsigned) is given with
    empty ``data``: nothing of it can be trusted."""
    if isinstance(msg, RealtimeReport):
        sig = msg.blocks[-1] if msg.blocks else None
        if not isinstance(sig, Signature):
            return None
        end = len(raw) - 1 - len(msg.unparsed) - (6 + len(sig.r) + len(sig.s))
        if msg.unparsed or raw[end] != 0xFF or any(isinstance(b, Signature) for b in msg.blocks[:-1]):
            return SignedPart(b"", sig)
        return SignedPart(raw[HEADER_SIZE:end], sig)
    if isinstance(msg, Activation):
        sig = msg.signature
        return SignedPart(raw[HEADER_SIZE : len(raw) - 1 - (5 + len(sig.r) + len(sig.s))], sig)
    return None


def check(msg: Message, raw: bytes, public_key: bytes, user_id: bytes = DEFAULT_ID) -> Verdict:
    """Verify the signature of a frame: "verified", "invalid" (wrong, or not the last block),
    "unsupported" (an algorithm other than SM2) or "missing" (no signature block)."""
    part = signed_part(msg, raw)
    if part is None:
        return "missing"
    if part.signature.algorithm != SM2:
        return "unsupported"
    if not part.data:
        return "invalid"
    ok = verify(public_key, part.data, part.signature.r, part.signature.s, user_id)
    return "verified" if ok else "invalid"


def sign_report(
    msg: RealtimeReport, private_key: int, public_key: bytes, user_id: bytes = DEFAULT_ID
) -> bytes:
    """The frame of a 2025 report with its SM2 signature block appended (a signing vehicle)."""
    unsigned = RealtimeReport(msg.header, msg.time, [b for b in msg.blocks if not isinstance(b, Signature)])
    data = encode(unsigned)[HEADER_SIZE:-1]
    unsigned.blocks.append(sign(private_key, public_key, data, user_id))
    return encode(unsigned)
