"""Issue 10, against a real `citybrain serve`: 128 KB of garbage on a gateway port must not stop
the HTTP API. Before the fix, 128 KB of ``$`` on the GB/T 32960 port stopped every HTTP answer for
seconds (10.9 s in the report): the frame splitter was quadratic within a read, on the one event
loop that also serves HTTP. Each /healthz must be answered within 1 s while the flood is read
(a liveness bound ~10x above normal, not a speed target), and every flood byte must have been read.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from citybrain.testing import free_port
from tests.support.server import Server  # the reliability tests' real-server launcher

SIZE = 128 * 1024
FLOODS = {
    "gb32960 dollars": ("Gb32960Gateway", b"$" * SIZE),
    "gb32960 hashes": ("Gb32960Gateway", b"#" * SIZE),
    "gb32960 random": ("Gb32960Gateway", random.Random(32960).randbytes(SIZE)),
    "jt808 delimiters": ("Jt808Gateway", b"\x7e" * SIZE),
    "jt808 open frame": ("Jt808Gateway", b"\x7e" + b"\x55" * SIZE),
    "jt808 random": ("Jt808Gateway", random.Random(808).randbytes(SIZE)),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, int]]]:
    ports = {"Gb32960Gateway": free_port(), "Jt808Gateway": free_port()}
    srv = Server(
        tmp_path_factory.mktemp("flood") / "var",
        free_port(),
        CITYBRAIN_SCENES__NEV__GATEWAY__PORT=str(ports["Gb32960Gateway"]),
        CITYBRAIN_SCENES__TRAFFIC__GATEWAY__PORT=str(ports["Jt808Gateway"]),
    )
    srv.start()
    try:
        yield srv, ports
    finally:
        srv.stop()


def bytes_read(srv: Server, gateway: str) -> int:
    text = httpx.get(f"{srv.url}/metrics", headers={"Authorization": f"Bearer {srv.token}"}, timeout=60).text
    prefix = f'citybrain_gateway{{figure="bytes_in",server="{gateway}"}} '
    line = next(ln for ln in text.splitlines() if ln.startswith(prefix))
    return int(float(line[len(prefix) :]))


@pytest.mark.parametrize("flood", list(FLOODS))
def test_healthz_keeps_answering_while_a_gateway_reads_garbage(
    server: tuple[Server, dict[str, int]], flood: str
) -> None:
    srv, ports = server
    gateway, data = FLOODS[flood]
    start = bytes_read(srv, gateway)
    waits: list[float] = []
    done = threading.Event()

    def poll_healthz() -> None:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            while not done.is_set():
                t0 = time.perf_counter()
                assert c.get("/healthz").status_code == 200
                waits.append(time.perf_counter() - t0)
                time.sleep(0.02)

    poller = threading.Thread(target=poll_healthz)
    poller.start()
    try:
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", ports[gateway])) as sock:
            sock.sendall(data)
            deadline = time.time() + 120
            while bytes_read(srv, gateway) < start + len(data):  # the whole flood was read and split
                assert time.time() < deadline, "the gateway did not read the flood"
                time.sleep(0.05)
        time.sleep(0.2)
    finally:
        done.set()
        poller.join()
    assert len(waits) >= 10
    assert max(waits) < 1.0, f"/healthz waited {max(waits):.2f}s during the {flood} flood"
