"""Traffic gateway benchmark: JT/T 808 end to end into the store, many held terminals, and probe ->
segment index latency. Prints its figures; bounded runtime (about 2 minutes at the defaults).

    python bench/traffic_gateway.py                 # 10,000 terminals reporting every 10 s
    python bench/traffic_gateway.py --terminals 2000 --hold 20

Phases (server in this process, terminals in a child process so both cores work and each side
has its own file descriptors):
  A. ``--terminals`` connect, register, authenticate, then report 0x0200 every ``--every`` s for
     ``--hold`` s, with the processing pipeline running (map matching included). Reported: held
     connections, acks, ack latency, pipeline lag, peak RSS of the server process.
  B. ``--blast`` connections send locations with up to 32 unacknowledged each for ``--blast-s`` s:
     frames/s acknowledged, i.e. decoded, made durable in the store and answered (pipeline off).
  C. three probe vehicles drive one segment; time from submitting the fix that completes their
     traversals to the segment's index being visible in the store (stage 1 + stage 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from citybrain.core.config import load_settings
from citybrain.core.events import REGISTRY, Event
from citybrain.core.platform import Platform
from citybrain.protocols import jt808
from citybrain.scenes.traffic import roadnet, scene
from citybrain.scenes.traffic.events import TrafficPosition
from citybrain.scenes.traffic.gateway import Jt808Gateway
from citybrain.scenes.traffic.settings import GatewayConfig, TrafficSettings
from citybrain.scenes.traffic.sim import auth_frame, location_frame, register_frame
from citybrain.scenes.traffic.simworld import Fix


# -- terminals (child process) -------------------------------------------------------------------
class Term:
    def __init__(self, i: int) -> None:
        self.phone = f"0138{i:08d}"
        self.i = i
        self.serial = 0
        self.sent: dict[int, float] = {}
        self.lat: list[float] = []
        self.acks = 0
        self.splitter = jt808.FrameSplitter()

    def nxt(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial


async def _reply(t: Term, r: asyncio.StreamReader) -> jt808.Message:
    while True:
        frames = t.splitter.feed(await asyncio.wait_for(r.read(4096), 60))
        if frames:
            return jt808.decode_frame(frames[0])


async def _login(t: Term, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    r, w = await asyncio.open_connection(host, port)
    w.write(register_frame(t.phone, t.nxt(), f"赣B{t.i:05d}", 1))
    reg = (await _reply(t, r)).body
    assert isinstance(reg, jt808.RegisterResponse) and reg.auth_code
    w.write(auth_frame(t.phone, t.nxt(), reg.auth_code))
    await _reply(t, r)
    return r, w


async def _reader(t: Term, r: asyncio.StreamReader) -> None:
    while data := await r.read(65536):
        now = time.perf_counter()
        for f in t.splitter.feed(data):
            body = jt808.decode_frame(f).body
            if isinstance(body, jt808.PlatformGeneralResponse):
                t.acks += 1
                sent = t.sent.pop(body.reply_serial, None)
                if sent is not None:
                    t.lat.append(now - sent)


def _places(tn: roadnet.TrafficNetwork, n: int) -> list[tuple[float, float]]:
    """One point on the network per terminal, computed once: the load generator shares the two
    cores with the server, so it must not spend them on geometry."""
    out = []
    for i in range(n):
        e = (i * 7) % len(tn.net)
        out.append(tn.net.point_on_edge(e, float(tn.net.length[e]) / 2))
    return out


def _fix(place: tuple[float, float], k: int) -> Fix:
    return Fix(
        "t", "taxi", int(time.time()) * 1000, round(place[0] + k * 1e-5, 6), round(place[1], 6), 30.0, 0.0
    )


async def hold(host: str, port: int, n: int, every: float, seconds: float) -> dict[str, Any]:
    tn = roadnet.world(TrafficSettings(), Path())
    terms = [Term(i) for i in range(n)]
    places = _places(tn, n)
    t0 = time.perf_counter()
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for start in range(0, n, 500):  # connect in waves: the accept backlog is finite
        conns += await asyncio.gather(*(_login(t, host, port) for t in terms[start : start + 500]))
    connect_s = time.perf_counter() - t0
    readers = [asyncio.create_task(_reader(t, r)) for t, (r, _) in zip(terms, conns, strict=True)]
    sent = 0
    t1 = time.perf_counter()
    k = 0
    while time.perf_counter() - t1 < seconds:
        slot = time.perf_counter()
        for t, (_, w) in zip(terms, conns, strict=True):  # staggered over the interval
            if (t.i + k) % 10 == 0:
                s = t.nxt()
                t.sent[s] = time.perf_counter()
                w.write(location_frame(t.phone, s, _fix(places[t.i], k)))
                sent += 1
        k += 1
        await asyncio.sleep(max(0.0, every / 10 - (time.perf_counter() - slot)))
    await asyncio.sleep(3)
    lat = sorted(x for t in terms for x in t.lat)
    for task in readers:
        task.cancel()
    for _, w in conns:
        w.close()
    return {
        "terminals": n,
        "connect_s": round(connect_s, 2),
        "sent": sent,
        "acked": len(lat),
        "ack_p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "ack_p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None,
    }


async def blast(host: str, port: int, n: int, seconds: float) -> dict[str, Any]:
    terms = [Term(1_000_000 + i) for i in range(n)]
    conns = await asyncio.gather(*(_login(t, host, port) for t in terms))
    base = (int(time.time()) - 20 * 3600) * 1000  # in the past: every frame valid and distinct
    stop = time.perf_counter() + seconds

    async def one(t: Term, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        inflight = 0
        while time.perf_counter() < stop:
            while inflight < 32:
                s = t.nxt()
                w.write(
                    location_frame(t.phone, s, Fix("t", "taxi", base + s * 1000, 18.05, 59.34, 30.0, 0.0))
                )
                inflight += 1
            data = await r.read(65536)
            got = len(t.splitter.feed(data))
            t.acks += got
            inflight -= got

    t0 = time.perf_counter()
    await asyncio.gather(*(one(t, r, w) for t, (r, w) in zip(terms, conns, strict=True)))
    dt = time.perf_counter() - t0
    for _, w in conns:
        w.close()
    acks = sum(t.acks for t in terms)
    return {"connections": n, "seconds": round(dt, 1), "acked": acks, "frames_per_s": round(acks / dt)}


# -- server (this process) -----------------------------------------------------------------------
def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)


async def wait_child(proc: subprocess.Popen[str]) -> dict[str, Any]:
    while proc.poll() is None:
        await asyncio.sleep(0.2)
    out = proc.stdout.read() if proc.stdout else ""
    res: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return res


async def latency(p: Platform) -> dict[str, Any]:
    """Probe fixes -> segment index visible in the store."""
    tn = roadnet.world(TrafficSettings(), Path())
    net = tn.net
    results = []
    for attempt, eid in enumerate([1, 2, 41, 101, 201]):
        i = net.index_of(eid)
        length = float(net.length[i])
        now = int(time.time() * 1000) - 20_000
        # the next segment on, so the vehicles leave this one: follow the graph from its end
        nxt = next(j for j in range(len(net)) if int(net.src[j]) == int(net.dst[i]) and j != i)

        def fixes(
            step: int,
            i: int = i,
            nxt: int = nxt,
            now: int = now,
            length: float = length,
            attempt: int = attempt,
        ) -> list[Event]:
            out: list[Event] = []
            for v in range(3):
                d = step * length / 3 - 5
                e, off = (i, max(d, 0.5)) if d <= length else (nxt, min(d - length, float(net.length[nxt])))
                lon, lat = net.point_on_edge(e, off)
                out.append(
                    TrafficPosition(
                        key=f"lat-{attempt}-{v}",
                        ts=now + step * 3000 + v,
                        source="bench",
                        lon=lon,
                        lat=lat,
                        vehicle_type="ride-hail",
                    )
                )
            return out

        for step in range(5):
            await p.batcher.submit(fixes(step))
        await asyncio.sleep(1.0)
        t0 = time.perf_counter()
        await p.batcher.submit(fixes(6))  # the confirming fix after the exit
        while time.perf_counter() - t0 < 10:
            st = p.store.states("traffic.segment", key=str(eid))
            cur = (st[0]["data"].get("current") or {}) if st else {}
            if cur.get("samples", 0) >= 3 and cur.get("index") is not None:
                results.append(time.perf_counter() - t0)
                break
            await asyncio.sleep(0.005)
    return {
        "runs": len(results),
        "median_ms": round(statistics.median(results) * 1000, 1) if results else None,
        "max_ms": round(max(results) * 1000, 1) if results else None,
    }


async def serve(args: argparse.Namespace) -> None:
    for k in scene.events:
        REGISTRY.register(k)
    data = tempfile.mkdtemp(prefix="cb-bench-traffic-")
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": data})
    p = Platform(settings, scenes={"traffic": scene})
    gw = Jt808Gateway(p.batcher.submit, GatewayConfig(port=0, idle_timeout_s=600))
    await gw.start()
    print(
        f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; store {settings.store}",
        flush=True,
    )
    try:
        # B first, on an empty store and without the pipeline: the raw ingest path
        res_b = await wait_child(
            child(
                "--role",
                "blast",
                "--port",
                str(gw.port),
                "--n",
                str(args.blast),
                "--seconds",
                str(args.blast_s),
            )
        )
        print(
            f"B  JT/T 808 -> store, acknowledged: {res_b['frames_per_s']:,} frames/s "
            f"({res_b['acked']:,} in {res_b['seconds']} s over {res_b['connections']} connections)",
            flush=True,
        )
        p.start()
        await latency(p)  # warm the matcher and the store once
        res_c = await latency(p)
        print(
            f"C  probe -> segment index visible: median {res_c['median_ms']} ms, max {res_c['max_ms']} ms "
            f"({res_c['runs']} runs)",
            flush=True,
        )
        rss_before = rss_mb()
        proc = child(
            "--role",
            "hold",
            "--port",
            str(gw.port),
            "--n",
            str(args.terminals),
            "--every",
            str(args.every),
            "--seconds",
            str(args.hold),
        )
        peak_open = 0
        while proc.poll() is None:
            peak_open = max(peak_open, gw.stats.connections_open)
            await asyncio.sleep(0.2)
        res_a = await wait_child(proc)
        lag = p.bus.lag()
        print(
            f"A  {res_a['terminals']:,} terminals held (peak open {peak_open:,}); connect+register+auth "
            f"{res_a['connect_s']} s; {res_a['sent']:,} locations sent every {args.every:g} s, "
            f"{res_a['acked']:,} acknowledged; ack p50 {res_a['ack_p50_ms']} ms, "
            f"p99 {res_a['ack_p99_ms']} ms; pipeline lag after {lag}; "
            f"server peak RSS {rss_mb():.0f} MB (before phase A {rss_before:.0f} MB)",
            flush=True,
        )
        print(f"   gateway: {json.dumps(gw.counters())}")
    finally:  # bounded: the figures are printed; do not hang on 10,000 closing sockets
        try:
            await asyncio.wait_for(gw.stop(grace=2.0), 20)
            await p.batcher.stop()
        finally:
            p.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", type=int, default=10_000)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--hold", type=float, default=40.0)
    ap.add_argument("--blast", type=int, default=50)
    ap.add_argument("--blast-s", type=float, default=15.0)
    ap.add_argument("--role", default="server", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "hold":
        print(json.dumps(asyncio.run(hold("127.0.0.1", args.port, args.n, args.every, args.seconds))))
    elif args.role == "blast":
        print(json.dumps(asyncio.run(blast("127.0.0.1", args.port, args.n, args.seconds))))
    else:
        asyncio.run(serve(args))


if __name__ == "__main__":
    Path(tempfile.gettempdir()).mkdir(exist_ok=True)
    main()
