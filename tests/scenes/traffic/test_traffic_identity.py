"""JT/T 808 device identity over real TCP with the real platform behind it (issue 10, item 4):
codes are random and bound to the registering phone, a plate held by one phone is refused to
another, codes derived from the old shipped secret are refused, one live connection per terminal
(the newer authenticated one wins, with an alert), and codes survive a gateway restart."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from citybrain.core.errors import ConfigError
from citybrain.core.outputs import Alert
from citybrain.core.platform import Platform
from citybrain.core.store.base import AlertQuery
from citybrain.gateways.alerts import GatewayAlerts
from citybrain.scenes.traffic import scene
from citybrain.scenes.traffic.auth import AuthBook
from citybrain.scenes.traffic.events import TrafficPosition
from citybrain.scenes.traffic.gateway import Jt808Gateway
from citybrain.scenes.traffic.settings import GatewayConfig
from citybrain.testing import run_gateway
from tests.scenes.traffic.jt808_terminal import PHONE, PLATE, Terminal, gateway, run_terminals
from tests.scenes.traffic.traffic_testkit import T_PEAK, stored, traffic_platform

OWNER, INTRUDER = PHONE, "013900000666"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = traffic_platform(tmp_path)
    yield p
    p.stop()


def run(p: Platform, book: AuthBook, main: Callable[[Jt808Gateway], Awaitable[None]]) -> None:
    run_terminals(p, main, book=book)


def alerts(p: Platform, rule: str) -> list[Alert]:
    return [a for a in p.store.alerts(AlertQuery(scene="traffic")) if a.rule == rule]


def test_a_plate_held_by_one_phone_is_refused_to_another(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        owner = await Terminal.open(gw, OWNER)
        reg = await owner.register()
        assert reg.result == 0 and reg.auth_code
        assert await owner.authenticate(reg.auth_code) == 0
        intruder = await Terminal.open(gw, INTRUDER)
        forged = await intruder.register()  # the owner's plate from another phone number
        assert (forged.result, forged.auth_code) == (1, None)  # 1: vehicle already registered
        # neither the owner's code nor a fresh one opens the vehicle to the intruder
        assert await intruder.authenticate(reg.auth_code) == 1
        assert await intruder.location(T_PEAK) == 1
        assert await owner.location(T_PEAK) == 0  # the real terminal is untouched
        await gw.alerts.drain()
        (alert,) = alerts(platform, "jt808.vehicle_taken")
        assert alert.key == PLATE and alert.data["terminal"] == INTRUDER and alert.data["holder"] == OWNER
        assert [e.terminal for e in stored(platform, TrafficPosition)] == [OWNER]
        await intruder.close()
        await owner.close()

    run(platform, AuthBook(None), main)


def old_derived_code(phone: str) -> str:
    """How codes were made before: an HMAC under the shipped default secret, computable offline."""
    mac = hmac.new(b"citybrain-demo-secret", f"{phone}|bus|{PLATE}".encode(), hashlib.sha256)
    return f"bus|{PLATE}|{mac.hexdigest()[:16]}"


def test_codes_are_random_and_a_derived_code_is_refused(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        t = await Terminal.open(gw, OWNER)
        first = await t.register()
        assert first.auth_code is not None and len(first.auth_code) == 32 and PLATE not in first.auth_code
        assert await t.authenticate(old_derived_code(OWNER)) == 1  # registered, yet the derived code fails
        assert await t.location(T_PEAK) == 1
        second = await t.register()  # the same terminal again: a new code, the old one is void
        assert second.auth_code is not None and second.auth_code != first.auth_code
        assert await t.authenticate(first.auth_code) == 1
        assert await t.authenticate(second.auth_code) == 0
        await t.close()

    run(platform, AuthBook(None), main)
    with pytest.raises(ConfigError, match="auth_secret"):
        scene.load_settings({"gateway": {"auth_secret": "citybrain-demo-secret"}})


def test_second_connection_of_a_terminal_takes_over_and_raises_an_alert(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        first = await Terminal.open(gw, OWNER)
        reg = await first.register()
        assert reg.auth_code is not None and await first.authenticate(reg.auth_code) == 0
        assert await first.location(T_PEAK) == 0
        # the same phone on a second connection, code in hand: also a terminal trying to register
        # again while live is refused (3: terminal already registered)
        second = await Terminal.open(gw, OWNER)
        assert (await second.register()).result == 3
        assert await second.authenticate(reg.auth_code) == 0
        assert await first.closed_by_server()  # the newer authenticated connection wins
        assert await second.location(T_PEAK + 10_000) == 0
        await gw.alerts.drain()
        (alert,) = alerts(platform, "jt808.connected_twice")
        assert alert.key == OWNER and alert.severity == "major"
        old_peer, new_peer = alert.data["old_peer"], alert.data["new_peer"]
        assert old_peer != new_peer and {old_peer, new_peer} == {
            "127.0.0.1:{}".format(t.w.get_extra_info("sockname")[1]) for t in (first, second)
        }
        assert gw.counters()["terminals_live"] == 1 and gw.counters()["terminal_takeovers"] == 1
        await first.close()
        await second.close()

    run(platform, AuthBook(None), main)


def test_codes_survive_a_restart_and_only_digests_are_kept(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "jt808-auth.jsonl"
    codes: list[str] = []

    async def register(gw: Jt808Gateway) -> None:
        t = await Terminal.open(gw, OWNER)
        reg = await t.register()
        assert reg.auth_code is not None
        codes.append(reg.auth_code)
        await t.close()

    async def reauthenticate(gw: Jt808Gateway) -> None:
        t = await Terminal.open(gw, OWNER)
        assert await t.authenticate(codes[0]) == 0
        assert await t.location(T_PEAK) == 0
        await t.close()
        intruder = await Terminal.open(gw, INTRUDER)
        assert (await intruder.register()).result == 1  # the binding survived too
        await intruder.close()

    async def go() -> None:
        for step in (register, reauthenticate):
            gw = gateway(platform, book=AuthBook(path))  # the second one reads the journal afresh
            await gw.start()
            try:
                await asyncio.wait_for(step(gw), 20)
            finally:
                await gw.stop()
            text = path.read_text()
            assert OWNER in text and codes[0] not in text
        await platform.batcher.stop()

    asyncio.run(go())


def test_codes_are_rotated_after_their_maximum_age(platform: Platform) -> None:
    now = [T_PEAK / 1000]
    gw = Jt808Gateway(
        platform.batcher.submit, GatewayConfig(port=0, auth_max_age_days=30), clock=lambda: now[0],
        alerts=GatewayAlerts(platform.runtime("traffic"), "traffic", "jt808"),
    )  # fmt: skip

    async def main(gw: Jt808Gateway) -> None:
        t = await Terminal.open(gw, OWNER)
        code = (await t.register()).auth_code
        assert code is not None
        assert await t.authenticate(code) == 0
        now[0] += 29 * 86_400
        assert await t.authenticate(code) == 0  # 29 days old: still good
        now[0] += 2 * 86_400
        assert await t.authenticate(code) == 1  # 31 days old: refused, register again
        fresh = (await t.register()).auth_code
        assert fresh is not None and fresh != code
        assert await t.authenticate(fresh) == 0
        await t.close()

    run_gateway(platform, gw, main)
    assert gw.counters()["frames_auth_expired"] == 1
