"""The factory simulator: the knitting plant and the parts maker publish JSON over MQTT, the yarn
mill is a Sparkplug B edge node (``yarnmill/ym-01`` with devices ``spin-01``, ``spin-02``,
``wind-01``). Shifts and planned stops follow the plant model; stations stop at random (minor and
long stops), make rejects with reasons, and one humidity sensor drifts. Genealogy records link
pallets -> bundles -> yarn lots -> fibre lots across the two textile plants.

``messages(now_ms)`` is deterministic for a seed and a sequence of times; ``run`` publishes them to
the scene's broker (the embedded one unless ``scenes.factory.ingest.mqtt.url`` is set).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiomqtt
import msgspec

from citybrain.gateways.mqtt import parse_url
from citybrain.protocols import sparkplug_b as spb
from citybrain.scenes.factory.gateway import FactoryMqttServer, device_login, edge_user, site_user
from citybrain.scenes.factory.plant import DEFAULT_FILE, PlantBook, load_file
from citybrain.scenes.factory.settings import FactorySettings, IngestSettings
from citybrain.scenes.factory.sim_plant import Station, apply_counts, build_stations
from citybrain.sdk import SimContext

log = logging.getLogger(__name__)
OPERATORS = ("张伟", "李娜", "王芳", "刘洋", "陈静", "杨磊")


class FactorySimConfig(msgspec.Struct, forbid_unknown_fields=True):
    seed: int = 11
    tick_s: float = 1.0
    sites: list[str] = msgspec.field(default_factory=lambda: ["knit-01", "yarn-01", "parts-01"])
    group: str = "yarnmill"
    node: str = "ym-01"
    spb_site: str = "yarn-01"
    bundle_size: int = 100  # garments per traced bundle
    pallet_bundles: int = 5
    yarn_lot_cones: int = 40


@dataclass(frozen=True)
class Out:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


NODE_METRICS = ("bdSeq", "Node Control/Rebirth", "Properties/Firmware")


class EdgeNode:
    """A Sparkplug B edge node: bdSeq per connection, seq per message, aliases bound at birth.

    Sparkplug 3.0: every metric of an NBIRTH or DBIRTH carries its name and its alias (unique across
    the node), DDATA metrics their alias only, and every BIRTH and DATA metric its timestamp."""

    def __init__(self, group: str, node: str, devices: list[Station]) -> None:
        self.group, self.node = group, node
        self.devices = {st.ref.machine.source.rsplit("/", 1)[-1]: st for st in devices}
        self.bd_seq = -1
        self.seq = 0
        self.aliases: dict[str, dict[str, int]] = {}
        alias = 1
        for dev, st in self.devices.items():
            self.aliases[dev] = {}
            for tag in st.ref.machine.tags:
                self.aliases[dev][tag] = alias
                alias += 1
        self.node_aliases = {name: alias + i for i, name in enumerate(NODE_METRICS)}
        self.last: dict[str, dict[str, Any]] = {}
        self.rebirth_requested = False

    def _topic(self, mtype: str, device: str = "") -> str:
        return spb.topic_for(spb.SpbTopic(self.group, mtype, self.node, device))  # type: ignore[arg-type]

    def connect(self) -> tuple[str, bytes]:
        """A new MQTT session: the next bdSeq and the NDEATH that goes into the Will."""
        self.bd_seq = (self.bd_seq + 1) % 256
        death = spb.Payload(metrics=[spb.Metric(name="bdSeq", datatype=spb.INT64, value=self.bd_seq)])
        return self._topic("NDEATH"), spb.encode_payload(death)

    def _next(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq

    @staticmethod
    def _metric(name: str, alias: int, value: Any, with_name: bool, now: int) -> spb.Metric:
        dt = spb.STRING if isinstance(value, str) else spb.BOOLEAN if isinstance(value, bool) else spb.DOUBLE
        if isinstance(value, float) and value.is_integer() and "Production" in name:
            dt, value = spb.UINT64, int(value)
        return spb.Metric(
            name=name if with_name else "", alias=alias, timestamp=now, datatype=dt, value=value
        )

    def births(self, now: int, values: dict[str, dict[str, Any]]) -> list[Out]:
        self.seq = 0
        self.rebirth_requested = False
        node: list[tuple[int, spb.Value]] = [
            (spb.INT64, self.bd_seq), (spb.BOOLEAN, False), (spb.STRING, "citybrain-sim 1.0")
        ]  # fmt: skip
        nb = spb.Payload(timestamp=now, seq=0)
        for (name, alias), (dt, value) in zip(self.node_aliases.items(), node, strict=True):
            nb.metrics.append(spb.Metric(name=name, alias=alias, timestamp=now, datatype=dt, value=value))
        out = [Out(self._topic("NBIRTH"), spb.encode_payload(nb), 0)]
        for dev, vals in values.items():
            metrics = [self._metric(n, self.aliases[dev][n], v, True, now) for n, v in vals.items()]
            p = spb.Payload(timestamp=now, seq=self._next(), metrics=metrics)
            out.append(Out(self._topic("DBIRTH", dev), spb.encode_payload(p), 0))
            self.last[dev] = dict(vals)
        return out

    def data(self, now: int, dev: str, vals: dict[str, Any]) -> Out | None:
        """DDATA with the metrics that changed (report by exception), by alias only."""
        prev = self.last.setdefault(dev, {})
        changed = {n: v for n, v in vals.items() if prev.get(n) != v}
        if not changed:
            return None
        prev.update(changed)
        metrics = [self._metric(n, self.aliases[dev][n], v, False, now) for n, v in changed.items()]
        p = spb.Payload(timestamp=now, seq=self._next(), metrics=metrics)
        return Out(self._topic("DDATA", dev), spb.encode_payload(p), 0)

    def command(self, payload: bytes) -> None:
        p = spb.decode_payload(payload)
        if any(m.name == "Node Control/Rebirth" and m.value is True for m in p.metrics):
            self.rebirth_requested = True


class FactorySimulator:
    name = "factory"

    def __init__(self, cfg: FactorySimConfig, book: PlantBook | None = None) -> None:
        self.cfg = cfg
        self._build(book or PlantBook(load_file(DEFAULT_FILE)))  # the demo until ``run`` knows the scene's

    def _build(self, book: PlantBook) -> None:
        cfg = self.cfg
        self.rng = random.Random(cfg.seed)
        self.book = book
        self.stations = build_stations(self.book, cfg.sites, self.rng)
        spb_st = [
            s
            for s in self.stations
            if s.ref.site.id == cfg.spb_site and s.ref.machine.source.startswith("spb:")
        ]
        self.node = EdgeNode(cfg.group, cfg.node, spb_st)
        self.trace_n = 0
        self.bundle: dict[str, int] = {}  # site -> pieces since the last bundle
        self.bundles: list[str] = []
        self.yarn_lot = f"YL-{cfg.seed}-0"
        self.cones = 0

    def _operator(self, now: int) -> str:
        return OPERATORS[(now // 43_200_000) % len(OPERATORS)]

    def _values(self, st: Station, now: int) -> dict[str, Any]:
        vals: dict[str, Any] = dict(st.counters)
        for tag, spec in st.ref.machine.tags.items():
            if spec.role == "state":
                vals[tag] = st.state
        for name, pv in st.model.pvs.items():
            vals[name] = round(pv.value(self.rng, now), 3)
        return vals

    def spb_values(self, now: int) -> dict[str, dict[str, Any]]:
        return {dev: self._values(st, now) for dev, st in self.node.devices.items()}

    def messages(self, now: int) -> list[Out]:
        out: list[Out] = []
        spb_devs = {id(s) for s in self.node.devices.values()}
        for st in self.stations:
            made, rejects = st.step(self.rng, now)
            apply_counts(st, made, rejects)
            r = st.ref
            vals = self._values(st, now)
            if id(st) in spb_devs:
                dev = r.machine.source.rsplit("/", 1)[-1]
                msg = self.node.data(now, dev, vals)
                if msg is not None:
                    out.append(msg)
            else:
                base = f"factory/{r.site.id}/{r.line.id}/{r.machine.id}"
                out.append(Out(f"{base}/telemetry", msgspec.json.encode({"ts": now, **vals})))
            for reason, n in sorted(rejects.items()):
                base = f"factory/{r.site.id}/{r.line.id}/{r.machine.id}"
                out.append(
                    Out(f"{base}/reject", msgspec.json.encode({"reason": reason, "count": n, "ts": now}))
                )
            out.extend(self._traces(st, made - sum(rejects.values()), now, vals))
        return out

    def _trace(self, site: str, unit: str, now: int, **fields: Any) -> Out:
        body = {"unit": unit, "ts": now, "operator": self._operator(now), **fields}
        return Out(f"factory/{site}/trace", msgspec.json.encode(body))

    def _traces(self, st: Station, good: int, now: int, vals: dict[str, Any]) -> list[Out]:
        r, c = st.ref, self.cfg
        out: list[Out] = []
        if r.key == "yarn-01/wind-01" and good > 0:
            self.cones += good
            if self.cones >= c.yarn_lot_cones:
                self.cones = 0
                self.trace_n += 1
                fibre = f"CF-{now // 14_400_000}"
                lot = f"YL-{c.seed}-{self.trace_n}"
                out.append(
                    self._trace(
                        r.site.id,
                        lot,
                        now,
                        kind_of_unit="lot",
                        line=r.line.id,
                        machine="wind-01",
                        start_ts=now - 120_000,
                        params={"tension_cN": vals.get("Process/Tension", 0.0)},
                        inputs=[
                            {"lot": fibre, "material": "精梳棉 combed cotton", "qty": 250.0, "unit": "kg"}
                        ],
                    )
                )
                self.yarn_lot = lot
        elif r.key == "knit-01/ironing" and good > 0:
            self.bundle[r.site.id] = self.bundle.get(r.site.id, 0) + good
            if self.bundle[r.site.id] >= c.bundle_size:
                self.bundle[r.site.id] = 0
                self.trace_n += 1
                unit = f"KB-{c.seed}-{self.trace_n}"
                self.bundles.append(unit)
                out.append(
                    self._trace(
                        r.site.id,
                        unit,
                        now,
                        kind_of_unit="bundle",
                        line=r.line.id,
                        machine="ironing",
                        start_ts=now - 80_000,
                        params={
                            "temp_c": round(float(vals.get("temp_dc", 0)) / 10, 1),
                            "steam_bar": vals.get("steam_bar", 0.0),
                        },
                        inputs=[
                            {
                                "lot": self.yarn_lot,
                                "material": "32S 棉纱 cotton yarn",
                                "qty": 25.0,
                                "unit": "kg",
                            }
                        ],
                    )
                )
                if len(self.bundles) >= c.pallet_bundles:
                    self.trace_n += 1
                    pallet = f"PL-{c.seed}-{self.trace_n}"
                    out.append(
                        self._trace(
                            r.site.id,
                            pallet,
                            now,
                            kind_of_unit="pallet",
                            line=r.line.id,
                            machine="palletizing",
                            inputs=[{"lot": b} for b in self.bundles],
                        )
                    )
                    self.bundles = []
        return out

    # -- MQTT -------------------------------------------------------------------------------------
    @staticmethod
    def scene_settings(ctx: SimContext) -> tuple[FactorySettings, PlantBook]:
        """The running scene's settings and plant model, found through its MQTT server."""
        for srv in ctx.servers:
            if isinstance(srv, FactoryMqttServer):
                return srv.rt.settings, srv.book
        settings = msgspec.convert(dict(ctx.scene_settings), FactorySettings, strict=False)
        return settings, PlantBook(load_file(settings.plants_file or DEFAULT_FILE))

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        settings, book = self.scene_settings(ctx)
        if book is not self.book:
            self._build(book)  # the scene's own plant model, not the demo default
        mq = settings.ingest.mqtt
        host, port = parse_url(mq.url) if mq.url else (ctx.host, mq.embedded_port)
        delay = 0.5
        while not stop.is_set():
            try:
                await self._session(host, port, stop, ctx, settings.ingest)
                delay = 0.5
            except aiomqtt.MqttError as err:
                log.warning("factory simulator: broker %s:%s unavailable (%s); retrying", host, port, err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 10.0)

    async def _session(
        self, host: str, port: int, stop: asyncio.Event, ctx: SimContext, ingest: IngestSettings
    ) -> None:
        """One MQTT client per plant site (JSON) and one for the Sparkplug edge node, each under its
        own broker account: a device may publish only under its own topics."""
        will_topic, will_payload = self.node.connect()
        will = aiomqtt.Will(will_topic, will_payload, 1, False)
        ncmd = spb.topic_for(spb.SpbTopic(self.cfg.group, "NCMD", self.cfg.node))

        def client(user: str, will: aiomqtt.Will | None = None) -> aiomqtt.Client:
            password = device_login(ctx.servers, ingest, user)
            return aiomqtt.Client(
                host,
                port,
                identifier=f"{user}-sim{self.cfg.seed}",  # a client id begins with its username
                username=user if password is not None else None,
                password=password,
                will=will,
            )

        async with contextlib.AsyncExitStack() as stack:
            sc = await stack.enter_async_context(client(edge_user(self.cfg.group, self.cfg.node), will=will))
            sites: dict[str, aiomqtt.Client] = {}
            await sc.subscribe(ncmd, qos=0)
            listen = asyncio.create_task(self._commands(sc))
            try:
                for o in self.node.births(
                    time.time_ns() // 1_000_000, self.spb_values(time.time_ns() // 1_000_000)
                ):
                    await sc.publish(o.topic, o.payload, qos=o.qos)
                while not stop.is_set():
                    now = time.time_ns() // 1_000_000
                    if self.node.rebirth_requested:
                        for o in self.node.births(now, self.spb_values(now)):
                            await sc.publish(o.topic, o.payload, qos=o.qos)
                    for o in self.messages(now):
                        if o.topic.startswith("spBv1.0/"):
                            c = sc
                        else:  # factory/<site>/...
                            site = o.topic.split("/")[1]
                            if site not in sites:
                                sites[site] = await stack.enter_async_context(client(site_user(site)))
                            c = sites[site]
                        await c.publish(o.topic, o.payload, qos=o.qos, retain=o.retain)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.cfg.tick_s)
            finally:
                listen.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await listen

    async def _commands(self, client: aiomqtt.Client) -> None:
        async for m in client.messages:
            if isinstance(m.payload, bytes | bytearray):
                with contextlib.suppress(Exception):  # a bad command must not stop the edge node
                    self.node.command(bytes(m.payload))


def simulator(settings: Mapping[str, Any]) -> FactorySimulator:
    return FactorySimulator(msgspec.convert(dict(settings), FactorySimConfig))
