"""Sparkplug B conformance of the factory scene (issue 12): integer metrics stay exact integers from
the payload to the store and the machine's live state; the simulated edge node follows the Sparkplug
3.0 MUSTs on aliases and metric timestamps; a metric no BIRTH announced asks for a rebirth instead
of being taken; metrics of nodes and devices the plant model does not map are counted as unmapped."""

from __future__ import annotations

from pathlib import Path

from citybrain.gateways.mqtt import Incoming
from citybrain.protocols import sparkplug_b as spb
from citybrain.scenes.factory.events import FactoryTags
from citybrain.scenes.factory.gateway import FactoryIngest
from citybrain.scenes.factory.plant import PlantBook
from citybrain.scenes.factory.settings import IngestSettings
from citybrain.scenes.factory.sim import FactorySimConfig, FactorySimulator
from citybrain.scenes.factory.spb_host import SparkplugHost
from tests.scenes.factory.factory_testkit import (
    D0,
    M,
    factory_platform,
    factory_settings,
    small_site,
    write_plants,
)

Metric = spb.Metric
BIG = 2**53 + 1  # the first integer a float cannot hold


def _msg(topic: str, seq: int | None, *metrics: spb.Metric, ts: int = D0) -> Incoming:
    return Incoming(
        topic, spb.encode_payload(spb.Payload(timestamp=ts, seq=seq, metrics=list(metrics))), 0, False, ts
    )


def _births(group: str = "g") -> list[Incoming]:
    return [
        _msg(f"spBv1.0/{group}/NBIRTH/n1", 0, Metric(name="bdSeq", datatype=spb.INT64, value=0)),
        _msg(
            f"spBv1.0/{group}/DBIRTH/n1/c",
            1,
            Metric(name="Good", alias=1, datatype=spb.UINT64, value=100),
            Metric(name="Reject", alias=2, datatype=spb.UINT64, value=0),
            Metric(name="State", alias=3, datatype=spb.STRING, value="running"),
            Metric(name="Big", alias=4, datatype=spb.UINT64, value=BIG),
            Metric(name="Offset", alias=5, datatype=spb.INT64, value=-BIG),
            Metric(name="Small", alias=6, datatype=spb.INT8, value=-5),
        ),
    ]


def _host(sent: list[str] | None = None) -> SparkplugHost:
    out = sent if sent is not None else []
    return SparkplugHost(PlantBook([small_site()]), lambda topic, *a: out.append(topic), 60.0, lambda: 1000.0)


# -- item 2: integers are not floats -----------------------------------------------------------------
def test_integer_metrics_stay_exact_ints_into_the_store_and_live_state(tmp_path: Path) -> None:
    p = factory_platform(factory_settings(tmp_path, write_plants(tmp_path, small_site())))
    try:
        host = _host()
        data = _msg(
            "spBv1.0/g/DDATA/n1/c",
            2,
            Metric(alias=1, datatype=spb.UINT64, value=150),
            Metric(alias=4, datatype=spb.UINT64, value=2**64 - 1),
            Metric(alias=5, datatype=spb.INT64, value=-(2**63)),
            ts=D0 + M,
        )
        p.publish([ev for m in [*_births(), data] for ev in host.handle(m)])
        p.pipeline.drain()
        tags = [e for e in p.store.find_events(["factory.tags"]) if isinstance(e, FactoryTags)]
        assert [t.values for t in tags] == [
            {"Good": 100, "Reject": 0, "State": "running", "Big": BIG, "Offset": -BIG, "Small": -5},
            {"Good": 150, "Big": 2**64 - 1, "Offset": -(2**63)},
        ]
        assert all(type(v) is int for t in tags for k, v in t.values.items() if k != "State")
        live = p.store.states("factory", "t1/c")[0]["data"]
        assert live["values"]["Big"] == 2**64 - 1 and live["values"]["Offset"] == -(2**63)
        assert type(live["values"]["Good"]) is int
        assert live["output_this_hour"] == 50  # the counter role still counts: 100 -> 150
    finally:
        p.stop()


