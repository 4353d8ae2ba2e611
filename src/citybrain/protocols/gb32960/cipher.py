"""GB/T 32960-2025 data-unit encryption: SM4 under a key the vehicle sends in a 0x0B key exchange.

What this assumes (docs/protocols/gb32960.md, "Data security"): the 2025 text was not read and no
public implementation decrypts (rtm_con, EMQX and sunsky74 keep such units raw), so the choices
are the conventional ones and each is a parameter of one function here:

* encryption byte 0x05 (SM4) encrypts the whole data unit; the header (start, command, flag, VIN,
  encryption, length) stays clear and the length and BCC are of the *encrypted* unit (Table 2 and
  the standard's "encrypt first, then compute the check");
* SM4 in ECB mode with PKCS#7 padding (GB/T 32907; the mode the 2016 edition's AES128 byte is
  implemented with by the platforms that support it), a 16-byte key;
* the 0x0B key exchange (algorithm BYTE, key length WORD, key, valid-from, valid-to) carries the
  data key either as the 16 bytes themselves (a link already protected by TLS) or wrapped with the
  platform's SM2 public key (GB/T 32918.4 encryption, C1 || C3 || C2, C1 with or without the 04
  prefix): the length tells which;
* a report is signed before it is encrypted, so the signature is checked on the decrypted unit.

SM2 decryption checks what gmssl's does not: that C1 is a point of the curve and that C3 (the SM3
of x2 || M || y2) matches, so a forged or corrupted wrapped key is refused rather than accepted as
16 random bytes.
"""

from __future__ import annotations

import hmac
import secrets

from gmssl import sm2 as _sm2
from gmssl import sm3 as _sm3
from gmssl import sm4 as gm_sm4

from .frame import HEADER_SIZE, Encryption, bcc
from .security import CURVE, N, parse_public_key

SM4_KEY_SIZE = 16
BLOCK = 16
_C1, _C3 = 64, 32  # bytes of C1 (X || Y) and C3 in an SM2 ciphertext


class CipherError(ValueError):
    """A data unit or key that does not decrypt (wrong key, corrupted, not padded)."""


def _sm4(key: bytes, mode: int) -> gm_sm4.CryptSM4:
    if len(key) != SM4_KEY_SIZE:
        raise CipherError(f"an SM4 key is {SM4_KEY_SIZE} bytes, not {len(key)}")
    c = gm_sm4.CryptSM4(mode, padding_mode=-1)  # no padding here: PKCS#7 is checked below
    c.set_key(key, mode)
    return c


def sm4_encrypt(key: bytes, data: bytes) -> bytes:
    """SM4-ECB with PKCS#7 padding (a signing, encrypting vehicle; tests)."""
    pad = BLOCK - len(data) % BLOCK
    return bytes(_sm4(key, gm_sm4.SM4_ENCRYPT).crypt_ecb(data + bytes([pad]) * pad))


def sm4_decrypt(key: bytes, data: bytes) -> bytes:
    """The plaintext of SM4-ECB ``data``; CipherError unless whole blocks with valid PKCS#7."""
    if not data or len(data) % BLOCK:
        raise CipherError(f"an SM4 data unit is whole {BLOCK}-byte blocks, not {len(data)} bytes")
    out = bytes(_sm4(key, gm_sm4.SM4_DECRYPT).crypt_ecb(data))
    pad = out[-1]
    if not 1 <= pad <= BLOCK or out[-pad:] != bytes([pad]) * pad:
        raise CipherError("the data unit does not decrypt with this vehicle's key (bad padding)")
    return out[:-pad]


def sm2_encrypt(public_key: bytes, message: bytes) -> bytes:
    """SM2 encryption (C1 || C3 || C2, C1 as 04 || X || Y) to ``public_key`` (X || Y): tests."""
    c = _sm2.CryptSM2(private_key=None, public_key=public_key.hex(), mode=1)
    c.public_key = public_key.hex()
    while True:
        out = c.encrypt(message)
        if out:
            return b"\x04" + bytes(out)


