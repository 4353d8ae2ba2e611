"""Reports made and archived: on demand (the API, the CLI) and on schedule (``[reports]``).

``Reports.generate`` renders a month's report in one language and archives it; a generation of
the same month and language already running is joined, never started twice. The schedule makes
last month's report in each configured language once the month's ``day`` and Beijing ``hour`` have
come: it is due while the archive holds no report of that month and language made since then, so
it is made once a month even across restarts. A failure is logged, kept in ``status()`` (the API
shows it) and tried again ``retry_s`` later. It runs in a thread of its own: the rendering (seconds)
never holds up the pipeline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

from citybrain.core.cases.engine import BJT
from citybrain.core.cases.kpi import month_of, month_range
from citybrain.core.clock import now_ms
from citybrain.core.config import ReportsSettings
from citybrain.core.errors import ConfigError, Problem, ValidationError
from citybrain.core.reports.archive import Archive, Entry

__all__ = ["KIND", "LANGUAGES", "Reports", "Sections"]

log = logging.getLogger(__name__)
KIND = "monthly"
LANGUAGES = ("zh", "en")
# every scene's report section for each [start, end) asked: Platform.report, admin.report_sections
Sections: TypeAlias = Callable[[list[tuple[int, int]]], Sequence[Mapping[str, Mapping[str, Any]]]]


def _previous(month: str) -> str:
    return month_of(month_range(month)[0] - 1)


def check_month(month: str, now: int) -> str:
    """``month`` when it is a month written YYYY-MM that has begun (a 422 otherwise)."""
    start, _ = month_range(month)
    if start > now:
        raise ValidationError([Problem(0, "month", f"{month} has not begun yet (Beijing time)")])
    return month


class Reports:
    def __init__(
        self, settings: ReportsSettings, root: Path, sections: Sections, clock: Callable[[], int] = now_ms
    ) -> None:
        bad = [x for x in settings.languages if x not in LANGUAGES]
        if bad or not settings.languages:
            raise ConfigError(
                f"reports.languages must name some of {list(LANGUAGES)}, not {settings.languages}"
            )
        if not 1 <= settings.day <= 28:
            raise ConfigError(f"reports.day must be 1..28 (every month has it), not {settings.day}")
        if not 0 <= settings.hour <= 23:
            raise ConfigError(f"reports.hour must be 0..23 (Beijing time), not {settings.hour}")
        self.settings = settings
        self.archive = Archive(root)
        self.sections = sections
        self.clock = clock
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], Future[Entry]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_check_ts: int | None = None
        self.last_made: str | None = None  # the id of the schedule's last report
        self.last_error: str | None = None
        self.failures = 0  # in a row
        self.next_try_ts = 0

    # -- on demand -------------------------------------------------------------------------------
    def generate(self, month: str, language: str, by: str) -> tuple[Entry, bool]:
        """The archived report of ``month`` in ``language`` made now (True), or the one a running
        generation of the same month and language made (False: it was joined, not repeated)."""
        if language not in LANGUAGES:
            raise ValidationError([Problem(0, "language", f"{language!r} is not one of {list(LANGUAGES)}")])
        check_month(month, self.clock())
        key = (month, language)
        mine: Future[Entry] = Future()
        with self._lock:
            running = self._running.get(key)
            if running is None:
                self._running[key] = mine
        if running is not None:
            return running.result(), False
        try:
            entry = self._make(month, language, by)
        except BaseException as err:
            mine.set_exception(err)
            raise
        else:
            mine.set_result(entry)
            return entry, True
        finally:
            with self._lock:
                del self._running[key]

    def running(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"period": m, "language": lang} for m, lang in self._running]

    def _make(self, month: str, language: str, by: str) -> Entry:
        from citybrain.core.reports import monthly  # matplotlib, WeasyPrint: only when one is made

        began = time.perf_counter()
        this, before = self.sections([month_range(month), month_range(_previous(month))])
        report = monthly.build(month, this, before, self.clock())
        staged = self.archive.staging()
        written = monthly.write(report, staged, "en" if language == "en" else "zh")
        entry = self.archive.add(
            staged, [written.pdf, written.html], kind=KIND, period=month, language=language,
            generated_ts=report.generated_ms, generated_by=by, seconds=time.perf_counter() - began,
            sections=list(this),
        )  # fmt: skip
        log.info("report %s made by %s in %.1f s", entry.id, by, entry.seconds)
        return entry

    # -- on schedule -----------------------------------------------------------------------------
    def due_since(self, now: int) -> int:
        """The moment of this (Beijing) month from which last month's report is due."""
        bj = datetime.fromtimestamp(now / 1000, BJT)
        return int(bj.replace(day=self.settings.day, hour=self.settings.hour, minute=0, second=0,
                              microsecond=0).timestamp() * 1000)  # fmt: skip

    def due(self, now: int) -> list[tuple[str, str]]:
        """(month, language) of the reports the schedule should make at ``now``."""
        since = self.due_since(now)
        if now < since:
            return []
        month = _previous(month_of(now))
        made = {e.language for e in self.archive.entries(KIND, month) if e.generated_ts >= since}
        return [(month, lang) for lang in self.settings.languages if lang not in made]

    def tick(self, now: int | None = None) -> list[Entry]:
        """Make the reports due (the schedule's one round); a failure waits ``retry_s``."""
        now = self.clock() if now is None else now
        self.last_check_ts = now
        if now < self.next_try_ts:
            return []
        made: list[Entry] = []
        for month, language in self.due(now):
            try:
                entry, _ = self.generate(month, language, "schedule")
            except Exception as err:
                self.failures += 1
                self.last_error = f"{month} {language}: {type(err).__name__}: {err}"
                self.next_try_ts = now + int(self.settings.retry_s * 1000)
                log.exception("the scheduled report of %s (%s) failed; next try in %.0f s",
                              month, language, self.settings.retry_s)  # fmt: skip
                break
            made.append(entry)
            self.last_made, self.last_error, self.failures, self.next_try_ts = entry.id, None, 0, 0
        return made

    def status(self) -> dict[str, Any]:
        s = self.settings
        now = self.clock()
        return {
            "enabled": s.enabled, "day": s.day, "hour": s.hour, "languages": list(s.languages),
            "running": self.running(), "due": [{"period": m, "language": lang} for m, lang in self.due(now)],
            "last_check_ts": self.last_check_ts, "last_made": self.last_made, "last_error": self.last_error,
            "failures": self.failures, "next_try_ts": self.next_try_ts or None,
        }  # fmt: skip

    def start(self) -> None:
        """The schedule's thread: a first round ``first_check_s`` after the start (the simulators and
        the departments' deliveries have come in), then one every ``check_every_s``."""
        self._thread = threading.Thread(target=self._loop, name="citybrain-reports", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        wait = max(1.0, self.settings.first_check_s)
        while not self._stop.wait(wait):
            wait = max(1.0, self.settings.check_every_s)
            try:
                self.tick()
            except Exception:
                log.exception("report schedule round failed")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