# -- item 3: the simulated edge node -----------------------------------------------------------------
def test_simulated_edge_node_births_carry_name_alias_and_timestamp() -> None:
    sim = FactorySimulator(FactorySimConfig(seed=3))
    births = [spb.decode_payload(o.payload) for o in sim.node.births(D0, sim.spb_values(D0))]
    sim.messages(D0)
    data = [spb.decode_payload(o.payload) for o in sim.messages(D0 + 5_000) if "/DDATA/" in o.topic]
    assert data, "the simulator reported no change"
    nbirth = births[0]
    assert [m.name for m in nbirth.metrics] == ["bdSeq", "Node Control/Rebirth", "Properties/Firmware"]
    # payloads-alias-birth-requirement: every BIRTH metric has its name and its alias, unique in the node
    birth_metrics = [m for b in births for m in b.metrics]
    assert all(m.name and m.alias is not None for m in birth_metrics)
    aliases = [m.alias for m in birth_metrics]
    assert len(set(aliases)) == len(aliases)
    # payloads-name-birth-data-requirement: every BIRTH and DATA metric has its timestamp
    assert all(m.timestamp == D0 for m in birth_metrics)
    assert all(
        m.timestamp == D0 + 5_000 and m.alias in aliases and not m.name for d in data for m in d.metrics
    )


def test_simulated_edge_node_is_understood_by_the_host_without_rebirths() -> None:
    sim = FactorySimulator(FactorySimConfig(seed=3))
    sent: list[str] = []
    host = SparkplugHost(sim.book, lambda topic, *a: sent.append(topic))
    outs = sim.node.births(D0, sim.spb_values(D0)) + sim.messages(D0 + 5_000)
    events = [
        ev
        for o in outs
        if o.topic.startswith("spBv1.0/")
        for ev in host.handle(Incoming(o.topic, o.payload, 0, False, D0))
    ]
    assert any(isinstance(e, FactoryTags) and not e.birth for e in events)
    assert sent == [] and (host.stats.unknown_aliases, host.stats.unknown_names, host.stats.seq_gaps) == (
        0,
        0,
        0,
    )


# -- item 4: metrics never born, unmapped sources ----------------------------------------------------
def test_a_metric_not_in_the_birth_asks_for_a_rebirth_and_is_not_taken() -> None:
    sent: list[str] = []
    host = _host(sent)
    for m in _births():
        host.handle(m)
    evs = host.handle(
        _msg(
            "spBv1.0/g/DDATA/n1/c",
            2,
            Metric(name="Good", datatype=spb.UINT64, value=120),  # by name, born: taken
            Metric(name="Bogus", datatype=spb.DOUBLE, value=1.0),  # never born: dropped
            ts=D0 + M,
        )
    )
    assert [e.values for e in evs if isinstance(e, FactoryTags)] == [{"Good": 120}]
    assert sent == ["spBv1.0/g/NCMD/n1"] and host.stats.unknown_names == 1
    host.handle(_msg("spBv1.0/g/NDATA/n1", 3, Metric(name="Temp", datatype=spb.DOUBLE, value=1.0)))
    assert host.stats.unknown_names == 2 and sent == ["spBv1.0/g/NCMD/n1"]  # rate-limited like the others


def test_mqtt_spb_wrapper_data_names_resolve_to_their_prefixed_birth_names() -> None:
    """mqtt-spb-wrapper births ``DATA/<name>`` and sends ``<name>`` in DDATA: a tolerated deviation."""
    sent: list[str] = []
    host = _host(sent)
    host.handle(_births()[0])
    host.handle(_msg("spBv1.0/g/DBIRTH/n1/c", 1, Metric(name="DATA/Good", datatype=spb.INT64, value=1)))
    (ev,) = host.handle(_msg("spBv1.0/g/DDATA/n1/c", 2, Metric(name="Good", datatype=spb.INT64, value=2)))
    assert isinstance(ev, FactoryTags) and ev.values == {"DATA/Good": 2} and sent == []


def test_metrics_of_unmapped_nodes_and_devices_are_counted_as_unmapped() -> None:
    book = PlantBook([small_site()])
    host = SparkplugHost(book, lambda *a: None)
    ingest = FactoryIngest(IngestSettings(), book, host)
    for m in [
        *_births("zz"),
        _msg("spBv1.0/zz/DDATA/n1/c", 2, Metric(alias=1, datatype=spb.UINT64, value=1)),
    ]:
        assert not [e for e in ingest(m) if isinstance(e, FactoryTags)]  # its births are still stored
    assert dict(ingest.unmapped) == {"spb:zz/n1/c": 2}
    ingest(_msg("spBv1.0/g/NBIRTH/n1", 0, Metric(name="Firmware", datatype=spb.STRING, value="1.0")))
    assert ingest.unmapped["spb:g/n1"] == 1  # a node metric: no machine maps the node itself
