"""Processor state committed entry by entry: what a commit writes grows with the batch, not the state.

A processor names the dict fields of its state that hold one entry per entity (``keyed =
("plates",)``: a city's plates, a fleet's vehicles). The rest of the state is one blob, as before;
each entry of a keyed field is its own row of ``processor_entries``, and a commit writes only the
entries the batch changed. The field is a :class:`Tracked` dict: every key the processor reaches
through it (read, set, deleted) is remembered, so a value changed in place, which is always reached
through the dict first, is found; at commit each remembered entry is encoded and written only if its
bytes differ from the committed ones. A processor that replaces the dict, or iterates its values,
gets every entry compared: still exact, just not incremental for that commit.

:class:`StateKeeper` holds a task's committed image (the blob and each entry's committed bytes),
makes the image a commit writes, and rolls the processor back to the committed image (or to one
taken mid-batch) without touching the store, so a failed commit never leaves a half-applied batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

import msgspec

from citybrain.core.processor import AlertBook, Envelope, Processor, snapshot

Entries = dict[str, dict[str, bytes]]  # keyed field -> key -> encoded entry
Delta = dict[str, dict[str, bytes | None]]  # keyed field -> key -> encoded entry, None: deleted

_ENCODER = msgspec.msgpack.Encoder()


class Tracked(dict[str, Any]):
    """A dict that remembers the keys reached through it since its last commit (``dirty``)."""

    __slots__ = ("dirty",)

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        super().__init__(items)
        self.dirty: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.dirty.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:
            self.dirty.add(key)
            return super().__getitem__(key)
        return default

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.dirty.add(key)
        return super().setdefault(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.dirty.add(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.dirty.add(key)
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.dirty.add(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        key, value = super().popitem()
        self.dirty.add(key)
        return key, value

    def clear(self) -> None:
        self.dirty.update(self.keys())
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        new = dict(*args, **kwargs)
        self.dirty.update(new)
        super().update(new)

    def __ior__(self, other: Any) -> Tracked:  # type: ignore[override,misc]
        self.update(other)
        return self

    def values(self) -> Any:
        self.dirty.update(self.keys())  # every value handed out may be changed in place
        return super().values()

    def items(self) -> Any:
        self.dirty.update(self.keys())
        return super().items()


@dataclass
class Image:
    """A processor's state as committed, or as a commit would write it: the envelope of the
    non-keyed fields and the alert book (``blob``), and the entries that differ from the committed
    ones (``delta``)."""

    blob: bytes
    delta: Delta = field(default_factory=dict)


def entry_decoders(state_type: type[msgspec.Struct], fields: tuple[str, ...]) -> dict[str, Any]:
    """A decoder of each keyed field's whole dict (``dict[str, V]``), checked to be one."""
    types = {f.name: f.type for f in msgspec.structs.fields(state_type)}
    out: dict[str, Any] = {}
    for name in fields:
        kind = types.get(name)
        if kind is None or get_origin(kind) is not dict or get_args(kind)[0] is not str:
            raise TypeError(f"{state_type.__name__}.{name} is keyed: it must be a dict[str, ...] field")
        out[name] = msgspec.msgpack.Decoder(kind)
    return out


def _decode_map(decoder: Any, entries: Mapping[str, bytes]) -> dict[str, Any]:
    """Decode encoded entries as one msgpack map (one call into msgspec, not one per entry)."""
    n = len(entries)
    head = (
        bytes([0x80 | n]) if n < 16 else (b"\xde" + n.to_bytes(2) if n < 65_536 else b"\xdf" + n.to_bytes(4))
    )
    parts = [head]
    for key, data in entries.items():
        parts += (_ENCODER.encode(key), data)
    decoded: dict[str, Any] = decoder.decode(b"".join(parts))
    return decoded


