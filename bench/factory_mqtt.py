"""Factory scene benchmarks: MQTT -> store throughput, OEE refresh cost, replay speed.

    python bench/factory_mqtt.py [--messages 20000] [--machines 1000]

1. MQTT messages/s and tag values/s from the machine's Mosquitto (127.0.0.1:1883) to the store: a
   separate publisher process sends JSON telemetry (8 tags each) at QoS 1; we time from the first
   message received to the last one acknowledged by our subscriber (acks are sent only once the
   events are durable in DuckDB).
2. OEE refresh for N machines: one reading per machine through the factory processor (time
   integration, counters, 13+ metrics and a live state per machine), then the store commit.
3. Replay: one hour of a five-station line at 1 Hz loaded from the store and played unpaced.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _harness import free_port, machine_facts
from citybrain.core.config import load_settings
from citybrain.core.events import REGISTRY
from citybrain.core.outputs import Outputs
from citybrain.core.platform import Platform
from citybrain.core.processor import AlertBook, Emitter, snapshot
from citybrain.scenes.factory import scene as factory_scene
from citybrain.scenes.factory.events import FactoryTags
from citybrain.scenes.factory.gateway import FactoryMqttServer
from citybrain.scenes.factory.plant import (
    LineSpec,
    MachineSpec,
    PlantBook,
    ShiftSpec,
    SiteSpec,
    TagSpec,
    WorkshopSpec,
)
from citybrain.scenes.factory.processors import FactoryMachines
from citybrain.scenes.factory.replay import Replayer, ReplaySession, play
from citybrain.scenes.factory.settings import FactorySettings, plant_book

T0 = 1_783_296_000_000  # 08:00 China time
PUBLISHER = """
import asyncio, json, logging, sys, aiomqtt
logging.disable(logging.WARNING)  # aiomqtt logs every pending publish beyond 10
async def main(prefix, n, port):
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=1000) as c:
        pending = []
        for i in range(n):
            body = json.dumps({"ts": T0 + i * 100, "good": i, "reject": i // 50, "state": "running",
                               "temp_dc": 1680 + i % 7, "steam_bar": 4.5, "speed": 25.0, "load": 61.0})
            pending.append(c.publish(f"{prefix}/b1/L/m{i % 10}/telemetry", body, qos=1))
            if len(pending) >= 500:
                await asyncio.gather(*pending); pending = []
        await asyncio.gather(*pending)
asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
""".replace("T0", str(T0))


def machines_site(site: str, lines: int, per_line: int) -> SiteSpec:
    tags = {
        "good": TagSpec(role="good"),
        "reject": TagSpec(role="reject"),
        "state": TagSpec(role="state"),
        "temp": TagSpec(role="process", unit="°C", lo=150, hi=185),
        "steam_bar": TagSpec(role="process"),
        "speed": TagSpec(role="process"),
        "load": TagSpec(role="process"),
    }
    return SiteSpec(
        id=site,
        shifts=[ShiftSpec("A", "08:00", "20:00"), ShiftSpec("B", "20:00", "08:00")],
        workshops=[
            WorkshopSpec(
                "W",
                lines=[
                    LineSpec(
                        f"L{li}" if lines > 1 else "L",
                        machines=[
                            MachineSpec(id=f"m{m}" if lines == 1 else f"l{li}m{m}", tags=tags)
                            for m in range(per_line)
                        ],
                    )
                    for li in range(lines)
                ],
            )
        ],
    )


def platform(tmp: Path, book_sites: list[SiteSpec], **scene_settings: object) -> Platform:
    import msgspec

    plants = tmp / f"plants-{uuid.uuid4().hex[:6]}.json"
    plants.write_bytes(msgspec.json.encode({"sites": [msgspec.to_builtins(s) for s in book_sites]}))
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp / f"var-{uuid.uuid4().hex[:6]}")})
    s.scenes["factory"] = {"plants_file": str(plants), **scene_settings}
    for k in factory_scene.events:
        REGISTRY.register(k)
    return Platform(s, scenes={"factory": factory_scene})


def bench_mqtt(tmp: Path, n: int, port: int, label: str) -> None:
    prefix = f"cbbench{uuid.uuid4().hex[:6]}"
    ingest = {
        "mqtt": {
            "url": f"mqtt://127.0.0.1:{port}",
            "client_id": f"cb-bench-{prefix}",
            "topics": [f"{prefix}/#"],
        },
        "tag_rules": [
            {
                "topic": f"{prefix}/+/+/+/telemetry",
                "entity": "{1}/{3}",
                "fields": {"temp_dc": {"tag": "temp", "scale": 0.1}},
            }
        ],
        "sparkplug": False,
    }
    p = platform(tmp, [machines_site("b1", 1, 10)], ingest=ingest)
    p.pipeline.start()
    srv = FactoryMqttServer(p.runtime("factory"))

    async def main() -> tuple[float, float]:
        await srv.start()
        await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
        pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, prefix, str(n), str(port)])
        while srv.subscriber.stats.messages == 0:
            await asyncio.sleep(0.001)
        t0 = t_last = time.perf_counter()
        last = -1
        # until everything is acknowledged, or nothing moved for 2 s (the broker dropped the rest)
        while srv.subscriber.stats.acked < n and time.perf_counter() - t_last < 2.0:
            if srv.subscriber.stats.acked != last:
                last, t_last = srv.subscriber.stats.acked, time.perf_counter()
            await asyncio.sleep(0.005)
        dt = t_last - t0
        pub.wait(60)
        await srv.stop()
        await p.batcher.stop()
        return dt, p.store.count_events()

    dt, stored = asyncio.run(main())
    acked = srv.subscriber.stats.acked
    p.stop()
    print(
        f"MQTT -> store, {label}: {acked} of {n} messages acknowledged in {dt:.2f} s = "
        f"{acked / dt:,.0f} msg/s, "
        f"{8 * acked / dt:,.0f} tag values/s (QoS 1, ack after durable; {stored} events stored; "
        f"{n - acked} dropped by the broker)"
    )


def bench_oee(tmp: Path, machines: int) -> None:
    per_line = 10
    lines = max(1, machines // per_line)
    book = PlantBook([machines_site("big", lines, per_line)])
    proc = FactoryMachines(0, FactorySettings(), book=book)
    keys = [r.key for r in book.machines()]
    p = platform(tmp, [machines_site("x", 1, 1)])
    rounds = 10
    t_proc = t_commit = 0.0
    for r in range(rounds + 1):
        ts = T0 + r * 5_000
        batch = [
            (
                i,
                FactoryTags(
                    key=k,
                    ts=ts,
                    source="b",
                    values={
                        "good": float(r * 5),
                        "reject": float(r // 3),
                        "state": "running",
                        "temp": 168.0 + r % 3,
                        "steam_bar": 4.5,
                        "speed": 25.0,
                        "load": 60.0 + r,
                    },
                ),
            )
            for i, k in enumerate(keys)
        ]
        out = Outputs()
        t0 = time.perf_counter()
        proc.process(batch, Emitter("factory.machines", 0, AlertBook(), out))
        t1 = time.perf_counter()
        p.store.commit("bench.factory", 0, r + 1, snapshot(proc, AlertBook()), out)
        t2 = time.perf_counter()
        if r:  # the first round sets counter baselines and creates state
            t_proc += t1 - t0
            t_commit += t2 - t1
    n_metrics = len(out.metrics)
    print(
        f"OEE refresh, {len(keys)} machines: processor {t_proc / rounds * 1000:.1f} ms, store commit "
        f"{t_commit / rounds * 1000:.1f} ms per refresh ({n_metrics} metric points, {len(out.states)} states)"
    )

    from citybrain.scenes.factory.query import oee_table

    book2 = plant_book(p.runtime("factory"))
    for site in book.sites():
        book2.put_site(site)
    t0 = time.perf_counter()
    rows = oee_table(p.store, book2, "big", T0, T0 + 12 * 3_600_000, "shift", line="L0")
    dt = time.perf_counter() - t0
    print(
        f"OEE history query, one line of {per_line} machines from the store: {dt * 1000:.0f} ms "
        f"({len(rows)} rows)"
    )
    p.stop()


def bench_replay(tmp: Path) -> None:
    p = platform(tmp, [machines_site("r1", 1, 5)])
    events = [
        FactoryTags(
            key=f"r1/m{m}",
            ts=T0 + s * 1000 + m,
            source="b",
            values={"good": float(s), "state": "running", "temp": 168.0},
        )
        for s in range(3600)
        for m in range(5)
    ]
    for i in range(0, len(events), 5000):
        p.publish(events[i : i + 5000])
    book = plant_book(p.runtime("factory"))
    t0 = time.perf_counter()
    loaded = Replayer(p.store, p.hub.publish, book).load("r1", "L", T0, T0 + 3_600_000)
    t1 = time.perf_counter()
    s = ReplaySession("b", "r1", "L", T0, T0 + 3_600_000, 60)
    asyncio.run(play(loaded, s, lambda frame: None, speed=0))
    t2 = time.perf_counter()
    print(
        f"Replay one hour of a 5-machine line ({len(loaded)} events): load {t1 - t0:.2f} s, play "
        f"{t2 - t1:.2f} s unpaced = {len(loaded) / (t2 - t0):,.0f} events/s, "
        f"{3600 / (t2 - t0):,.0f}x real time (API pacing caps at 60x)"
    )
    p.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--machines", type=int, default=1_000)
    a = ap.parse_args()
    print(machine_facts())
    tmp = Path(tempfile.mkdtemp(prefix="cb-bench-factory-"))
    bench_mqtt(tmp, a.messages // 4, 1883, "system Mosquitto 2.0.11 (default: 20 in flight, 1000 queued)")
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n"
        "max_inflight_messages 1000\nmax_queued_messages 0\n"
    )
    broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        bench_mqtt(tmp, a.messages, port, "Mosquitto with 1000 in flight, unlimited queue")
    finally:
        broker.terminate()
        broker.wait(10)
    bench_oee(tmp, a.machines)
    bench_replay(tmp)


if __name__ == "__main__":
    main()
