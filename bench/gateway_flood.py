"""Garbage flood on the gateway ports (issue 10): does one client's garbage stop the city?

Starts the platform (nev, traffic and factory scenes: the GB/T 32960 and JT/T 808 gateways and the
embedded MQTT broker all run on the event loop that serves HTTP) in a child process. Then, first
with no flood and then while one attacker sends ``--mb`` MB of garbage to one port (random bytes,
``$`` only, ``#`` only; for JT/T 808 also 0x7E only), reconnecting whenever the server closes it:
  - a loop measures GET /healthz latency (one request at a time, 20 ms apart);
  - a good JT/T 808 terminal (registered, authenticated) sends a location and waits for its
    general response, one after the other: the acknowledgement latency (durable before the ack);
  - a good GB/T 32960 vehicle (logged in) sends a real-time report and a heartbeat and waits for
    the heartbeat's reply (real-time reports are not answered, Annex B.2.1).
Prints p50/p99/max per phase. A flood phase stops after ``--seconds`` even if not all was sent
(the attacker's connection is then reset, so the server drops what it had not read yet), so the
run is bounded: about 4 minutes at the defaults. Loopback only; asserts nothing about time.

    .venv/bin/python bench/gateway_flood.py [--mb 10] [--seconds 20]
    # the same bench against older code (same venv):
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/gateway_flood.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import citybrain
from _harness import ServerProc, machine_facts
from citybrain.protocols import gb32960 as gb
from citybrain.protocols import jt808
from citybrain.protocols.gb32960.frame import HEADER_SIZE
from citybrain.scenes.nev.simvehicle import VirtualVehicle
from citybrain.scenes.traffic.sim import auth_frame, location_frame, register_frame
from citybrain.scenes.traffic.simworld import Fix
from citybrain.testing import free_port

CHUNK = 65_536
PER_CONNECTION = 512 * 1024
GARBAGE: dict[str, Callable[[random.Random], bytes]] = {
    "random": lambda rng: rng.randbytes(CHUNK),
    "$ only": lambda rng: b"$" * CHUNK,
    "# only": lambda rng: b"#" * CHUNK,
    "0x7E only": lambda rng: b"\x7e" * CHUNK,
}
FLOODS = [
    ("jt808", "random"), ("jt808", "$ only"), ("jt808", "# only"), ("jt808", "0x7E only"),
    ("gb32960", "random"), ("gb32960", "$ only"), ("gb32960", "# only"),
    ("mqtt", "random"), ("mqtt", "$ only"), ("mqtt", "# only"),
]  # fmt: skip
ACK_TIMEOUT = 30.0


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] * 1e3 if s else float("nan")


def fmt(xs: list[float]) -> str:
    return f"p50 {pct(xs, 0.5):7.1f} p99 {pct(xs, 0.99):7.1f} max {pct(xs, 1.0):7.1f} ms (n={len(xs)})"


# -- the measuring clients ---------------------------------------------------------------------
async def healthz(url: str, stop: asyncio.Event, out: list[float]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                (await c.get("/healthz")).raise_for_status()
                out.append(time.perf_counter() - t0)
            await asyncio.sleep(0.02)


class JtTerminal:
    def __init__(self, port: int) -> None:
        self.port, self.phone, self.serial = port, "013900000001", 0
        self.splitter = jt808.FrameSplitter()

    def nxt(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial

    async def reply(self, r: asyncio.StreamReader) -> jt808.Message:
        while True:
            data = await asyncio.wait_for(r.read(4096), ACK_TIMEOUT)
            if not data:
                raise ConnectionError("closed")
            for f in self.splitter.feed(data):
                return jt808.decode_frame(f)

    async def run(self, stop: asyncio.Event, out: list[float]) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", self.port)
        w.write(register_frame(self.phone, self.nxt(), "赣B00001", 1))
        reg = (await self.reply(r)).body
        assert isinstance(reg, jt808.RegisterResponse) and reg.auth_code, reg
        w.write(auth_frame(self.phone, self.nxt(), reg.auth_code))
        await self.reply(r)
        k = 0
        try:
            while not stop.is_set():
                k += 1
                fix = Fix("t", "taxi", int(time.time() * 1000), 18.05 + k * 1e-6, 59.34, 30.0, 0.0)
                t0 = time.perf_counter()
                w.write(location_frame(self.phone, self.nxt(), fix))
                while not isinstance((await self.reply(r)).body, jt808.PlatformGeneralResponse):
                    pass
                out.append(time.perf_counter() - t0)
                await asyncio.sleep(0.05)
        finally:
            w.close()


class GbVehicle:
    def __init__(self, port: int) -> None:
        self.port, self.v = port, VirtualVehicle(seed=7, index=1, edition="2016")

    async def reply(self, r: asyncio.StreamReader) -> bytes:
        head = await asyncio.wait_for(r.readexactly(HEADER_SIZE), ACK_TIMEOUT)
        return head + await r.readexactly(struct.unpack(">H", head[22:24])[0] + 1)

    async def run(self, stop: asyncio.Event, out: list[float]) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", self.port)
        w.write(self.v.login(int(time.time() * 1000)))
        await self.reply(r)
        try:
            while not stop.is_set():
                ts = int(time.time() * 1000)
                self.v.step(ts)
                t0 = time.perf_counter()
                w.write(b"".join(self.v.report(ts)) + self.v.heartbeat())
                while (await self.reply(r))[2] != gb.Command.HEARTBEAT:
                    pass
                out.append(time.perf_counter() - t0)
                await asyncio.sleep(0.05)
        finally:
            w.close()


async def flood(port: int, kind: str, total: int, seconds: float) -> tuple[int, int, float]:
    """Send ``total`` bytes of garbage, ``PER_CONNECTION`` at most per connection (below the
    gateways' 1 MiB no-good-frame cap, so the server must read and split all of it), and return once
    the server has read it all (it answers our EOF by closing) or ``seconds`` passed."""
    rng, sent, conns = random.Random(10), 0, 0
    t0 = time.perf_counter()
    deadline = t0 + seconds

    def left() -> float:
        return max(0.01, deadline - time.perf_counter())

    while sent < total and time.perf_counter() < deadline:
        conns += 1
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            for _ in range(PER_CONNECTION // CHUNK):
                if sent >= total:
                    break
                w.write(GARBAGE[kind](rng))
                await asyncio.wait_for(w.drain(), left())
                sent += CHUNK
            w.write_eof()
            while await asyncio.wait_for(r.read(65536), left()):  # until the server is through
                pass
        except (OSError, TimeoutError):
            pass  # closed by the server (garbage cap, protocol error) or out of time
        if time.perf_counter() >= deadline:  # reset: the server drops what it has not read
            sock = w.get_extra_info("socket")
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.close()
    return sent, conns, time.perf_counter() - t0


async def phase(
    url: str, ports: dict[str, int], target: str | None, kind: str, args: argparse.Namespace
) -> str:
    stop = asyncio.Event()
    hz: list[float] = []
    jt: list[float] = []
    gbl: list[float] = []
    tasks = [
        asyncio.create_task(healthz(url, stop, hz)),
        asyncio.create_task(JtTerminal(ports["jt808"]).run(stop, jt)),
        asyncio.create_task(GbVehicle(ports["gb32960"]).run(stop, gbl)),
    ]
    await asyncio.sleep(0.5)
    if target is None:
        await asyncio.sleep(args.baseline)
        what, sent = "no flood", ""
    else:
        n, conns, took = await flood(ports[target], kind, args.mb << 20, args.seconds)
        what = f"{target} {kind}"
        sent = f"{n / 2**20:5.1f} MB in {took:4.1f}s over {conns} connections"
    stop.set()
    errors = []
    for t in tasks:
        try:
            await asyncio.wait_for(t, ACK_TIMEOUT + 5)
        except Exception as err:  # a client that lost its link: say so, do not hide it
            errors.append(f"{type(err).__name__}: {err}")
    lines = [
        f"{what:22} {sent}",
        f"  healthz  {fmt(hz)}",
        f"  jt808 ack {fmt(jt)}",
        f"  gb32960 ack {fmt(gbl)}",
    ]
    if errors:
        lines.append(f"  client errors: {errors}")
    return "\n".join(lines)


async def settle(url: str) -> None:
    """Wait until the server answers promptly again (what a flood left in buffers is read)."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        for _ in range(600):
            t0 = time.perf_counter()
            await c.get("/healthz")
            if time.perf_counter() - t0 < 0.05:
                return
            await asyncio.sleep(0.1)


async def run(url: str, ports: dict[str, int], args: argparse.Namespace) -> None:
    print(await phase(url, ports, None, "", args), flush=True)
    for target, kind in FLOODS:
        if args.only and target not in args.only:
            continue
        await settle(url)
        print(await phase(url, ports, target, kind, args), flush=True)
    await settle(url)
    print(await phase(url, ports, None, "", args), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=10, help="garbage per flood phase")
    ap.add_argument("--seconds", type=float, default=20.0, help="longest flood phase")
    ap.add_argument("--baseline", type=float, default=8.0, help="seconds of the no-flood phases")
    ap.add_argument("--only", nargs="*", help="jt808, gb32960 and/or mqtt")
    args = ap.parse_args()
    print(f"machine: {machine_facts()}")
    print(f"code: {Path(citybrain.__file__).resolve().parent}")
    ports = {"jt808": free_port(), "gb32960": free_port(), "mqtt": free_port()}
    env = {
        "CITYBRAIN_SCENES__TRAFFIC__GATEWAY__PORT": str(ports["jt808"]),
        "CITYBRAIN_SCENES__NEV__GATEWAY__PORT": str(ports["gb32960"]),
        "CITYBRAIN_SCENES__FACTORY__INGEST__MQTT__EMBEDDED_PORT": str(ports["mqtt"]),
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServerProc(Path(tmp) / "data", "nev,traffic,factory", **env) as srv,
    ):
        with socket.create_connection(("127.0.0.1", ports["mqtt"]), timeout=5):
            pass  # the embedded broker is up (it runs on the server's event loop)
        asyncio.run(run(srv.url, ports, args))
        log = (Path(tmp) / "data" / "server.log").read_bytes()
        print(f"server log: {len(log) / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