def sm2_decrypt(private_key: int, cipher: bytes) -> bytes:
    """The message of an SM2 ciphertext C1 || C3 || C2 for ``private_key``; CipherError when C1 is
    not a curve point or C3 does not match (corrupted, forged, or for another key)."""
    if len(cipher) > _C1 + _C3 and cipher[0] == 4 and (len(cipher) - 1 - _C1 - _C3) >= 1:
        cipher = cipher[1:]
    if len(cipher) <= _C1 + _C3:
        raise CipherError(f"an SM2 ciphertext is longer than {_C1 + _C3} bytes, not {len(cipher)}")
    c1, c3, c2 = cipher[:_C1], cipher[_C1 : _C1 + _C3], cipher[_C1 + _C3 :]
    try:
        parse_public_key(c1.hex())
    except ValueError as err:
        raise CipherError(f"SM2 ciphertext: C1 {err}") from err
    obj = _sm2.CryptSM2(private_key=f"{private_key:064x}", public_key="", mode=1)
    xy = obj._kg(private_key, c1.hex())
    t = bytes.fromhex(_sm3.sm3_kdf(xy.encode(), len(c2)))
    if not any(t):
        raise CipherError("SM2 ciphertext: the key stream is all zero")
    message = bytes(a ^ b for a, b in zip(c2, t, strict=True))
    x2, y2 = bytes.fromhex(xy[:64]), bytes.fromhex(xy[64:])
    if not hmac.compare_digest(bytes.fromhex(_sm3.sm3_hash(list(x2 + message + y2))), c3):
        raise CipherError("SM2 ciphertext: C3 does not match (corrupted, or for another key)")
    return message


def new_private_key() -> int:
    return secrets.randbelow(N - 2) + 1


def public_key_of(private_key: int) -> bytes:
    """X || Y of ``private_key``'s public key."""
    obj = _sm2.CryptSM2(private_key=f"{private_key:064x}", public_key="")
    return bytes.fromhex(obj._kg(private_key, CURVE["g"]))


def unwrap_key(carried: bytes, platform_key: int | None) -> bytes:
    """The SM4 data key a 0x0B key exchange carries: as is when 16 bytes, else SM2-decrypted
    with the platform's private key (CipherError when there is none, or it does not decrypt)."""
    if len(carried) == SM4_KEY_SIZE:
        return carried
    if platform_key is None:
        raise CipherError("the key exchange carries a wrapped key but no platform SM2 key is configured")
    key = sm2_decrypt(platform_key, carried)
    if len(key) != SM4_KEY_SIZE:
        raise CipherError(f"the unwrapped data key is {len(key)} bytes, not {SM4_KEY_SIZE}")
    return key


def _reframe(raw: bytes, encryption: int, unit: bytes) -> bytes:
    out = bytearray(raw[:HEADER_SIZE])
    out[21] = encryption
    out[22:24] = len(unit).to_bytes(2, "big")
    out += unit
    out.append(bcc(out[2:]))
    return bytes(out)


def decrypt_frame(raw: bytes, key: bytes) -> bytes:
    """The frame ``raw`` (encryption byte SM4, BCC checked by the splitter) with its data unit
    decrypted: encryption byte 0x01, its plain length, a new BCC. CipherError when it does not."""
    if len(raw) < HEADER_SIZE + 1 or raw[21] != Encryption.SM4:
        raise CipherError("not an SM4-encrypted frame")
    n = int.from_bytes(raw[22:24], "big")
    return _reframe(raw, Encryption.NONE, sm4_decrypt(key, bytes(raw[HEADER_SIZE : HEADER_SIZE + n])))


def encrypt_frame(raw: bytes, key: bytes) -> bytes:
    """A clear frame with its data unit SM4-encrypted (a vehicle that encrypts; tests)."""
    n = int.from_bytes(raw[22:24], "big")
    return _reframe(raw, Encryption.SM4, sm4_encrypt(key, bytes(raw[HEADER_SIZE : HEADER_SIZE + n])))
