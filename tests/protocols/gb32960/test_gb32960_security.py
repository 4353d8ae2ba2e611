"""GB/T 32960-2025 data security: SM2 with SM3 verification against the standard's known-answer
example, the public-key format, and exactly which bytes of a frame the signature covers."""

from __future__ import annotations

import pytest

from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960 import security as gbsec
from citybrain.protocols.gb32960.frame import HEADER_SIZE
from tests.scenes.nev.nev_testkit import tsv_frame

# GB/T 32918.5-2017 (= GM/T 0003.5-2012) Annex A, signature example on the recommended curve,
# signer ID "1234567812345678", message "message digest".
KAT_PRIVATE = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
KAT_PUBLIC = bytes.fromhex(
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
KAT_R = bytes.fromhex("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
KAT_S = bytes.fromhex("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")
MESSAGE = b"message digest"


def test_the_standards_example_signature_verifies_and_any_change_breaks_it() -> None:
    assert gbsec.verify(KAT_PUBLIC, MESSAGE, KAT_R, KAT_S)
    assert not gbsec.verify(KAT_PUBLIC, b"message digesT", KAT_R, KAT_S)
    assert not gbsec.verify(KAT_PUBLIC, MESSAGE, KAT_S, KAT_R)
    assert not gbsec.verify(KAT_PUBLIC, MESSAGE, KAT_R, KAT_S, user_id=b"ALICE123@YAHOO.COM")
    assert gbsec.verify(KAT_PUBLIC, MESSAGE, b"\x00" + KAT_R, KAT_S)  # a 33-byte R with a zero first
    assert not gbsec.verify(KAT_PUBLIC, MESSAGE, bytes(32), KAT_S)  # r = 0 is never valid
    assert not gbsec.verify(KAT_PUBLIC, MESSAGE, KAT_R, gbsec.N.to_bytes(32, "big"))  # s = n neither


def test_signatures_made_here_verify_with_every_key_shape() -> None:
    # gmssl's CryptSM2 strips a "04" prefix with lstrip, which also ate a leading 0 or 4 of X:
    # draw keys until one starts that way, and check it still works
    for _ in range(200):
        key, pub = gbsec.new_key_pair()
        if pub.hex()[0] in "04":
            break
    else:
        pytest.fail("no key with X starting with hex 0 or 4 in 200 draws")
    sig = gbsec.sign(key, pub, MESSAGE)
    assert sig.algorithm == gbsec.SM2 and len(sig.r) == len(sig.s) == 32
    assert gbsec.verify(gbsec.parse_public_key("04" + pub.hex()), MESSAGE, sig.r, sig.s)
    assert not gbsec.verify(KAT_PUBLIC, MESSAGE, sig.r, sig.s)


def test_public_keys_parse_from_hex_and_a_point_off_the_curve_is_refused() -> None:
    assert gbsec.parse_public_key(KAT_PUBLIC.hex()) == KAT_PUBLIC
    assert gbsec.parse_public_key("04" + KAT_PUBLIC.hex().upper()) == KAT_PUBLIC
    with pytest.raises(ValueError, match="64 bytes"):
        gbsec.parse_public_key(KAT_PUBLIC.hex()[:-2])
    with pytest.raises(ValueError, match="curve"):
        gbsec.parse_public_key(KAT_PUBLIC[:63].hex() + "00")
    with pytest.raises(ValueError):
        gbsec.parse_public_key("not hex")


def report_2025() -> gb.RealtimeReport:
    msg = gb.decode_frame(tsv_frame("GB-RC-11"))  # rtm_con: 2025 location + dummy signature
    assert isinstance(msg, gb.RealtimeReport) and isinstance(msg.blocks[-1], gb.Signature)
    return msg


def test_a_report_signs_from_its_time_to_the_byte_before_0xff() -> None:
    key, pub = gbsec.new_key_pair()
    frame = gbsec.sign_report(report_2025(), key, pub)
    msg = gb.decode_frame(frame)
    part = gbsec.signed_part(msg, frame)
    assert part is not None
    sig_at = len(frame) - 1 - (6 + len(part.signature.r) + len(part.signature.s))
    assert frame[sig_at] == 0xFF and part.data == frame[HEADER_SIZE:sig_at]
    assert part.data[:6] == frame[HEADER_SIZE : HEADER_SIZE + 6]  # starts with the acquisition time
    assert gbsec.check(msg, frame, pub) == "verified"
    assert gbsec.check(msg, frame, KAT_PUBLIC) == "invalid"


def test_bytes_after_the_signature_other_algorithms_and_no_signature() -> None:
    key, pub = gbsec.new_key_pair()
    msg = gb.decode_frame(gbsec.sign_report(report_2025(), key, pub))
    assert isinstance(msg, gb.RealtimeReport)
    msg.unparsed = b"\x01\x02"  # unsigned bytes after the signature block: nothing can be trusted
    trailing = gb.encode(msg)
    assert gbsec.check(gb.decode_frame(trailing), trailing, pub) == "invalid"
    msg.unparsed = b""
    sig = msg.blocks[-1]
    assert isinstance(sig, gb.Signature)
    sig.algorithm = 2  # RSA
    rsa = gb.encode(msg)
    assert gbsec.check(gb.decode_frame(rsa), rsa, pub) == "unsupported"
    old = tsv_frame("GB-SS-01")  # a 2016 report: no signature at all
    assert gbsec.check(gb.decode_frame(old), old, pub) == "missing"
