"""GB/T 32960-2025 data-unit encryption (issue 13 item 6): SM4 against the GB/T 32907 example,
PKCS#7 checked, SM2-wrapped data keys with C1 and C3 checked, frames decrypted into frames the
decoder reads, and no input that makes decryption fail other than with a CipherError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960 import cipher
from citybrain.protocols.gb32960.frame import HEADER_SIZE, bcc
from tests.scenes.nev.nev_testkit import tsv_frame

KEY = bytes(range(16))
PLATFORM = cipher.new_private_key()
PLATFORM_PUB = cipher.public_key_of(PLATFORM)


def test_sm4_matches_the_standard_example() -> None:
    # GB/T 32907-2016 Annex A example 1: key = plaintext = 0123456789abcdeffedcba9876543210
    k = bytes.fromhex("0123456789abcdeffedcba9876543210")
    block = cipher.sm4_encrypt(k, k)[:16]  # the first block; the second is the PKCS#7 padding
    assert block.hex() == "681edf34d206965e86b3e94f536e4246"
    assert cipher.sm4_decrypt(k, cipher.sm4_encrypt(k, k)) == k


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
def test_sm4_round_trips_and_pads_to_whole_blocks(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    enc = cipher.sm4_encrypt(KEY, data)
    assert len(enc) % 16 == 0 and len(enc) > size
    assert cipher.sm4_decrypt(KEY, enc) == data


def test_sm4_refuses_a_wrong_key_a_cut_unit_and_a_bad_key_size() -> None:
    enc = cipher.sm4_encrypt(KEY, b"a data unit of a report")
    with pytest.raises(cipher.CipherError, match="padding"):
        cipher.sm4_decrypt(bytes(16), enc)
    with pytest.raises(cipher.CipherError, match="whole 16-byte blocks"):
        cipher.sm4_decrypt(KEY, enc[:-1])
    with pytest.raises(cipher.CipherError, match="16 bytes, not 8"):
        cipher.sm4_decrypt(KEY[:8], enc)


def test_a_wrapped_data_key_unwraps_only_with_the_platform_key_and_intact() -> None:
    wrapped = cipher.sm2_encrypt(PLATFORM_PUB, KEY)
    assert len(wrapped) == 1 + 64 + 32 + 16 and wrapped[0] == 4
    assert cipher.unwrap_key(wrapped, PLATFORM) == KEY
    assert cipher.unwrap_key(wrapped[1:], PLATFORM) == KEY  # C1 without its 04 prefix
    assert cipher.unwrap_key(KEY, None) == KEY  # a bare key (over TLS)
    with pytest.raises(cipher.CipherError, match="C3 does not match"):
        cipher.unwrap_key(wrapped, cipher.new_private_key())
    for at in (70, len(wrapped) - 1):  # C3, C2
        bad = bytearray(wrapped)
        bad[at] ^= 1
        with pytest.raises(cipher.CipherError, match="C3 does not match"):
            cipher.unwrap_key(bytes(bad), PLATFORM)
    bad = bytearray(wrapped)
    bad[5] ^= 1  # C1 off the curve
    with pytest.raises(cipher.CipherError, match="C1 not a point"):
        cipher.unwrap_key(bytes(bad), PLATFORM)
    with pytest.raises(cipher.CipherError, match="no platform SM2 key"):
        cipher.unwrap_key(wrapped, None)


def test_an_encrypted_report_decrypts_into_the_frame_it_was() -> None:
    clear = tsv_frame("GB-RC-11")  # rtm_con's 2025 location report
    enc = cipher.encrypt_frame(clear, KEY)
    assert enc[21] == gb.Encryption.SM4 and enc[-1] == bcc(enc[2:-1])
    assert isinstance(gb.decode_frame(enc), gb.RawMessage)  # kept raw without the key
    assert cipher.decrypt_frame(enc, KEY) == clear
    assert gb.decode_frame(cipher.decrypt_frame(enc, KEY)) == gb.decode_frame(clear)


@settings(max_examples=200, deadline=None)
@given(unit=st.binary(max_size=200), key=st.binary(min_size=16, max_size=16))
def test_decryption_of_any_bytes_fails_only_with_a_cipher_error(unit: bytes, key: bytes) -> None:
    head = bytearray(tsv_frame("GB-RC-11")[:HEADER_SIZE])
    head[21] = gb.Encryption.SM4
    head[22:24] = len(unit).to_bytes(2, "big")
    frame = bytes(head) + unit
    frame += bytes([bcc(frame[2:])])
    try:
        out = cipher.decrypt_frame(frame, key)
    except cipher.CipherError:
        return
    assert out[21] == gb.Encryption.NONE and out[-1] == bcc(out[2:-1])


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_unwrapping_any_bytes_fails_only_with_a_cipher_error(data: bytes) -> None:
    try:
        key = cipher.unwrap_key(data, PLATFORM)
    except cipher.CipherError:
        return
    assert len(key) == 16
