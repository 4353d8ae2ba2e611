"""Genealogy (backward and forward, across plants), look-back replay, and the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.errors import NotFoundError
from citybrain.core.events import Event
from citybrain.core.platform import Platform
from citybrain.scenes.factory import genealogy
from citybrain.scenes.factory.events import FactoryTags, FactoryTrace, MaterialInput
from citybrain.scenes.factory.replay import Replayer, ReplaySession, play, publisher
from citybrain.scenes.factory.sim import FactorySimConfig, FactorySimulator
from tests.scenes.factory.factory_testkit import (
    D0,
    M,
    factory_platform,
    factory_settings,
    small_site,
    write_plants,
)


def trace(unit: str, ts: int, machine: str, *lots: str, **kw: Any) -> FactoryTrace:
    return FactoryTrace(
        key=unit,
        ts=ts,
        source="t",
        machine=machine,
        site=str(kw.pop("site", "knit-01")),
        inputs=[MaterialInput(lot=lot) for lot in lots],
        **kw,
    )


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Platform]:
    p = factory_platform(factory_settings(tmp_path, write_plants(tmp_path, small_site())))
    yield p
    p.stop()


def test_genealogy_backward_and_forward(plant: Platform) -> None:
    plant.publish(
        [
            trace(
                "YL-1", D0, "wind-01", "CF-1", site="yarn-01", operator="李娜", params={"tension_cN": 14.2}
            ),
            trace("YL-2", D0 + M, "wind-01", "CF-1", site="yarn-01"),
            trace("KB-1", D0 + 10 * M, "ironing", "YL-1", operator="张伟", params={"temp_c": 168.0}),
            trace("KB-2", D0 + 11 * M, "ironing", "YL-1", "YL-2"),
            trace("KB-3", D0 + 12 * M, "ironing", "YL-2"),
            trace("PL-1", D0 + 20 * M, "palletizing", "KB-1", "KB-2", kind_of_unit="pallet"),
            trace("XX-1", D0 + 21 * M, "other", "YL-10"),  # "YL-1" is a prefix of its input: never a match
        ]
    )
    back = genealogy.backward(plant.store, "PL-1")
    assert back["lots"] == ["CF-1", "KB-1", "KB-2", "YL-1", "YL-2"]
    assert back["machines"] == ["knit-01/ironing", "knit-01/palletizing", "yarn-01/wind-01"]
    assert back["operators"] == ["张伟", "李娜"]
    kb1 = back["tree"]["inputs"][0]["made_of"]
    assert kb1["steps"][0]["params"] == {"temp_c": 168.0} and kb1["inputs"][0]["made_of"]["unit"] == "YL-1"
    fwd = genealogy.forward(plant.store, "CF-1")
    assert fwd["units"] == ["KB-1", "KB-2", "KB-3", "PL-1", "YL-1", "YL-2"]
    assert genealogy.forward(plant.store, "YL-1")["units"] == ["KB-1", "KB-2", "PL-1"]
    with pytest.raises(NotFoundError):
        genealogy.backward(plant.store, "nothing")


def test_replay_an_hour_at_60x(plant: Platform) -> None:
    events: list[Event] = [
        FactoryTags(key="t1/a", ts=D0 + i * 10_000, source="t", values={"good": float(i)}) for i in range(360)
    ]  # one hour, a reading every 10 s
    events.append(FactoryTags(key="t1/b", ts=D0 + 2 * M, source="t", values={"temp": 170.0}))
    events.append(
        FactoryTags(key="t1/a", ts=D0 + 2 * 3_600_000, source="t", values={"good": -1.0})
    )  # outside
    plant.publish(events)
    book = plant.runtime("factory").world.book

    async def main() -> ReplaySession:
        frames: list[dict[str, object]] = []
        plant.hub.bind(asyncio.get_running_loop())
        sub = plant.hub.subscribe({"replay.factory.*"})
        r = Replayer(plant.store, publisher(plant.runtime("factory")), book)
        s = r.start("t1", "L", D0, minutes=1, speed=60)  # the first minute of the hour in about 1 s
        while s.status != "done":
            await asyncio.sleep(0.05)
        while not sub.queue.empty():
            frames.append(sub.queue.get_nowait())
        assert frames and all(f["topic"] == f"replay.factory.{s.id}" for f in frames)
        with pytest.raises(Exception, match="between 1 and 60"):
            r.start("t1", "L", D0, speed=120)
        return s

    s = asyncio.run(main())
    assert s.events == 6 and s.sent == 6 and s.snapshot["t1/a"]["values"] == {"good": 5.0}
    # the whole hour, as fast as possible (what the benchmark measures)
    loaded = Replayer(plant.store, publisher(plant.runtime("factory")), book).load(
        "t1", "L", D0, D0 + 3_600_000
    )
    assert len(loaded) == 361
    whole = ReplaySession("x", "t1", "L", D0, D0 + 3_600_000, 60)
    out: list[dict[str, object]] = []
    asyncio.run(play(loaded, whole, out.append, speed=0))
    assert whole.sent == 361 and whole.snapshot["t1/b"]["values"] == {"temp": 170.0}


def test_simulator_is_deterministic_and_realistic() -> None:
    def run(seed: int) -> list[tuple[str, bytes]]:
        sim = FactorySimulator(FactorySimConfig(seed=seed))
        out = [(o.topic, o.payload) for o in sim.node.births(D0, sim.spb_values(D0))]
        for i in range(1, 400):
            out += [(o.topic, o.payload) for o in sim.messages(D0 + i * 1000)]
        return out

    a, b = run(3), run(3)
    assert a == b and a != run(4)
    topics = {t.split("/")[0] + "/" + t.split("/")[-1] for t, _ in a}
    assert {
        "spBv1.0/ym-01",
        "spBv1.0/spin-01",
        "factory/telemetry",
        "factory/reject",
        "factory/trace",
    } <= topics
    sim = FactorySimulator(FactorySimConfig(seed=3))
    humid = [sim.stations[6].model.pvs["Process/Humidity"].value(sim.rng, D0 + s * 1000) for s in (10, 1700)]
    assert sim.stations[6].ref.key == "yarn-01/spin-02" and humid[1] - humid[0] > 5  # the drifting sensor
