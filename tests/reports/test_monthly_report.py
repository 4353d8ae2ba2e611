"""``citybrain report monthly``: the PDF of a month's scene data, read back through poppler. Its text
layer (pdftotext) holds the Chinese cover, the contents with page numbers, every scene's heading,
figures from the data and page numbers; its pages (pdftoppm) are real drawings, not blank; the
English rendering of the same data has the English headings."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from citybrain import admin
from citybrain.core.config import Settings, load_settings
from citybrain.core.platform import Platform
from citybrain.core.reports import monthly
from citybrain.scenes.pulse.events import PulseReport
from citybrain.testing import server_ports_env

MONTH = "2026-11"
NOV, _ = monthly.month_range(MONTH)
OCT, _ = monthly.month_range("2026-10")
DAY = 86_400_000

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils is missing: run `make deps` (scripts/apt-packages.txt lists it)",
)


def _settings(data: Path) -> Settings:
    return load_settings(env={"CITYBRAIN_DATA_DIR": str(data), **server_ports_env()})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stopped platform's data folder with two months of city-pulse reports."""
    data = tmp_path_factory.mktemp("var")
    p = Platform(_settings(data))
    try:
        # in event-time order: a window closed by later events does not take earlier ones
        p.publish([PulseReport(key="360102", ts=OCT + 5 * DAY, category="hotline", count=600, id="o1")])
        p.pipeline.drain()
        p.publish(
            [
                PulseReport(key="360102", ts=NOV + 3 * DAY, category="hotline", count=1200, id="n1"),
                PulseReport(key="360102", ts=NOV + 9 * DAY, category="hotline", count=34, id="n2"),
                PulseReport(key="360111", ts=NOV + 20 * DAY, category="parking", count=480, id="n3"),
            ]
        )
        p.pipeline.drain()
    finally:
        p.stop()
    return data


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "CITYBRAIN_DATA_DIR": str(data), **server_ports_env()}
    return subprocess.run(
        [sys.executable, "-c", "from citybrain.cli import main; main()", "report", "monthly", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def _text(pdf: Path, *pages: int) -> str:
    rng = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return subprocess.run(
        ["pdftotext", "-layout", *rng, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def _png(pdf: Path, page: int, out: Path) -> Image.Image:
    prefix = out / f"page-{page}"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(pdf),
            str(prefix),
        ],
        check=True,
        capture_output=True,
    )
    return Image.open(prefix.with_suffix(".png")).convert("L")


@pytest.fixture(scope="module")
def zh_pdf(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    done = _cli(data_dir, "--month", MONTH, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "report-2026-11.zh.pdf" in done.stdout
    return out / "report-2026-11.zh.pdf"


def test_the_chinese_pdf_has_cover_contents_sections_figures_and_page_numbers(zh_pdf: Path) -> None:
    text = _text(zh_pdf)
    pages = text.split("\f")
    assert "平安报告" in pages[0] and "2026年11月" in pages[0]
    assert "第 " not in pages[0]  # the cover has no page number
    # the contents: every scene's title with the page its section starts on
    contents = pages[1]
    assert "目录" in contents
    starts: dict[str, int] = {}
    titles = ["城市脉搏", "新能源汽车监控", "交通态势", "智能工厂", "民情与网格", "帮扶不落一人",
              "先离场后付费"]  # fmt: skip
    for title in titles:
        line = next((x for x in contents.splitlines() if title in x), None)
        assert line is not None, f"{title} missing from the contents:\n{contents}"
        page = starts[title] = int(re.findall(r"(\d+)\s*$", line)[0])
        assert title in pages[page - 1], f"{title} is not on page {page}"
    # figures from the data: 1,714 reports in November, 1,114 more than October's 600
    pulse = re.sub(r"\s+", "", pages[starts["城市脉搏"] - 1])
    assert "报告数" in pulse and "1,714" in pulse and "较上月+1,114" in pulse  # the figure
    assert "报告数为1,714，较上月增加1,114（+185.7%）。" in pulse  # the narrative
    assert "最高的是东湖区（1,234，占72.0%）" in pulse
    assert "东湖区" in pulse and "1,234" in pulse and "青山湖区" in pulse and "480" in pulse
    # page numbers in the footer of every page but the cover
    n = len([p for p in pages if p.strip()])
    for i, page_text in enumerate(pages[1:n], start=2):
        assert f"第{i}页/共{n}页" in re.sub(r"\s+", "", page_text)


def test_the_checksum_file_matches_the_files(zh_pdf: Path) -> None:
    sums = zh_pdf.with_name("report-2026-11.zh.sha256").read_text().splitlines()
    named = {line.split()[1]: line.split()[0] for line in sums}
    assert set(named) == {"report-2026-11.zh.pdf", "report-2026-11.zh.html"}
    for name, digest in named.items():
        assert hashlib.sha256((zh_pdf.parent / name).read_bytes()).hexdigest() == digest


def test_pages_render_to_png_with_text_and_a_chart(zh_pdf: Path, tmp_path: Path) -> None:
    pages = _text(zh_pdf).split("\f")
    chart_page = next(i for i, p in enumerate(pages[2:], start=3) if re.search(r"\d\. 城市脉搏", p))
    for page in (1, chart_page):
        image = _png(zh_pdf, page, tmp_path)
        stat = ImageStat.Stat(image)
        assert stat.stddev[0] > 5, f"page {page} looks blank"
    # the bar chart is vector SVG with its words as text: its axis ticks (no thousands separator,
    # unlike the table's numbers) are in the text layer
    ticks = re.findall(r"^\s*(\d+)\s*$", pages[chart_page - 1], re.M)
    assert {"0", "200", "1000", "1200"} <= set(ticks)


def test_the_english_rendering_of_the_same_data(data_dir: Path, tmp_path: Path) -> None:
    settings = _settings(data_dir)
    this, before = admin.report_sections(
        settings, [monthly.month_range(MONTH), monthly.month_range("2026-10")]
    )
    report = monthly.build(MONTH, this, before, NOV + 35 * DAY)
    written = monthly.write(report, tmp_path, "en")
    assert written.pdf.name == "report-2026-11.en.pdf"
    text = re.sub(r"\s+", " ", _text(written.pdf))
    assert "Public safety report" in text and "November 2026" in text
    for title in ("Contents", "City pulse", "New-energy vehicle monitoring", "Traffic", "Smart factories"):
        assert title in text
    assert "1,714" in text and "Donghu" in text and "Page 2 of" in text
    assert "城市脉搏" not in text
