"""The pay-later card on the big screen in Debian's chromium, with its simulator running: the
share of cars let out without stopping in the header, the exits and the gate's answer times, the
last half hour's exits per minute as bars, the money and the operators' queue. Every page fails on
a console error or on a request leaving the machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web import platform_server
from tests.web.browser import Screen, open_screen


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[platform_server.Running]:
    run = platform_server.start(
        tmp_path_factory.mktemp("web-paylater") / "var",
        installed={"paylater"},
        simulators={"paylater": {"cars": 80, "arrivals_per_min": 240, "stay_minutes": 0.1, "tick_s": 0.5}},
    )
    yield run
    run.stop()


@pytest.fixture
def page_of(browser: Any, served: platform_server.Running) -> Iterator[Screen]:
    yield from open_screen(browser, served.url)


def test_the_pay_later_card_shows_the_gates_live(page_of: Screen, served: platform_server.Running) -> None:
    page = page_of.page
    page_of.sign_in(served.tokens["read"])
    card = page.locator(".panel[data-scene=paylater]")
    card.wait_for(timeout=15_000)
    box = card.bounding_box()
    assert box is not None and box["height"] > 100 and box["y"] + box["height"] <= 1080 + 1
    assert "先离场后付费" in card.inner_text()
    # the simulator's cars come and go: a whole minute of exits is counted within two (the figures
    # are drawn anew at each live refresh: looked up each time)
    exits = ".panel[data-scene=paylater] .fig[data-field=exits_per_min] .value"
    counted = f"() => Number(document.querySelector('{exits}')?.textContent.replace(/,/g, '')) > 0"
    page.wait_for_function(counted, timeout=150_000)
    share = page.locator(".headline .fig[data-scene=paylater][data-field=left_first_share]")
    assert share.count() == 1 and "无感离场率" in share.inner_text()
    page.wait_for_function("el => el.dataset.value !== ''", arg=share.element_handle(), timeout=30_000)
    assert 0 < float(share.get_attribute("data-value") or "0") <= 1
    p50 = page.locator(".panel[data-scene=paylater] .fig[data-field=decision_ms_p50] .value").inner_text()
    assert p50 not in ("", "—")  # this node answered the simulator's gates
    assert card.locator(".widget[data-kind=bar]").count() == 1
    page_of.shot("16-paylater")
