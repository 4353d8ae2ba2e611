"""The processor behind an :class:`~citybrain.sdk.windows.Aggregation` (built by the runtime)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from citybrain.core.events import Event
from citybrain.core.processor import Emitter, Processor
from citybrain.core.windows import advance_watermark
from citybrain.sdk.context import Ctx
from citybrain.sdk.windows import Aggregation


class _Empty(msgspec.Struct):
    pass


def state_type(agg: Aggregation[Any]) -> type[msgspec.Struct]:
    """The checkpointed state of an aggregation: watermark, held outliers, open windows per key
    (start -> the accumulators' slots) and the per-key state the scene declared."""
    ks: Any = agg.keystate or _Empty
    return msgspec.defstruct(
        f"AggState_{agg.name.replace('.', '_')}",
        [
            ("watermark", int, 0),
            ("held", list[int], msgspec.field(default_factory=list)),
            ("open", dict[str, dict[int, list[float]]], msgspec.field(default_factory=dict)),
            ("keys", dict[str, ks], msgspec.field(default_factory=dict)),
        ],
    )


class AggregationProcessor(Processor[Any]):
    """One partition of an aggregation; ``name``, ``kinds`` and ``state_type`` are set per class
    by :func:`processor_class`."""

    agg: Aggregation[Any]
    scene: str

    def __init__(self, partition: int, settings: Any) -> None:
        super().__init__(partition, settings)
        self.win = self.agg.window_for(settings).windows()

    def _ctx(self, out: Emitter) -> Ctx[Any]:
        st = self.state
        ks = self.agg.keystate

        def keystate(key: str) -> Any:
            if ks is None:
                raise RuntimeError(f"aggregation {self.agg.name!r} declares no keystate")
            got = st.keys.get(key)
            if got is None:
                got = st.keys[key] = ks()
            return got

        def open_windows(key: str) -> dict[int, dict[str, float]]:
            return {
                s: dict(self.agg.view(key, s, self.win.size_ms, slots).values)
                for s, slots in st.open.get(key, {}).items()
            }

        return Ctx(self.scene, self.config, out, keystate, open_windows, lambda: st.watermark)

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        st, agg, win = self.state, self.agg, self.win
        ctx = self._ctx(out)
        on_event, on_update = agg.hook("on_event"), agg.hook("on_update")
        touched: set[tuple[str, int]] = set()
        for poff, ev in batch:
            key = agg.key(ev)
            st.watermark = advance_watermark(st.held, ev.ts, st.watermark)
            starts = [
                s for s in win.starts(ev.ts) if st.watermark < s + win.size_ms + win.allowed_lateness_ms
            ]
            if not starts:
                out.late(poff, ev, st.watermark)  # its every window is closed: kept in the log, counted
                continue
            per_key = st.open.setdefault(key, {})
            for s in starts:
                slots = per_key.get(s)
                if slots is None:
                    per_key[s] = agg.start(ev)
                else:
                    agg.fold(slots, ev)
                touched.add((key, s))
            if on_event is not None:
                on_event(ev, ctx)
        if on_update is not None:
            for key, s in sorted(touched):
                on_update(agg.view(key, s, win.size_ms, st.open[key][s]), ctx)
        self._expire(ctx)
        after = agg.hook("after")
        if after is not None and touched:
            after(sorted({k for k, _ in touched}), ctx)

    def _expire(self, ctx: Ctx[Any]) -> None:
        st, win, on_close = self.state, self.win, self.agg.hook("on_close")
        closed = []
        for key in list(st.open):
            per_key = st.open[key]
            for s in [s for s in per_key if win.is_closed(st, s)]:
                closed.append(self.agg.view(key, s, win.size_ms, per_key.pop(s)))
            if not per_key:
                del st.open[key]
        if on_close is not None:
            for w in sorted(closed, key=lambda w: (w.end, w.key)):
                on_close(w, ctx)


def processor_class(scene: str, agg: Aggregation[Any]) -> type[AggregationProcessor]:
    """A processor class for ``agg`` (its name is the aggregation's, prefixed by the scene)."""
    return type(
        f"Aggregation_{agg.name}",
        (AggregationProcessor,),
        {
            "name": f"{scene}.{agg.name}",
            "kinds": (agg.kind,),
            "state_type": state_type(agg),
            "agg": agg,
            "scene": scene,
        },
    )
