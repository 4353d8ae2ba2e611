"""The factory's Sparkplug B host driven by an edge node of an independent implementation
(mqtt-spb-wrapper 2.1.2 on Eclipse Tahu's Python protobuf, paho-mqtt 1.6.1;
tests/interop/peers/spb_edge.py, in its own process) over the embedded broker, with the broker
account the plant model gives the node: NBIRTH and DBIRTH, DDATA with every datatype the codec
models (negative Int8/Int16 as Tahu Python writes them, Int64/UInt64 beyond 2^53), a metric the
DBIRTH did not announce (the host asks for a rebirth, the peer answers it), then NDEATH."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from citybrain.scenes.factory.events import FactoryLink, FactoryTags
from citybrain.scenes.factory.gateway import FactoryMqttServer, edge_user
from citybrain.testing import free_port
from tests.scenes.factory.factory_testkit import factory_platform, factory_settings, small_site, write_plants
from tests.scenes.factory.test_factory_mqtt import stored, until
from tests.support.peers import require_peers, run_peer


def _expected(lines: list[dict[str, Any]]) -> list[tuple[bool, str, Any]]:
    """(birth, tag, value) the host should store from what the peer sent for device ``c``: a DATA
    metric's unprefixed name is its BIRTH's ``DATA/<name>``; Bytes are not tags; the ``Extra``
    DDATA before the rebirth is not taken (no BIRTH announced it)."""
    out: list[tuple[bool, str, Any]] = []
    announced: set[str] = set()
    for ln in lines:
        kind, metrics = ln.get("sent"), ln.get("metrics", {})
        if kind == "DBIRTH":
            announced = set(metrics)
        if kind not in ("DBIRTH", "DDATA"):
            continue
        for name, value in metrics.items():
            tag = name if kind == "DBIRTH" else f"DATA/{name}"
            if tag in announced and tag != "DATA/Bytes":
                out.append((kind == "DBIRTH", tag, value))
    return out


def test_mqtt_spb_wrapper_edge_node_births_data_rebirth_and_death(tmp_path: Path) -> None:
    require_peers()
    grp, port = f"cbg{uuid.uuid4().hex[:8]}", free_port()
    ingest = {
        "mqtt": {"embedded_port": port, "backoff_min_s": 0.1, "backoff_max_s": 1.0},
        "rebirth_interval_s": 1.0,
    }
    p = factory_platform(
        factory_settings(tmp_path, write_plants(tmp_path, small_site(group=grp)), ingest=ingest)
    )
    srv = FactoryMqttServer(p.runtime("factory"))
    user = edge_user(grp, "n1")  # the plant model maps spb:<grp>/n1/c to machine t1/c
    host = srv.host
    assert host is not None
    lines: list[dict[str, Any]] = []

    async def main() -> None:
        await srv.start()
        try:
            await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
            args = ("run", "127.0.0.1", str(port), grp, "n1", "c", user, srv.passwords[user])
            lines.extend(await run_peer("spb_edge", *args, timeout=20))
            st = srv.subscriber.stats  # the NDEATH handled, every message acknowledged (stored)
            await until(lambda: host.stats.deaths >= 1 and st.acked == st.messages)
        finally:
            await srv.stop()
            await p.batcher.stop()

    try:
        asyncio.run(main())
        assert not [ln for ln in lines if "error" in ln], lines
        sent = [ln["sent"] for ln in lines if "sent" in ln]
        assert sent == ["NBIRTH", "DBIRTH", "DDATA", "DDATA", "NBIRTH", "DBIRTH", "DDATA", "NDEATH"]
        # the rebirth: requested by citybrain (NCMD), answered by the peer with new births
        assert [ln["metrics"] for ln in lines if ln.get("received") == "NCMD"] == [
            [["Node Control/Rebirth", True]]
        ]
        assert host.stats.unknown_names == 1 and host.stats.rebirth_requests == 1 and host.stats.seq_gaps == 0
        # what was stored: every value exact and of its type (ints as ints, also beyond 2^53)
        tags = [e for e in stored(p, ["factory.tags"]) if isinstance(e, FactoryTags)]
        assert {t.key for t in tags} == {"t1/c"}
        got = [(t.birth, k, v) for t in tags for k, v in t.values.items()]
        want = _expected(lines)
        assert sorted(map(repr, got)) == sorted(map(repr, want))  # repr: 1, 1.0 and True differ
        values = {k: v for t in tags if not t.birth for k, v in t.values.items()}
        assert values["DATA/Int8"] == -5 and values["DATA/Int16"] == -300 and values["DATA/Int32"] == -70_000
        assert values["DATA/Int64"] == -(2**62) - 3 and values["DATA/UInt64"] == 2**64 - 1
        assert values["DATA/Extra"] == -43  # after the rebirth that announced it
        assert ("DATA/Extra", 42) not in [(k, v) for b, k, v in got if not b]  # before: not taken
        # the host's view: two births, then the NDEATH took the node and its device offline
        (node,) = host.status()
        assert node["node"] == f"{grp}/n1" and node["online"] is False and node["births"] == 2
        assert node["devices"] == {"c": {"online": False, "aliases": 0}}
        links = [
            (e.key, e.online, e.reason) for e in stored(p, ["factory.link"]) if isinstance(e, FactoryLink)
        ]
        assert links == [
            ("t1/c", True, "DBIRTH"),
            ("t1/c", True, "DBIRTH"),
            ("t1/c", False, "NDEATH of its node"),
        ]
        # the node's own metrics (no machine maps spb:<grp>/n1): counted as unmapped, per NBIRTH
        assert srv.ingest.unmapped == {f"spb:{grp}/n1": 2}
    finally:
        p.stop()
