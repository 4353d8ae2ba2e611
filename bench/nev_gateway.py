"""NEV gateway benchmark: (a) full real-time frames decoded (and turned into events) per core;
(b) N simulated vehicles (default 20,000) connected over loopback TCP, each reporting every 10 s,
against a server process running the whole platform (gateway, batcher, DuckDB store, pipeline
with the nev processors), with the server's CPU share and peak RSS; (c) frame -> fleet-state
latency p50/p99 (client write to the live-feed state update), measured during (b).

Prints figures; asserts nothing about time. Default run is about 2.5 minutes:
    .venv/bin/python bench/nev_gateway.py [--vehicles 20000] [--seconds 60] [--interval 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960.frame import bcc
from citybrain.scenes.nev.convert import report_event
from citybrain.scenes.nev.simvehicle import VirtualVehicle

PROBE = "PROBE"  # VIN prefix of the latency probes
TICK = 0.02


def raise_fd_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, need)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))  # raising hard needs root
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- (a) decode rate ------------------------------------------------------------------------------
def decode_rates(seconds: float) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from gb32960_decode import full_2016, full_2025  # the all-blocks frames of the codec bench

    for name, raw in (("2016", full_2016()), ("2025", full_2025())):
        for label, fn in (
            ("decode", gb.decode_frame),
            ("decode+event", lambda r: report_event(gb.decode_frame(r), "b")),
        ):
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                for _ in range(100):
                    fn(raw)
                n += 100
            print(f"(a) {name} full real-time frame ({len(raw)} B) {label}: "
                  f"{n / (time.perf_counter() - start):,.0f} frames/s per core")  # fmt: skip


# -- (b)+(c) server process -----------------------------------------------------------------------
async def serve(data_dir: str, vehicles: int) -> None:
    from citybrain.core.config import load_settings
    from citybrain.core.events import REGISTRY
    from citybrain.core.platform import Platform
    from citybrain.scenes.nev import scene
    from citybrain.scenes.nev.gateway import Gb32960Gateway
    from citybrain.scenes.nev.settings import GatewaySettings

    raise_fd_limit(vehicles + 1024)
    # bad frames are counted and printed at the end; one log line each would drown the figures
    logging.getLogger("citybrain.gateways.tcp").setLevel(logging.ERROR)
    for kind in scene.events:
        REGISTRY.register(kind)
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": data_dir})
    p = Platform(settings, scenes={"nev": scene})
    p.hub.queue_size = 10_000_000
    p.hub.bind(asyncio.get_running_loop())
    sub = p.hub.subscribe({"state.nev"})
    p.start()
    gw = Gb32960Gateway(
        p.batcher.submit, GatewaySettings(port=0, idle_timeout_s=600, max_connections=vehicles + 100)
    )
    await gw.start()
    seen: list[tuple[str, int, float]] = []

    async def watch() -> None:
        while True:
            msg = await sub.queue.get()
            now = time.time()
            seen.extend((s["key"], s["ts"], now) for s in msg["data"] if s["key"].startswith(PROBE))

    watcher = asyncio.create_task(watch())
    print(f"PORT {gw.port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # parent says stop
    watcher.cancel()
    await gw.stop(grace=2)
    await p.batcher.stop()
    lag = {f"{n}/{part}": p.bus.head(part) - pos for (n, part), pos in p.pipeline.positions().items()}
    st = p.pipeline.stats
    out = {"gateway": gw.counters(), "events": p.counters.accepted, "pipeline_events": st.events,
           "pipeline_batches": st.batches, "pipeline_errors": st.errors, "lag_at_end": lag,
           "probe_states": seen}  # fmt: skip
    p.stop()
    print("RESULT " + json.dumps(out), flush=True)


# -- (b)+(c) client -------------------------------------------------------------------------------
class Vehicle(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.replies = 0
        self.answered = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.replies += 1  # a reply frame (login ack); good enough for counting
        if not self.answered.done():
            self.answered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_exception(ConnectionError("closed before the login reply"))


def stamp(template: bytes, vin: bytes, ts: float) -> bytes:
    f = bytearray(template)
    f[4:21] = vin
    t = time.localtime(ts + 8 * 3600 - time.localtime(ts).tm_gmtoff)  # Beijing wall clock
    f[24:30] = bytes((t.tm_year - 2000, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec))
    f[-1] = bcc(memoryview(f)[2:-1])
    return bytes(f)


def templates() -> list[tuple[bytes, bytes]]:
    """(login, realtime) per simulator model of one frame (the split-pack bus is left out)."""
    out = []
    now_ms = int(time.time() * 1000)
    for i in (0, 1, 3, 4, 5, 7):
        v = VirtualVehicle(1, i)
        v.step(now_ms)
        out.append((v.login(now_ms), v.report(now_ms)[0]))
    return out


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """CPU time of a process, or of one of its threads (the main thread runs the event loop)."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(
    port: int, server_pid: int, n: int, seconds: float, interval: float, probes: int
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    tpl = templates()
    vins = [f"LBENCH{i:011d}".encode() for i in range(n)]
    conns: list[Vehicle] = []
    sem = asyncio.Semaphore(200)
    t0 = time.perf_counter()

    async def connect(vin: bytes, k: int) -> Vehicle:
        async with sem:
            _, proto = await loop.create_connection(Vehicle, "127.0.0.1", port)
            assert proto.transport is not None
            proto.transport.write(stamp(tpl[k % len(tpl)][0], vin, time.time()))
            await asyncio.wait_for(proto.answered, 60)
            return proto

    conns = list(await asyncio.gather(*[connect(v, k) for k, v in enumerate(vins)]))
    connect_s = time.perf_counter() - t0
    probe_vins = [f"{PROBE}{i:012d}".encode() for i in range(probes)]
    probe_conns = [await connect(v, k) for k, v in enumerate(probe_vins)]
    print(f"(b) {n:,} vehicles logged in over loopback in {connect_s:.1f} s", flush=True)
    sent_at: dict[tuple[str, int], float] = {}
    cpu0, loop0, wall0 = cpu_seconds(server_pid), cpu_seconds(server_pid, server_pid), time.perf_counter()
    mine0 = time.process_time()
    start, sent, next_probe = time.time(), 0, time.time()
    while (now := time.time()) - start < seconds:
        # every vehicle reports once per interval, spread evenly: vehicle k at k/n of the interval
        target = int((now - start) / interval * n)
        while sent < target:
            k = sent % n
            t = conns[k].transport
            if t is not None and not t.is_closing():
                t.write(stamp(tpl[k % len(tpl)][1], vins[k], now))
            sent += 1
        if now >= next_probe:  # each probe once a second, frame time = that second
            sec = int(now)
            for k, p in enumerate(probe_conns):
                if p.transport is not None:
                    p.transport.write(stamp(tpl[k % len(tpl)][1], probe_vins[k], sec))
                    sent_at[(probe_vins[k].decode(), sec * 1000)] = time.time()
            next_probe = sec + 1
        await asyncio.sleep(TICK)
    wall = time.perf_counter() - wall0
    cpu = cpu_seconds(server_pid) - cpu0
    loop_cpu = cpu_seconds(server_pid, server_pid) - loop0
    await asyncio.sleep(2)  # let the last frames through before stopping the server
    for c in [*conns, *probe_conns]:
        if c.transport is not None:
            c.transport.close()
    return {"sent": sent, "wall": wall, "server_cpu": cpu, "loop_cpu": loop_cpu,
            "client_cpu": time.process_time() - mine0,
            "sent_at": sent_at, "connect_s": connect_s}  # fmt: skip


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vehicles", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=60.0, help="steady reporting window")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between reports of one vehicle")
    ap.add_argument("--probes", type=int, default=20, help="latency probes, one frame a second each")
    ap.add_argument("--decode-seconds", type=float, default=1.0)
    ap.add_argument("--serve", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.vehicles + args.probes))
        return
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpu(s)")
    decode_rates(args.decode_seconds)
    raise_fd_limit(args.vehicles + args.probes + 1024)
    with tempfile.TemporaryDirectory(prefix="nev-bench-") as tmp:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", tmp, "--vehicles", str(args.vehicles + args.probes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert server.stdout is not None and server.stdin is not None
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit(f"server did not start: {line!r}")
        try:
            port = int(line.split()[1])
            res = asyncio.run(load(port, server.pid, args.vehicles, args.seconds, args.interval,
                                   args.probes))  # fmt: skip
            rss = peak_rss_mb(server.pid)
        finally:
            server.stdin.write("stop\n")
            server.stdin.flush()
        out = server.stdout.read()
        server.wait(60)
    result = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[7:])
    cores = os.cpu_count() or 1
    share = res["server_cpu"] / res["wall"]
    rate = res["sent"] / res["wall"]
    print(f"(b) {args.vehicles:,} vehicles x 1 report / {args.interval:g} s for {res['wall']:.0f} s: "
          f"{rate:,.0f} frames/s sent; server CPU {share:.2f} cores ({share / cores:.0%} of {cores}); "
          f"peak RSS {rss:,.0f} MB; client CPU {res['client_cpu'] / res['wall']:.2f} cores")  # fmt: skip
    print(
        f"    of which the event-loop thread (sockets, split, decode, events, batching): "
        f"{res['loop_cpu'] / res['wall']:.2f} cores; the rest is the store appends and the pipeline"
    )
    g = result["gateway"]
    print(f"    gateway: {g['frames']:,} good frames, {g['bad_frames']} bad, "
          f"{g['connections_open']} open at stop, "
          f"{g['flush_errors']} flush errors; events stored {result['events']:,}; pipeline delivered "
          f"{result['pipeline_events']:,} events to its processors in {result['pipeline_batches']:,} "
          f"batches; lag at stop "
          f"{max(result['lag_at_end'].values()) if result['lag_at_end'] else 0:,} events")  # fmt: skip
    lat = []
    for vin, ts, seen in result["probe_states"]:
        sent = res["sent_at"].get((vin, ts))
        if sent is not None:
            lat.append((seen - sent) * 1000)
    print(
        f"(c) frame -> fleet state (live feed) latency over {len(lat)} probe frames: "
        f"p50 {pct(lat, 0.5):.0f} ms, p99 {pct(lat, 0.99):.0f} ms, "
        f"max {max(lat, default=float('nan')):.0f} ms"
    )


if __name__ == "__main__":
    main()
