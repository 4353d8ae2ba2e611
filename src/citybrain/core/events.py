"""Typed events, the registry of event kinds, and the JSON / NDJSON batch codecs.

An event is one validated fact: event time ``ts`` (epoch ms, UTC), ``ingest_ts`` (set by the
platform), ``source``, entity ``key`` (the bus partitions by it) and a stable ``id`` used for
idempotency. A client may send its own id; otherwise the id is a hash of the event's content, so
the same event sent twice is stored once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, TypeVar

import msgspec

from citybrain.core.errors import ConfigError, Problem, TooLargeError, ValidationError

# 2000-01-01 .. 2100-01-01 in epoch ms: anything outside is a unit mistake (seconds, microseconds).
MIN_TS = 946_684_800_000
MAX_TS = 4_102_444_800_000

EpochMs = Annotated[int, msgspec.Meta(ge=MIN_TS, le=MAX_TS, description="epoch milliseconds, UTC")]
EntityKey = Annotated[str, msgspec.Meta(min_length=1, max_length=128, description="entity key")]
EventId = Annotated[str, msgspec.Meta(max_length=128, description="stable id; hash of content if empty")]


class Event(msgspec.Struct, kw_only=True, tag_field="kind", forbid_unknown_fields=True):
    """Base of every event kind. Subclasses set ``tag="scene.name"``."""

    key: EntityKey
    ts: EpochMs
    source: Annotated[str, msgspec.Meta(max_length=128)] = ""
    id: EventId = ""
    ingest_ts: int = 0

    scene: ClassVar[str] = "core"
    # made only by the platform's own parts (a route that checks what it is told, a processor, a
    # verified provider notice): the ingest of /api/v1/events refuses it, since a sender could
    # otherwise write, e.g., a payment that never happened
    internal: ClassVar[bool] = False

    @classmethod
    def kind_name(cls) -> str:
        tag = cls.__struct_config__.tag
        return tag if isinstance(tag, str) else cls.__name__


def kind_of(ev: Event, _cache: dict[type, str] = {}) -> str:  # noqa: B006 - a per-class memo
    """The event's kind (its tag); cached per class since it is read for every stored event."""
    cls = type(ev)
    name = _cache.get(cls)
    if name is None:
        name = _cache[cls] = cls.kind_name()
    return name


E = TypeVar("E", bound=type[Event])

_FIELD_RE = re.compile(r"at `\$(?:\[\d+\])?\.?([^`]*)`")
_NAMED_RE = re.compile(r"field `([^`]+)`")


def _problem(line: int, err: Exception) -> Problem:
    msg = str(err)
    where = _FIELD_RE.search(msg)
    named = _NAMED_RE.search(msg)
    fld = where.group(1) if where and where.group(1) else (named.group(1) if named else "")
    reason = msg.split(" - at `", 1)[0]
    if "Invalid value" in reason and fld == "kind":
        reason = f"unknown event kind {reason.split('Invalid value ', 1)[1]}"
    return Problem(line=line, field=fld, reason=reason)


MAX_PROBLEMS = 1_000  # problems kept in detail per batch; the rest are only counted


@dataclass
class DecodedBatch:
    """What a batch decoded into: the valid events and the problems of the bad lines.

    ``problems`` holds at most :data:`MAX_PROBLEMS` in detail; ``rejected`` counts every bad line.
    """

    events: list[Event] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0
    rejected: int = 0

    def reject(self, problem: Problem) -> None:
        self.rejected += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


# A check of one decoded event (e.g. its time against the accepted window): a reason, or None.
Check = Callable[[Event], "str | None"]


