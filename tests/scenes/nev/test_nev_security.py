"""GB/T 32960 transport and data security over real sockets with the real platform behind it
(issue 13, item 6): SM2-signed 2025 reports verified on ingest with the vehicle's configured key, a
tampered report refused with flag 0x05 and an alert and never stored, the policy for unsigned
reports, signed activation; the gateway over TLS with a vehicle client, a plain-TCP client on the
TLS port, and client certificates bound to the VIN."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.platform import Platform
from citybrain.core.store.base import AlertQuery
from citybrain.gateways.alerts import GatewayAlerts
from citybrain.gateways.tls import TlsSettings
from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960 import cipher as gbcipher
from citybrain.protocols.gb32960 import security as gbsec
from citybrain.protocols.gb32960.frame import bcc
from citybrain.scenes.nev.events import NevLogin, NevReport
from citybrain.scenes.nev.gateway import Gb32960Gateway
from citybrain.scenes.nev.settings import GatewaySettings, SecuritySettings
from citybrain.sdk import ConfigError
from citybrain.testing import run_gateway
from tests.gateways.tls_testkit import TlsFiles
from tests.scenes.nev.nev_testkit import CLOCK, Link, nev_platform, stored, tsv_frame

VIN = "HAUV4BGN6S5002219"  # the VIN of rtm_con's 2025 login and report vectors
LOGIN = tsv_frame("GB-RC-01")  # 2025 login
KEY, PUB = gbsec.new_key_pair()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = nev_platform(tmp_path)
    yield p
    p.stop()


def run(
    p: Platform,
    main: Callable[[Gb32960Gateway], Awaitable[None]],
    security: SecuritySettings | None = None,
    **gateway: Any,
) -> None:
    alerts = GatewayAlerts(p.runtime("nev"), "nev", "gb32960")
    cfg = GatewaySettings(port=0, **gateway)
    gw = Gb32960Gateway(p.batcher.submit, cfg, clock=lambda: CLOCK, alerts=alerts, security=security)
    run_gateway(p, gw, main)


def keyed(**kw: Any) -> SecuritySettings:
    return SecuritySettings(public_keys={VIN: "04" + PUB.hex()}, **kw)


def signed_report() -> bytes:
    """rtm_con's 2025 location report (its dummy signature dropped), signed with KEY."""
    msg = gb.decode_frame(tsv_frame("GB-RC-11"))
    assert isinstance(msg, gb.RealtimeReport)
    return gbsec.sign_report(msg, KEY, PUB)


def tampered(frame: bytes, offset: int) -> bytes:
    """``frame`` with one data byte flipped and the BCC fixed (the frame itself is well formed)."""
    out = bytearray(frame)
    out[offset] ^= 0x01
    out[-1] = bcc(out[2:-1])
    return bytes(out)


async def report_then_sync(link: Link, frame: bytes) -> None:
    """Send a report (no reply when accepted, B.2.1), then a login whose reply shows it was handled."""
    link.w.write(frame)
    assert await link.send(LOGIN) == b"\x01\x01"


def reports(p: Platform) -> list[NevReport]:
    return [e for e in stored(p) if isinstance(e, NevReport)]


def test_a_signed_report_verifies_and_a_tampered_one_is_refused_alerted_and_not_stored(
    platform: Platform,
) -> None:
    good = signed_report()

    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)
        assert await link.send(LOGIN) == b"\x01\x01"
        await report_then_sync(link, good)
        # one byte of the location block (longitude) flipped: the BCC is right, the signature is not
        assert await link.send(tampered(good, 24 + 6 + 4)) == b"\x02\x05"  # 0x05 invalid signature
        # the signature itself altered
        assert await link.send(tampered(good, len(good) - 3)) == b"\x02\x05"
        assert gw.counters()["frames_refused_bad_signature"] == 2
        await gw.alerts.drain()
        (alert,) = [
            a for a in platform.store.alerts(AlertQuery(scene="nev")) if a.rule == "gb32960.bad_signature"
        ]
        assert alert.key == VIN and alert.count == 2 and "signature invalid" in alert.message
        await link.close()

    run(platform, main, keyed())
    (rep,) = reports(platform)  # only the genuine one
    assert rep.key == VIN and rep.signature == "verified" and rep.edition == "2025"


def test_an_unsigned_report_from_a_keyed_vehicle_is_refused_by_default(platform: Platform) -> None:
    unsigned = gb.decode_frame(tsv_frame("GB-RC-11"))
    assert isinstance(unsigned, gb.RealtimeReport)
    unsigned.blocks = [b for b in unsigned.blocks if not isinstance(b, gb.Signature)]
    frame = gb.encode(unsigned)

    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)
        assert await link.send(LOGIN) == b"\x01\x01"
        assert await link.send(frame) == b"\x02\x05"
        # a signature made with another key does not verify either
        assert await link.send(tsv_frame("GB-RC-11")) == b"\x02\x05"  # rtm_con's dummy signature
        assert gw.counters()["frames_refused_bad_signature"] == 2
        await link.close()

    run(platform, main, keyed())
    assert reports(platform) == []


