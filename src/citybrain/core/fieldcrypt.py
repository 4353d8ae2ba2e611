"""Sensitive values sealed at rest (issue 15 item 6): the ``sensitive`` columns of aggregation
datasets (ID numbers, bank accounts, diagnoses) are stored only as tokens, with a key kept in a
file outside the database.

A **token** is ``"enc1:"`` + URL-safe base64 (no padding) of AES-SIV (RFC 5297, AES-256-SIV: a
64-byte key) over a one-byte type mark and the value: ``s`` + UTF-8 for text, ``j`` + JSON for a
number or a yes/no (so a sealed value opens to the type it had). No associated data and no nonce:
sealing is **deterministic** on purpose. The same ID number is the same token in every dataset and
column, so facts and current rows are still joined on it in SQL (bills keyed by a person's ID
number against the member register) and a row delivered again keeps its fact id. A token reveals
only which values are equal, what any join index on the column reveals; it hides the value, its
length within a few bytes aside. A token is authenticated: altered, or sealed under another key,
it does not open (``SealError``).

The key is 64 random bytes written as 128 hex digits in a file (``[aggregation] key_file``; by
default ``<data_dir>/keys/fields.key``). It never goes into the store. Losing it loses every sealed
value: back it up apart from the database. Every node of a cluster needs the same file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from citybrain.core.aggregation.datasets import Dataset
from citybrain.core.errors import CitybrainError, ConfigError

PREFIX = "enc1:"
KEY_BYTES = 64  # AES-256-SIV: two AES-256 keys (S2V's and CTR's)
_TEXT, _JSON = b"s", b"j"  # the type mark sealed before the value
_TOKEN = re.compile(r"enc1:[A-Za-z0-9_-]{23,}")  # 16 bytes of tag and at least the type mark
_HEX = re.compile(r"[0-9a-fA-F]{128}")
_JSON_ENC = msgspec.json.Encoder()


class SealError(CitybrainError):
    """A value that does not open: not a token, or a token altered or sealed under another key."""


def is_sealed(value: Any) -> bool:
    """Whether ``value`` has the shape of a token (text ``enc1:`` + base64). The shape only:
    ``FieldCipher.open`` proves it is one of ours."""
    if not isinstance(value, str) or _TOKEN.fullmatch(value) is None:
        return False
    return (len(value) - len(PREFIX)) % 4 != 1  # base64 without padding is never 4n + 1 long


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sensitive(ds: Dataset) -> frozenset[str]:
    return frozenset(c.name for c in ds.columns if c.sensitive)


class FieldCipher:
    """Seals and opens values with one key (``from_file``). Thread-safe; sealing is deterministic."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError(f"a field key has {KEY_BYTES} bytes, not {len(key)}")
        self._siv = AESSIV(key)

    # -- the key file ------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: Path, create: bool = True) -> FieldCipher:
        """The cipher of the key in ``path``; when the file is missing and ``create``, a new random
        key is written there first (parent folders made; mode 0600; written whole under a temporary
        name then linked in, so a reader never sees half a key and an existing file is never
        replaced). ConfigError naming the path for a file that is missing (``create`` False), not
        128 hex digits, or open to group or others (like ssh with a private key: a key anyone on
        the machine can read protects nothing; ``chmod 600`` it)."""
        path = Path(path)
        if not path.exists():
            if not create:
                raise ConfigError(
                    f"the field key file {path} does not exist. Every node of a cluster needs the same "
                    "file: copy it from the node that has it, or for a new city make one (64 random "
                    "bytes as hex, mode 0600, e.g. `openssl rand -hex 64 > FILE; chmod 600 FILE`)"
                )
            _create_key_file(path)
        return cls(_read_key_file(path))

    # -- one value --------------------------------------------------------------------------------
    def seal(self, text: str) -> str:
        """The token of ``text``; a token of this key is returned as it is (sealing is idempotent)."""
        if text.startswith(PREFIX) and self._opens(text):
            return text
        return self._seal(_TEXT + text.encode("utf-8", "surrogatepass"))

    def open(self, token: str) -> str:
        """The text sealed in ``token``; SealError if it is not a token of this key holding text."""
        value = self.open_value(token)
        if not isinstance(value, str):
            raise SealError(f"the sealed value {token[:12]}… holds a number or a yes/no, not text")
        return value

    def seal_value(self, value: Any) -> Any:
        """A row's value sealed: text as ``seal``, a number or yes/no as its JSON; None stays None."""
        if value is None:
            return None
        if isinstance(value, str):
            return self.seal(value)
        return self._seal(_JSON + _JSON_ENC.encode(value))

    def open_value(self, token: str) -> Any:
        """The value ``seal_value`` sealed, with its type; SealError if it does not open."""
        if not is_sealed(token):  # (the message never shows it: it may be a plain sensitive value)
            raise SealError("the value to open is not a sealed value (enc1:…)")
        body = token[len(PREFIX) :]
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            if _b64(sealed) != body:  # one value, one token: no second spelling of the same bytes
                raise ValueError(body)
            plain = self._siv.decrypt(sealed, None)
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError(
                f"the sealed value {token[:12]}… does not open with this key: it was sealed under "
                "another key, or altered"
            ) from None
        mark, rest = plain[:1], plain[1:]
        if mark == _TEXT:
            return rest.decode("utf-8", "surrogatepass")
        if mark == _JSON:
            return msgspec.json.decode(rest)
        raise SealError(f"the sealed value {token[:12]}… has an unknown type mark {mark!r}")

    # -- rows and keys of a dataset ---------------------------------------------------------------
    def seal_row(self, ds: Dataset, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` with the values of ``ds``'s sensitive columns sealed (idempotent)."""
        hidden = _sensitive(ds)
        return {k: self.seal_value(v) if k in hidden else v for k, v in data.items()}

    def open_row(self, ds: Dataset, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` with the sealed values of ``ds``'s sensitive columns opened (a value stored
        before sealing was turned on is left as it is); SealError if one does not open."""
        hidden = _sensitive(ds)
        return {k: self.open_value(v) if k in hidden and is_sealed(v) else v for k, v in data.items()}

    def seal_key(self, ds: Dataset, parts: Sequence[str]) -> tuple[str, ...]:
        """The text of ``ds``'s key columns (in ``ds.key`` order: a fact's key split at "|", a pull's
        mark) with the sensitive ones sealed."""
        hidden = _sensitive(ds)
        return tuple(self.seal(p) if k in hidden else p for k, p in zip(ds.key, parts, strict=True))

    def open_key(self, ds: Dataset, parts: Sequence[str]) -> tuple[str, ...]:
        """``seal_key`` undone (a part that is not a token is left as it is, and parts that are not
        one per key column, from before the key changed, are left for the caller to refuse)."""
        hidden = _sensitive(ds)
        if len(parts) != len(ds.key):
            return tuple(parts)
        return tuple(
            self.open(p) if k in hidden and is_sealed(p) else p for k, p in zip(ds.key, parts, strict=True)
        )

    # -- inside -----------------------------------------------------------------------------------
    def _seal(self, plain: bytes) -> str:
        return PREFIX + _b64(self._siv.encrypt(plain, None))

    def _opens(self, token: str) -> bool:
        try:
            self.open_value(token)
        except SealError:
            return False
        return True


def _read_key_file(path: Path) -> bytes:
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"the field key file {path} is not a file")
        with path.open("rb") as f:
            raw = f.read(4096)
    except OSError as err:
        raise ConfigError(f"the field key file {path} cannot be read: {err.strerror or err}") from None
    if os.name == "posix" and st.st_mode & 0o077:
        raise ConfigError(
            f"the field key file {path} is open to group or others (mode {st.st_mode & 0o777:o}); it "
            f"must be readable by its owner only: chmod 600 {path}"
        )
    text = raw.decode("ascii", "replace").strip()
    if not _HEX.fullmatch(text):
        raise ConfigError(
            f"the field key file {path} does not hold a key: it must be {KEY_BYTES} bytes written as "
            f"{2 * KEY_BYTES} hex digits (and nothing else but a final newline)"
        )
    return bytes.fromhex(text)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".fields-", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(KEY_BYTES) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile: that one is the key
            os.link(tmp, path)  # atomic, and never over an existing file
    finally:
        os.unlink(tmp)
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
