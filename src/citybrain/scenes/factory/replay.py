"""Look back: replay a past stretch of a line from the store to the live feed at 1x to 60x.

A session loads the line's raw events of the period (tags, links, rejects) from the store and
plays them on the live hub topic ``replay.factory.<session id>`` in frames of ~100 ms of wall time,
keeping the event-time gaps divided by ``speed``. The session's snapshot (last values of each
machine, position, progress) can be polled from the API by clients without a WebSocket. Nothing is
re-processed: a replay never changes metrics, states or alerts.

Finished sessions (done, stopped or failed) stay readable for ``FINISHED_TTL_S`` and at most
``KEEP_FINISHED`` of them are kept (the oldest go first), so the map of sessions stays bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from citybrain.scenes.factory.events import FactoryLink, FactoryReject, FactoryTags
from citybrain.scenes.factory.plant import PlantBook
from citybrain.sdk import ConfigError, Event, NotFoundError, ReadModel

FRAME_S = 0.1
MAX_SPAN_MS = 6 * 3_600_000
KEEP_FINISHED = 32  # finished sessions kept for polling, newest first
FINISHED_TTL_S = 3_600.0  # a finished session is forgotten this long after it ended
RUNNING = ("loading", "playing")
_IDS = itertools.count(1)


@dataclass
class ReplaySession:
    id: str
    site: str
    line: str
    start: int
    end: int
    speed: float
    status: str = "loading"  # loading | playing | done | stopped | failed
    error: str = ""  # why it failed
    finished_at: float | None = None  # time.monotonic() when it left RUNNING
    position: int = 0  # event time reached
    events: int = 0
    sent: int = 0
    frames: int = 0
    snapshot: dict[str, dict[str, Any]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "line": self.line,
            "start": self.start,
            "end": self.end,
            "speed": self.speed,
            "status": self.status,
            "error": self.error,
            "position": self.position,
            "events": self.events,
            "sent": self.sent,
            "frames": self.frames,
            "topic": f"replay.factory.{self.id}",
            "progress": (self.position - self.start) / (self.end - self.start) if self.position else 0.0,
            "snapshot": self.snapshot,
        }


def _apply(snap: dict[str, dict[str, Any]], ev: Event) -> dict[str, Any]:
    d = snap.setdefault(ev.key, {"values": {}})
    d["ts"] = ev.ts
    if isinstance(ev, FactoryTags):
        d["values"].update(ev.values)
    elif isinstance(ev, FactoryLink):
        d["online"] = ev.online
    elif isinstance(ev, FactoryReject):
        d.setdefault("rejects", {})[ev.reason] = d.get("rejects", {}).get(ev.reason, 0) + ev.count
    out: dict[str, Any] = msgspec.to_builtins(ev)
    out.pop("ingest_ts", None)
    return out


def publisher(rt: Any) -> Callable[[str, Any], None]:
    """How a replayer sends a session's frames: on the live topic ``replay.factory.<session id>``."""
    return lambda sid, frame: rt.publish("replay", frame, sid)