def test_unsigned_accept_stores_the_report_marked_unsigned(platform: Platform) -> None:
    unsigned = gb.decode_frame(tsv_frame("GB-RC-11"))
    assert isinstance(unsigned, gb.RealtimeReport)
    unsigned.blocks = unsigned.blocks[:-1]

    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)
        assert await link.send(LOGIN) == b"\x01\x01"
        await report_then_sync(link, gb.encode(unsigned))
        await link.close()

    run(platform, main, keyed(unsigned="accept"))
    assert [r.signature for r in reports(platform)] == ["unsigned"]


def test_a_signed_report_from_a_vehicle_without_a_key_is_stored_unchecked(platform: Platform) -> None:
    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)
        assert await link.send(LOGIN) == b"\x01\x01"
        await report_then_sync(link, tsv_frame("GB-RC-11"))
        await link.close()

    run(platform, main)  # no keys configured
    assert [r.signature for r in reports(platform)] == ["unchecked"]


def activation(key: int, pub: bytes) -> bytes:
    """A 2025 activation (0x09) for VIN carrying ``pub``, signed with ``key``."""
    msg = gb.decode_frame(frame_vin(tsv_frame("GB-RC-29")))
    assert isinstance(msg, gb.Activation)
    msg.public_key, msg.vin = b"\x04" + pub, VIN
    msg.signature = gb.Signature(gbsec.SM2, bytes(32), bytes(32))
    part = gbsec.signed_part(msg, gb.encode(msg))
    assert part is not None and part.data.endswith(VIN.encode())  # time .. VIN
    msg.signature = gbsec.sign(key, pub, part.data)
    return gb.encode(msg)


def frame_vin(frame: bytes) -> bytes:
    out = bytearray(frame)
    out[4:21] = VIN.encode()
    return bytes(out[:-1]) + bytes([bcc(out[2:-1])])


def test_activation_of_a_keyed_vehicle_must_carry_and_prove_its_key(platform: Platform) -> None:
    other_key, other_pub = gbsec.new_key_pair()

    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)

        for frame, expected in ((activation(KEY, PUB), 1), (activation(other_key, other_pub), 2)):
            link.w.write(frame)
            head = await asyncio.wait_for(link.r.readexactly(24), 5)
            body = await asyncio.wait_for(link.r.readexactly(int.from_bytes(head[22:24], "big") + 1), 5)
            assert head[2] == gb.Command.ACTIVATION_RESPONSE and body[0] == expected
        assert gw.counters()["frames_refused_bad_signature"] == 1
        await link.close()

    run(platform, main, keyed())


def test_a_bad_public_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="public_keys"):
        Gb32960Gateway(
            lambda evs: None, GatewaySettings(port=0), security=SecuritySettings({VIN: "04" + "11" * 64})
        )


def test_vehicles_over_tls_log_in_and_report_and_a_plain_client_fails_cleanly(
    platform: Platform, tmp_path: Path
) -> None:
    files = TlsFiles(tmp_path)
    tls = TlsSettings(cert=str(files.cert), key=str(files.key))

    async def main(gw: Gb32960Gateway) -> None:
        plain = await Link.open(gw)  # a plain-TCP terminal on the TLS port
        plain.w.write(LOGIN)
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(plain.r.read(), 5) == b""  # dropped, never answered
        await plain.close()
        link = await Link.open(gw, files.client())
        assert await link.send(LOGIN) == b"\x01\x01"
        await report_then_sync(link, tsv_frame("GB-RC-11"))
        assert gw.counters()["connections_total"] == 1  # the plain client never reached a session
        await link.close()

    run(platform, main, tls=tls)
    kinds = [type(e) for e in stored(platform)]  # the login sent twice is one event (same id)
    assert sorted(k.__name__ for k in kinds) == ["NevLogin", "NevReport"]


def test_client_certificates_name_the_vin_a_terminal_may_log_in(platform: Platform, tmp_path: Path) -> None:
    files = TlsFiles(tmp_path)
    tls = TlsSettings(cert=str(files.cert), key=str(files.key), client_ca=str(files.ca_file()))
    mine = files.ca.issue_cert("vehicle.test", common_name=VIN)
    other = files.ca.issue_cert("vehicle.test", common_name="LCBEV1A0000000001")

    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw, files.client(mine))
        assert await link.send(LOGIN) == b"\x01\x01"
        await link.close()
        thief = await Link.open(gw, files.client(other))  # a genuine terminal, another vehicle's VIN
        assert await thief.send(LOGIN) == b"\x01\x02"
        assert gw.counters()["frames_login_refused_certificate"] == 1
        await gw.alerts.drain()
        rules = [a.rule for a in platform.store.alerts(AlertQuery(scene="nev"))]
        assert "gb32960.certificate_mismatch" in rules
        await thief.close()

    run(platform, main, tls=tls, tls_vin_in_certificate=True)
    assert [e.key for e in stored(platform) if isinstance(e, NevLogin)] == [VIN]