class EventRegistry:
    """All known event kinds; the decoder is rebuilt when a kind is added."""

    def __init__(self) -> None:
        self._kinds: dict[str, type[Event]] = {}
        self._one: msgspec.json.Decoder[Any] | None = None
        self._raw_list = msgspec.json.Decoder(list[msgspec.Raw])

    def register(self, cls: E) -> E:
        name = cls.kind_name()
        if name in self._kinds and self._kinds[name] is not cls:
            raise ConfigError(f"event kind {name!r} is registered twice ({self._kinds[name].__qualname__})")
        self._kinds[name] = cls
        self._one = None
        return cls

    def kinds(self) -> dict[str, type[Event]]:
        return dict(self._kinds)

    def get(self, name: str) -> type[Event]:
        return self._kinds[name]

    def _decoder(self) -> msgspec.json.Decoder[Any]:
        if self._one is None:
            if not self._kinds:
                raise ConfigError("no event kinds are registered")
            kinds = tuple(self._kinds.values())
            union: Any = kinds[0] if len(kinds) == 1 else _union(kinds)
            self._one = msgspec.json.Decoder(union)
        return self._one

    def decode_one(self, data: bytes | str) -> Event:
        ev: Event = self._decoder().decode(data)
        return ev

    def decode_json_array(
        self, body: bytes, max_events: int = 1 << 62, check: Check | None = None
    ) -> DecodedBatch:
        """A JSON array of events; problems name the 1-based array item as the line."""
        try:
            items = self._raw_list.decode(body)
        except msgspec.DecodeError as err:
            raise ValidationError([_problem(0, err)]) from err
        check_event_count(len(items), max_events)
        return self._decode_items(enumerate(items, start=1), check)

    def decode_ndjson(
        self, body: bytes, max_events: int = 1 << 62, check: Check | None = None
    ) -> DecodedBatch:
        """Newline-delimited JSON, one event per line (a line holding anything else is that line's
        problem); blank lines are skipped; line numbers are 1-based. The line count is checked
        against ``max_events`` before any line is decoded."""
        check_event_count(body.count(b"\n") + 1 - body.endswith(b"\n"), max_events)
        lines = body.split(b"\n")
        return self._decode_items(((n, ln) for n, ln in enumerate(lines, start=1) if ln.strip()), check)

    def _decode_items(
        self, items: Iterable[tuple[int, bytes | msgspec.Raw]], check: Check | None
    ) -> DecodedBatch:
        # Every line is decoded on its own (as fast as one decode of the joined batch, measured):
        # a line is one event or one problem, never part of a neighbour.
        one = self._decoder()
        out = DecodedBatch()
        events = out.events
        for line, raw in items:
            out.lines += 1
            try:
                ev = one.decode(raw)
            except msgspec.DecodeError as err:
                out.reject(_problem(line, err))
                continue
            except UnicodeDecodeError as err:  # a string that is not UTF-8: this line's problem only
                out.reject(Problem(line, "", f"the line holds text that is not valid UTF-8 ({err.reason})"))
                continue
            why = check(ev) if check is not None else None
            if ev.internal:
                why = (
                    f"event kind {kind_of(ev)!r} is made by the platform itself (a scene's own route or "
                    "processor); it cannot be sent"
                )
                out.reject(Problem(line, "kind", why))
                continue
            if why is None:
                events.append(ev)
            else:
                out.reject(Problem(line, "ts", why))
        return out


def check_event_count(n: int, max_events: int) -> None:
    if n > max_events:
        raise TooLargeError(
            f"{n} events in one request exceed ingest.max_events={max_events}; split the batch"
        )


def _union(kinds: tuple[type[Event], ...]) -> Any:
    from typing import Union

    return Union[kinds]  # noqa: UP007 - a runtime union of classes


REGISTRY = EventRegistry()


def register(cls: E) -> E:
    """Class decorator: add an event kind to the global registry."""
    return REGISTRY.register(cls)


_ENC = msgspec.msgpack.Encoder()
_JSON = msgspec.json.Encoder()


def content_id(ev: Event) -> str:
    """Stable id from the event's content (its kind, key, time, source and fields)."""
    return hashlib.blake2b(_ENC.encode(ev), digest_size=16).hexdigest()


def stamp(events: Sequence[Event], ingest_ts: int) -> None:
    """Give every event its ingest time and, where missing, its content id."""
    for ev in events:
        if not ev.id:
            ev.id = content_id(ev)
        ev.ingest_ts = ingest_ts


def to_json(ev: Event) -> bytes:
    return _JSON.encode(ev)


def iter_json(events: Iterable[Event]) -> Iterator[bytes]:
    for ev in events:
        yield _JSON.encode(ev)


def encode_ndjson(events: Iterable[Event]) -> bytes:
    return b"".join(_JSON.encode(ev) + b"\n" for ev in events)
