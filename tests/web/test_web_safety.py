"""The 平安指数 card on the big screen in Debian's chromium (issue 17 item 5), with the safety
simulator's backfill of 14 months through the aggregation API as in `make run`: the nine districts
on the schematic tile map in their bands' colours with the legend, the six-dimension radar (the
first-ranked district and the city's mean), the 13-month trend, the ranking; no unsupported widget
and nothing clipped at 1920x1080; the labels follow the language. Every page fails on a console
error or on a request leaving the machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from citybrain.scenes.safety.panel import BANDS
from tests.web import platform_server, safety_data
from tests.web.browser import Screen, open_screen

CARD = ".panel[data-scene=safety]"
HEX: dict[str, str] = {str(b["value"]): str(b["color"]) for b in BANDS}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[platform_server.Running]:
    run = safety_data.start(tmp_path_factory.mktemp("web-safety") / "var")
    yield run
    run.stop()


@pytest.fixture
def page_of(browser: Any, served: platform_server.Running) -> Iterator[Screen]:
    yield from open_screen(browser, served.url)


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _drawn(page: Any, kind: str) -> None:
    """The chart of ``kind`` in the card has a canvas and no "no data" note."""
    widget = page.locator(f"{CARD} .widget[data-kind={kind}]")
    assert widget.count() == 1
    assert widget.locator("canvas").count() >= 1
    assert widget.locator(".empty-note:not([hidden])").count() == 0, f"{kind} shows no data"
    box = widget.locator(".plot").bounding_box()
    assert box is not None and box["width"] > 250 and box["height"] > 120


def test_the_safety_card_shows_the_districts_by_band_the_radar_and_the_trend(
    page_of: Screen, served: platform_server.Running
) -> None:
    page = page_of.page
    page_of.sign_in(served.tokens["read"])
    card = page.locator(CARD)
    card.wait_for(timeout=15_000)
    # the months were computed before the page opened: every tile has its band
    tiles = page.locator(f"{CARD} .widget[data-kind=tiles] .tile")
    page.wait_for_function(
        """(card) => { const t = [...document.querySelectorAll(card + ' .tile')];
            return t.length === 9 && t.every((e) => e.dataset.value !== ''); }""",
        arg=CARD,
        timeout=120_000,
    )
    assert tiles.count() == 9
    page.wait_for_function(
        "() => { const h = document.querySelector('.headline .fig[data-scene=safety] .value');"
        " return h && /^[0-9.]+$/.test(h.textContent); }",
        timeout=30_000,
    )

    # every district a tile in its band's colour, named, with its score; the bands' legend
    names, seen = [], set()
    for i in range(9):
        tile = tiles.nth(i)
        band = tile.get_attribute("data-value") or ""
        assert band in HEX, band
        seen.add(band)
        assert tile.evaluate("el => getComputedStyle(el).backgroundColor") == _rgb(HEX[band])
        name, score = tile.locator(".tname").inner_text(), tile.locator("b").inner_text()
        names.append(name)
        assert name.endswith(("区", "县")) and score.endswith("分") and 60 <= float(score[:-1]) <= 100
    assert len(set(names)) == 9 and "东湖区" in names and "进贤县" in names
    legend = page.locator(f"{CARD} .tile-legend").inner_text()
    assert all(b in legend for b in HEX)
    assert "不是行政边界" in page.locator(f"{CARD} .widget[data-kind=tiles] .note").inner_text()
    # the tiles lie on the grid the answer gives (新建区 north of 红谷滩区, 进贤县 the east-most)
    xy = {n: tiles.nth(i).bounding_box() for i, n in enumerate(names)}
    assert xy["新建区"]["y"] < xy["红谷滩区"]["y"] and xy["新建区"]["x"] == xy["红谷滩区"]["x"]
    assert xy["进贤县"]["x"] == max(b["x"] for b in xy.values())

    _drawn(page, "radar")
    _drawn(page, "line")
    ranking = page.locator(f"{CARD} .widget[data-kind=table] tbody tr")
    assert ranking.count() == 9 and ranking.first.locator("td").first.inner_text() == "1"

    # nothing unsupported, nothing clipped: the card on screen, the tiles' texts whole, no widget
    # wider than the card
    assert "不支持的组件类型" not in page.inner_text("body")
    box = card.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 1080 + 1
    clipped = page.evaluate(
        """(card) => [...document.querySelectorAll(card + ' .tile .tname, ' + card + ' .tile b')]
            .filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent)""",
        CARD,
    )
    assert clipped == []
    wide = page.evaluate(
        """(card) => { const c = document.querySelector(card + ' .body');
            return [...c.querySelectorAll('.widget')].filter((w) => w.scrollWidth > c.clientWidth + 1)
              .map((w) => w.dataset.kind); }""",
        CARD,
    )
    assert wide == []
    page_of.shot("17-safety")

    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert "Excellent" in page.locator(f"{CARD} .tile-legend").inner_text()
    assert "not its boundary" in page.locator(f"{CARD} .widget[data-kind=tiles] .note").inner_text()
    assert tiles.first.locator("b").inner_text().endswith("pts")