# -- data-unit encryption (SM4 under a key exchanged with 0x0B) ------------------------------------
PLATFORM_KEY = gbcipher.new_private_key()
DATA_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def encrypting(tmp_path: Path, **kw: Any) -> SecuritySettings:
    key_file = tmp_path / "platform-sm2.key"
    key_file.write_text(f"{PLATFORM_KEY:064x}\n")
    return keyed(platform_key_file=str(key_file), **kw)


def key_exchange(carried: bytes, algorithm: int = gb.Encryption.SM4, days: int = 30) -> bytes:
    hdr = gb.Header("2025", gb.Command.KEY_EXCHANGE, gb.ResponseFlag.COMMAND, VIN)
    return gb.encode(
        gb.KeyExchange(hdr, algorithm, carried, CLOCK - timedelta(days=1), CLOCK + timedelta(days=days))
    )


def test_an_encrypted_signed_report_is_decrypted_then_verified_and_a_bad_one_refused(
    platform: Platform, tmp_path: Path
) -> None:
    wrapped = gbcipher.sm2_encrypt(gbcipher.public_key_of(PLATFORM_KEY), DATA_KEY)
    secret = gbcipher.encrypt_frame(signed_report(), DATA_KEY)

    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)
        assert await link.send(LOGIN) == b"\x01\x01"
        assert await link.send(secret) == b"\x02\x07"  # no key exchanged yet: 0x07 decryption failed
        assert await link.send(key_exchange(wrapped)) == b"\x0b\x01"  # the key taken, acknowledged
        await report_then_sync(link, secret)
        # an altered block decrypts to noise (ECB has no MAC): the signature or the structure fails
        assert await link.send(tampered(secret, 30)) in (b"\x02\x05", b"\x02\x06")
        other = gbcipher.encrypt_frame(signed_report(), bytes(16))
        assert await link.send(other) == b"\x02\x07"  # encrypted with another key
        c = gw.counters()
        assert c["frames_refused_undecryptable"] == 2 and c["frames_key_exchange"] == 1
        await link.close()

    run(platform, main, encrypting(tmp_path))
    (rep,) = reports(platform)  # the one that decrypted, with its signature checked on the plain unit
    assert rep.signature == "verified" and rep.key == VIN


def test_a_key_exchange_is_refused_unless_it_unwraps_for_a_logged_in_vehicle(
    platform: Platform, tmp_path: Path
) -> None:
    wrapped = gbcipher.sm2_encrypt(gbcipher.public_key_of(PLATFORM_KEY), DATA_KEY)
    for_someone_else = gbcipher.sm2_encrypt(gbcipher.public_key_of(gbcipher.new_private_key()), DATA_KEY)

    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)
        assert await link.send(key_exchange(wrapped)) == b"\x0b\x07"  # before the vehicle's login
        assert await link.send(LOGIN) == b"\x01\x01"
        assert await link.send(key_exchange(wrapped, algorithm=gb.Encryption.AES128)) == b"\x0b\x07"
        assert await link.send(key_exchange(for_someone_else)) == b"\x0b\x07"
        assert await link.send(key_exchange(wrapped, days=-2)) == b"\x0b\x01"  # taken, but expired
        assert await link.send(gbcipher.encrypt_frame(signed_report(), DATA_KEY)) == b"\x02\x07"
        assert gw.counters()["frames_key_exchange_refused"] == 3
        await link.close()

    run(platform, main, encrypting(tmp_path))
    assert reports(platform) == []


def test_a_bare_key_is_taken_without_a_platform_key(platform: Platform) -> None:
    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)
        assert await link.send(LOGIN) == b"\x01\x01"
        assert await link.send(key_exchange(DATA_KEY)) == b"\x0b\x01"
        await report_then_sync(link, gbcipher.encrypt_frame(tsv_frame("GB-RC-11"), DATA_KEY))
        await link.close()

    run(platform, main)
    (rep,) = reports(platform)
    assert rep.key == VIN and rep.signature == "unchecked"  # a signature, but no key configured


@pytest.mark.parametrize("text", ["not hex", "00", f"{gbsec.N:064x}"])
def test_a_bad_platform_key_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    f = tmp_path / "k"
    f.write_text(text)
    with pytest.raises(ConfigError, match="platform_key_file"):
        Gb32960Gateway(
            lambda e: None, GatewaySettings(port=0), security=SecuritySettings(platform_key_file=str(f))
        )
    with pytest.raises(ConfigError, match="platform_key_file"):
        Gb32960Gateway(lambda e: None, GatewaySettings(port=0),
                       security=SecuritySettings(platform_key_file=str(tmp_path / "missing")))  # fmt: skip
