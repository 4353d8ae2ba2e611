"""The report archive and its schedule over a real platform's store (one scene: PDF rendering takes
a second a report): every report kept with its files' SHA-256 in a manifest that survives a crash
mid-write, a month made again as a new version, a changed file refused, the schedule making last
month's report once (across a restart, with an injected clock), a failure kept and retried later,
and a generation already running joined rather than repeated."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.cases.engine import BJT
from citybrain.core.config import ReportsSettings, Settings, load_settings
from citybrain.core.errors import ConfigError, ValidationError
from citybrain.core.platform import Platform
from citybrain.core.reports.archive import Archive, ChecksumError
from citybrain.core.reports.monthly import month_range
from citybrain.core.reports.schedule import Reports, Sections
from citybrain.core.scenes import discover
from citybrain.scenes.pulse.events import PulseReport
from citybrain.testing import server_ports_env

NOV, _ = month_range("2026-11")
DAY = 86_400_000


def bjt(text: str) -> int:
    """'2026-12-01 06:30' in Beijing time, as epoch ms."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BJT).timestamp() * 1000)


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A stopped platform (the city-pulse scene only) with November's reports in its store."""
    data = tmp_path_factory.mktemp("var")
    settings: Settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(data), **server_ports_env()})
    p = Platform(settings, scenes=discover({"pulse"}))
    p.publish([PulseReport(key="360102", ts=NOV + 3 * DAY, category="hotline", count=1200, id="n1")])
    p.pipeline.drain()
    yield p
    p.stop()


def sections_of(p: Platform) -> Sections:
    return lambda periods: [p.report(start, end) for start, end in periods]


def reports(p: Platform, root: Path, clock: Clock, **settings: Any) -> Reports:
    return Reports(ReportsSettings(**settings), root, sections_of(p), clock)


def test_a_report_is_archived_with_its_checksums_and_a_month_made_again_is_a_new_version(
    platform: Platform, tmp_path: Path
) -> None:
    clock = Clock(bjt("2026-12-02 09:00"))
    r = reports(platform, tmp_path, clock)
    first, made = r.generate("2026-11", "zh", "张三")
    assert made and first.id == "monthly-2026-11-zh-v1" and first.version == 1
    assert first.generated_by == "张三" and first.generated_ts == clock.now and first.sections == ["pulse"]
    assert first.seconds > 0
    assert {f.name: f.media_type for f in first.files} == {
        "report-2026-11.zh.pdf": "application/pdf",
        "report-2026-11.zh.html": "text/html; charset=utf-8",
    }
    for f in first.files:
        data = (tmp_path / first.id / f.name).read_bytes()
        assert f.size == len(data) and f.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / first.id / "report-2026-11.zh.sha256").is_file()  # sha256sum -c works there too
    clock.now += 60_000
    second, _ = r.generate("2026-11", "zh", "cli")
    assert second.id == "monthly-2026-11-zh-v2" and second.version == 2
    # the manifest on disk, read by a new archive (a restart): both versions, newest first
    again = Archive(tmp_path)
    assert [e.id for e in again.entries("monthly", "2026-11")] == [second.id, first.id]
    assert again.get(first.id) == first and again.entries(language="en") == []
    meta, pdf = again.read(first.id, "report-2026-11.zh.pdf")
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == meta.sha256
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [e["id"] for e in manifest["entries"]] == [first.id, second.id]


def test_a_changed_file_is_refused_with_a_clear_error(platform: Platform, tmp_path: Path) -> None:
    r = reports(platform, tmp_path, Clock(bjt("2026-12-02 09:00")))
    entry, _ = r.generate("2026-11", "en", "cli")
    pdf = tmp_path / entry.id / "report-2026-11.en.pdf"
    data = bytearray(pdf.read_bytes())
    data[200] ^= 0x01  # one bit: the size is the same
    pdf.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"report-2026-11\.en\.pdf does not match its checksum"):
        r.archive.read(entry.id, "report-2026-11.en.pdf")
    assert r.archive.read(entry.id, "report-2026-11.en.html")[1].startswith(b"<!doctype html>")
    pdf.unlink()
    with pytest.raises(ChecksumError, match="is missing"):
        r.archive.read(entry.id, "report-2026-11.en.pdf")