class StateKeeper:
    """One task's committed image of its processor's state (see the module docstring)."""

    def __init__(self, proc: Processor[Any]) -> None:
        self.fields: tuple[str, ...] = tuple(proc.keyed)
        self._decoders = entry_decoders(proc.state_type, self.fields)
        self.entries: Entries = {f: {} for f in self.fields}  # as committed
        self.committed = Image(b"")
        self._stored_stale = False  # the stored entries are not the state's (it restarted fresh)

    # -- loading ---------------------------------------------------------------------------------
    def load(self, proc: Processor[Any], blob: bytes | None, entries: Entries) -> AlertBook:
        """The processor's state from a checkpoint's blob and its stored entries; raises
        ``msgspec.DecodeError`` when they no longer decode (the state type changed)."""
        self.entries = {f: dict(entries.get(f, {})) for f in self.fields}
        # entries without a checkpoint (it was deleted to replay the processor) are not its state
        self._stored_stale = blob is None and any(self.entries.values())
        if blob is None:
            book = AlertBook()
            self._wrap(proc, {})
            self.committed = Image(snapshot(proc, book))
            return book
        self.committed = Image(blob)
        return self.rollback(proc)

    def start_fresh(self, proc: Processor[Any], book: AlertBook) -> None:
        """The processor restarted with fresh state over a checkpoint that did not decode: its next
        commit deletes the stored entries it does not have."""
        self._stored_stale = True
        self._wrap(proc, {})  # every stored key dirty: deleted by the next commit
        self.committed = Image(snapshot(proc, book))

    # -- images ----------------------------------------------------------------------------------
    def image(self, proc: Processor[Any], book: AlertBook) -> Image:
        """The state as a commit would write it now; the processor's state is left as it is."""
        state = proc.state
        if not self.fields:
            return Image(snapshot(proc, book))
        held = {name: getattr(state, name) for name in self.fields}
        try:
            for name in self.fields:
                setattr(state, name, {})
            blob = snapshot(proc, book)
        finally:
            for name, held_dict in held.items():
                setattr(state, name, held_dict)
        delta: Delta = {}
        for name, now in held.items():
            base = self.entries[name]
            keys = now.dirty if isinstance(now, Tracked) else now.keys() | base.keys()
            changes: dict[str, bytes | None] = {}
            for key in keys:
                if dict.__contains__(now, key):
                    data = _ENCODER.encode(dict.__getitem__(now, key))
                    if self._stored_stale or base.get(key) != data:  # stale rows are not the state's
                        changes[key] = data
                elif key in base:
                    changes[key] = None
            if changes:
                delta[name] = changes
        return Image(blob, delta)

    def committed_as(self, proc: Processor[Any], image: Image) -> None:
        """``image`` was committed: it is the image to roll back to from now on."""
        for name, changes in image.delta.items():
            base = self.entries[name]
            for key, data in changes.items():
                if data is None:
                    base.pop(key, None)
                else:
                    base[key] = data
        self._stored_stale = False
        self.committed = Image(image.blob)
        for name in self.fields:
            now = getattr(proc.state, name)
            if isinstance(now, Tracked):
                now.dirty.clear()
            else:
                setattr(proc.state, name, Tracked(now))

    def rollback(self, proc: Processor[Any], image: Image | None = None) -> AlertBook:
        """The processor's state as in the committed image, or in ``image`` (taken since)."""
        img = image if image is not None else self.committed
        env = msgspec.msgpack.decode(img.blob, type=Envelope)
        state = msgspec.msgpack.decode(env.state, type=proc.state_type)
        merged: dict[str, dict[str, Any]] = {}
        for name in self.fields:
            entries = {} if self._stored_stale else dict(self.entries[name])
            for key, data in img.delta.get(name, {}).items():
                if data is None:
                    entries.pop(key, None)
                else:
                    entries[key] = data
            merged[name] = _decode_map(self._decoders[name], entries)
        proc.state = state  # only once everything decoded: a failure leaves the processor as it was
        self._wrap(proc, merged, img.delta)
        return env.alerts

    def _wrap(
        self, proc: Processor[Any], merged: dict[str, dict[str, Any]], delta: Delta | None = None
    ) -> None:
        for name in self.fields:
            in_blob = getattr(proc.state, name)  # entries of a checkpoint from before the field was keyed
            entries = merged.get(name, {})
            if in_blob:
                setattr(proc.state, name, {**in_blob, **entries})  # untracked: the next commit writes all
                continue
            tracked = Tracked(entries)
            # what differs from the stored rows: the image's changes, and while the stored rows are
            # not the state's, every one of them (deleted unless the state has it)
            tracked.dirty = set((delta or {}).get(name, ()))
            if self._stored_stale:
                tracked.dirty.update(self.entries[name])
            setattr(proc.state, name, tracked)