class Replayer:
    def __init__(
        self,
        store: ReadModel,
        publish: Callable[[str, Any], None],
        book: PlantBook,
        max_sessions: int = 8,
        keep_finished: int = KEEP_FINISHED,
        finished_ttl_s: float = FINISHED_TTL_S,
    ) -> None:
        self.store, self.publish, self.book = store, publish, book  # publish(session id, frame): live feed
        self.max_sessions = max_sessions
        self.keep_finished, self.finished_ttl_s = keep_finished, finished_ttl_s
        self.sessions: dict[str, ReplaySession] = {}  # running ones plus the bounded finished ones

    def _finish(self, s: ReplaySession, status: str, error: str = "") -> None:
        s.status, s.error, s.finished_at = status, error, time.monotonic()
        self._prune()

    def _prune(self) -> None:
        """Forget finished sessions past their time to live and all but the newest ``keep_finished``."""
        now = time.monotonic()
        finished = sorted(
            (s for s in self.sessions.values() if s.finished_at is not None),
            key=lambda s: s.finished_at or 0.0,
            reverse=True,
        )
        for i, s in enumerate(finished):
            if i >= self.keep_finished or now - (s.finished_at or now) > self.finished_ttl_s:
                del self.sessions[s.id]

    def load(self, site: str, line: str, start: int, end: int) -> list[Event]:
        keys = [r.key for r in self.book.line_machines(site, line)]
        if not keys:
            raise NotFoundError(f"line {site}/{line} is not in the plant model")
        kinds = ["factory.tags", "factory.link", "factory.reject"]
        return self.store.find_events(kinds, keys=keys, start=start, end=end, limit=2_000_000)

    def start(
        self, site: str, line: str, start: int, minutes: float = 60, speed: float = 1.0
    ) -> ReplaySession:
        if not 1 <= speed <= 60:
            raise ConfigError(f"replay speed {speed} must be between 1 and 60")
        span = int(minutes * 60_000)
        if not 0 < span <= MAX_SPAN_MS:
            raise ConfigError(f"replay length {minutes} min must be within 0..{MAX_SPAN_MS // 60_000}")
        if not self.book.line_machines(site, line):
            raise NotFoundError(f"line {site}/{line} is not in the plant model")
        self._prune()
        running = [s for s in self.sessions.values() if s.status in RUNNING]
        if len(running) >= self.max_sessions:
            raise ConfigError(f"{len(running)} replays are running; stop one first")
        sid = f"r{next(_IDS)}"
        s = ReplaySession(sid, site, line, start, start + span, speed)
        self.sessions[sid] = s
        s.task = asyncio.get_running_loop().create_task(self._run(s), name=f"factory-replay-{sid}")
        return s

    def get(self, sid: str) -> ReplaySession:
        self._prune()
        s = self.sessions.get(sid)
        if s is None:
            raise NotFoundError(f"replay {sid!r} does not exist")
        return s

    def stop(self, sid: str) -> ReplaySession:
        s = self.get(sid)
        if s.task is not None and not s.task.done():
            s.task.cancel()
        if s.status in RUNNING:
            self._finish(s, "stopped")
        return s

    async def _run(self, s: ReplaySession) -> None:
        try:
            events = await asyncio.to_thread(self.load, s.site, s.line, s.start, s.end)
            s.events, s.status = len(events), "playing"
            await play(events, s, lambda frame: self.publish(s.id, frame))  # topic replay.factory.<id>
        except asyncio.CancelledError:
            if s.status in RUNNING:
                self._finish(s, "stopped")
            raise
        except Exception as err:  # e.g. the store failed: a failed session must not count as running
            self._finish(s, "failed", str(err))
        else:
            self._finish(s, "done")


async def play(events: list[Event], s: ReplaySession, emit: Any, speed: float | None = None) -> None:
    """Emit ``events`` in frames paced at ``speed`` (``s.speed`` by default; 0 = as fast as possible)."""
    pace = s.speed if speed is None else speed
    t0 = time.monotonic()
    i = 0
    while i < len(events):
        if pace > 0:
            # everything whose event time is due by the end of this frame
            due = s.start + int((time.monotonic() - t0 + FRAME_S) * 1000 * pace)
        else:
            due = events[min(i + 999, len(events) - 1)].ts
        frame = []
        while i < len(events) and events[i].ts <= due:
            frame.append(_apply(s.snapshot, events[i]))
            i += 1
        if frame:
            s.position = frame[-1]["ts"]
            s.sent += len(frame)
            s.frames += 1
            emit({"position": s.position, "speed": pace, "events": frame})
        if pace > 0:
            await asyncio.sleep(FRAME_S)
        else:
            await asyncio.sleep(0)
    s.position = s.end