def test_a_crash_mid_write_leaves_the_manifest_whole(platform: Platform, tmp_path: Path) -> None:
    r = reports(platform, tmp_path, Clock(bjt("2026-12-02 09:00")))
    first, _ = r.generate("2026-11", "zh", "cli")
    before = (tmp_path / "manifest.json").read_bytes()
    # a crash while the next manifest was being written (its temporary file half written), after
    # a report's folder was moved in place but before it was listed, and while one was staged
    (tmp_path / "manifest.json.tmp").write_bytes(before[: len(before) // 2])
    (tmp_path / "monthly-2026-11-zh-v2").mkdir()
    (tmp_path / "monthly-2026-11-zh-v2" / "report-2026-11.zh.pdf").write_bytes(b"%PDF half")
    stale = tmp_path / ".staging-1-1"
    stale.mkdir()
    old = time.time() - 7_200
    import os

    os.utime(stale, (old, old))
    restarted = reports(platform, tmp_path, Clock(bjt("2026-12-02 10:00")))
    assert [e.id for e in restarted.archive.entries()] == [first.id]
    assert not stale.exists()  # the crash's staging folder is cleaned at start
    second, _ = restarted.generate("2026-11", "zh", "cli")
    assert second.id == "monthly-2026-11-zh-v2"  # the unlisted folder was replaced, not kept
    assert restarted.archive.read(second.id, "report-2026-11.zh.pdf")[1].startswith(b"%PDF-")
    assert not (tmp_path / "manifest.json.tmp").exists()
    assert [e.id for e in Archive(tmp_path).entries()] == [second.id, first.id]


def test_the_schedule_makes_last_month_s_reports_once_across_a_restart(
    platform: Platform, tmp_path: Path
) -> None:
    clock = Clock(bjt("2026-12-03 05:59"))
    r = reports(platform, tmp_path, clock, day=3, hour=6)
    assert r.due(clock.now) == [] and r.tick() == []  # not yet: the 3rd at 06:00 Beijing time
    clock.now = bjt("2026-12-03 06:00")
    assert r.due(clock.now) == [("2026-11", "zh"), ("2026-11", "en")]
    made = r.tick()
    assert [e.id for e in made] == ["monthly-2026-11-zh-v1", "monthly-2026-11-en-v1"]
    assert {e.generated_by for e in made} == {"schedule"}
    clock.now += 5 * 60_000
    assert r.tick() == []  # made: not again
    # a restart later in the month: the archive says it was made
    clock.now = bjt("2026-12-20 12:00")
    restarted = reports(platform, tmp_path, clock, day=3, hour=6)
    assert restarted.due(clock.now) == [] and restarted.tick() == []
    assert len(restarted.archive.entries()) == 2
    status = restarted.status()
    assert status["due"] == [] and status["last_error"] is None and status["last_check_ts"] == clock.now
    # next month, December's report is due (only the language still configured)
    january = reports(platform, tmp_path, clock, day=3, hour=6, languages=["zh"])
    assert january.due(bjt("2027-01-03 07:00")) == [("2026-12", "zh")]


def test_a_report_made_by_hand_before_the_schedule_does_not_count(platform: Platform, tmp_path: Path) -> None:
    clock = Clock(bjt("2026-12-01 03:00"))
    r = reports(platform, tmp_path, clock, hour=6, languages=["zh"])
    r.generate("2026-11", "zh", "张三")  # early: the month's data may still be arriving
    assert r.due(bjt("2026-12-01 06:00")) == [("2026-11", "zh")]


def test_a_failure_is_kept_and_tried_again_later(platform: Platform, tmp_path: Path) -> None:
    calls: list[int] = []
    real = sections_of(platform)

    def flaky(periods: list[tuple[int, int]]) -> Sequence[Mapping[str, Mapping[str, Any]]]:
        calls.append(len(periods))
        if len(calls) == 1:
            raise OSError("the store's disk is not mounted")
        return real(periods)

    clock = Clock(bjt("2026-12-01 07:00"))
    r = Reports(ReportsSettings(languages=["zh"], retry_s=600), tmp_path, flaky, clock)
    assert r.tick() == []
    status = r.status()
    assert status["failures"] == 1 and "the store's disk is not mounted" in status["last_error"]
    assert status["next_try_ts"] == clock.now + 600_000 and status["due"] == [
        {"period": "2026-11", "language": "zh"}
    ]
    clock.now += 300_000
    assert r.tick() == [] and len(calls) == 1  # waits retry_s
    clock.now += 300_000
    assert [e.id for e in r.tick()] == ["monthly-2026-11-zh-v1"]
    status = r.status()
    assert (
        status["failures"] == 0
        and status["last_error"] is None
        and status["last_made"] == "monthly-2026-11-zh-v1"
    )


def test_a_generation_running_is_joined_not_repeated(platform: Platform, tmp_path: Path) -> None:
    entered, go = threading.Event(), threading.Event()
    real = sections_of(platform)

    def slow(periods: list[tuple[int, int]]) -> Sequence[Mapping[str, Mapping[str, Any]]]:
        entered.set()
        assert go.wait(30)
        return real(periods)

    r = Reports(ReportsSettings(), tmp_path, slow, Clock(bjt("2026-12-02 09:00")))
    answers: list[tuple[str, bool]] = []

    def run() -> None:
        entry, made = r.generate("2026-11", "zh", "cli")
        answers.append((entry.id, made))

    threads = [threading.Thread(target=run) for _ in range(2)]
    threads[0].start()
    assert entered.wait(30)
    threads[1].start()
    time.sleep(0.3)
    assert r.running() == [{"period": "2026-11", "language": "zh"}]
    go.set()
    for t in threads:
        t.join(60)
    assert sorted(answers) == [("monthly-2026-11-zh-v1", False), ("monthly-2026-11-zh-v1", True)]
    assert len(r.archive.entries()) == 1 and r.running() == []


def test_bad_settings_and_months_are_refused(platform: Platform, tmp_path: Path) -> None:
    bads: list[dict[str, Any]] = [{"day": 31}, {"hour": 24}, {"languages": ["fr"]}, {"languages": []}]
    for bad in bads:
        with pytest.raises(ConfigError, match="reports"):
            reports(platform, tmp_path, Clock(0), **bad)
    r = reports(platform, tmp_path, Clock(bjt("2026-12-02 09:00")))
    with pytest.raises(ValidationError, match="has not begun"):
        r.generate("2027-01", "zh", "cli")
    with pytest.raises(ValidationError, match="YYYY-MM"):
        r.generate("2026-13", "zh", "cli")
    assert r.archive.entries() == []


def test_citybrain_report_list_shows_the_archive(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from citybrain.cli import app

    r = reports(platform, tmp_path / "reports", Clock(bjt("2026-12-02 09:00")))
    entry, _ = r.generate("2026-11", "en", "张三")
    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))
    out = CliRunner().invoke(app, ["report", "list"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("monthly-2026-11-en-v1  2026-12-02 09:00  by 张三")
    pdf = entry.file("report-2026-11.en.pdf")
    assert f"  {pdf.sha256}  report-2026-11.en.pdf  ({pdf.size:,} bytes)" in lines
    assert CliRunner().invoke(app, ["report", "list", "--lang", "zh"]).output == ""
