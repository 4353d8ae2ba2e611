"""A Sparkplug B edge node written with mqtt-spb-wrapper (Eclipse Tahu's sparkplug_b protobuf), an
implementation nobody on the team wrote: the peer of tests/interop/test_sparkplug_interop.py.
Run with the interop environment's Python (.interop/bin/python); prints one JSON object per line.

``spb_edge.py capture DIR``: write the payloads the library makes for the metrics below (no
network) to DIR, the test data of tests/data/interop/sparkplug_b/ (see SOURCE.md there).

``spb_edge.py run HOST PORT GROUP NODE DEVICE USER PASSWORD``: connect an edge node and a device as
the library does (one MQTT client each, NDEATH/DDEATH as their Wills), publish NBIRTH and DBIRTH,
DDATA with every datatype, then a DDATA with a metric the DBIRTH did not announce; answer the
host's NCMD ``Node Control/Rebirth`` with new births (now with that metric), publish it again,
then disconnect the node (its NDEATH).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mqtt_spb_wrapper import MetricDataType as T
from mqtt_spb_wrapper import MqttSpbEntityDevice, MqttSpbEntityEdgeNode
from mqtt_spb_wrapper.spb_protobuf.sparkplug_b_pb2 import Payload

STAMP = 1_783_296_000_000  # 2026-07-06 00:00 UTC, the metric timestamps of the captured payloads

# (name, datatype, value at birth, value in DDATA): every scalar datatype citybrain's codec models
METRICS: list[tuple[str, int, Any, Any]] = [
    ("Int8", T.Int8, 7, -5),
    ("Int16", T.Int16, 300, -300),
    ("Int32", T.Int32, 70_000, -70_000),
    ("Int64", T.Int64, 2**53 + 1, -(2**62) - 3),
    ("UInt8", T.UInt8, 1, 250),
    ("UInt16", T.UInt16, 2, 65_000),
    ("UInt32", T.UInt32, 3, 4_000_000_000),
    ("UInt64", T.UInt64, 2**53 + 1, 2**64 - 1),
    ("Float", T.Float, 0.5, -1.25),
    ("Double", T.Double, 0.1, -1234.5678e-9),
    ("Boolean", T.Boolean, False, True),
    ("String", T.String, "idle", "运行 running"),
    ("Text", T.Text, "a", "b\nc"),
    ("UUID", T.UUID, "6f1c7c2e-0000-4000-8000-000000000001", "6f1c7c2e-0000-4000-8000-000000000002"),
    ("DateTime", T.DateTime, STAMP - 60_000, STAMP),
    ("Bytes", T.Bytes, b"\x00", b"\x00\xff\x10"),
]


_OUT = threading.Lock()


def out(**obj: Any) -> None:
    """One JSON line; callbacks on the MQTT thread report too, never on the same line."""
    with _OUT:
        print(json.dumps(obj, ensure_ascii=False, default=repr), flush=True)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.hex() if isinstance(v, bytes) else v for k, v in values.items()}


def fill(device: MqttSpbEntityDevice, column: int, ts: int | None = None) -> dict[str, Any]:
    values = {}
    for name, dt, *vals in METRICS:
        device.data.set_value(name, vals[column], timestamp=ts, spb_data_type=dt)
        values[name] = vals[column]
    return values


def capture(where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    device = MqttSpbEntityDevice("cbgroup", "n1", "c")
    fill(device, 0, STAMP)
    (where / "dbirth.bin").write_bytes(bytes(device.serialize_payload_birth()))
    data = fill(device, 1, STAMP)
    (where / "ddata.bin").write_bytes(bytes(device.serialize_payload_data()))
    out(captured=sorted(p.name for p in where.iterdir() if p.suffix == ".bin"), ddata=_jsonable(data))


def wait(cond: Any, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def now_ms() -> int:
    return int(time.time() * 1000)


def run(host: str, port: int, group: str, node_id: str, device_id: str, user: str, password: str) -> None:
    # include_spb_rebirth=True registers the result of publish_birth() as the command's callback
    # (2.1.2), which raises on the first NCMD rebirth: the command is declared here, answered below
    node = MqttSpbEntityEdgeNode(group, node_id, include_spb_rebirth=False)
    node.commands.set_value(name="Node Control/Rebirth", value=False)
    device = MqttSpbEntityDevice(group, node_id, device_id)
    current: dict[str, Any] = {}  # the device's data values as last set, by name
    rebirths: list[Any] = []

    def record(entity: Any) -> None:
        """Print every message the library publishes: its type, seq, and its metrics (names as the
        library wrote them, parsed back with Tahu's schema; values as set here)."""
        publish = entity._mqtt_payload_publish

        def wrapper(topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
            p = Payload()
            p.ParseFromString(bytes(payload))
            metrics = {}
            for m in p.metrics:
                name = m.name[len("DATA/") :] if m.name.startswith("DATA/") else m.name
                metrics[m.name] = _jsonable(current).get(name) if name in current else None
            seq = p.seq if p.HasField("seq") else None
            out(sent=topic.split("/")[2], seq=seq, metrics=metrics)
            return bool(publish(topic, payload, qos, retain))

        entity._mqtt_payload_publish = wrapper

    def on_command(payload: dict[str, Any]) -> None:
        metrics = [(m.get("name"), m.get("value")) for m in payload.get("metrics", [])]
        out(received="NCMD", metrics=metrics)
        if ("Node Control/Rebirth", True) in metrics:
            rebirths.append(payload)

    node.on_command = on_command
    for entity, suffix in ((node, "node"), (device, device_id)):
        record(entity)
        if not entity.connect(host, port, user, password, client_id=f"{user}-{suffix}", timeout=5):
            out(error=f"could not connect the {suffix}")
            sys.exit(2)

    def births() -> None:
        node.publish_birth(qos=1)
        time.sleep(0.3)  # two MQTT clients: let the NBIRTH reach the host before the DBIRTH
        device.publish_birth(qos=1)
        time.sleep(0.3)

    def extra(value: int, ts: int) -> None:
        device.data.set_value("Extra", value, timestamp=ts, spb_data_type=T.Int32)
        current["Extra"] = value

    current.update(fill(device, 0, now_ms()))
    births()
    current.update(fill(device, 1, now_ms()))
    device.publish_data(qos=1)
    time.sleep(0.3)
    extra(42, now_ms())  # a metric the DBIRTH did not announce: the host asks for a rebirth
    device.publish_data(qos=1)
    if not wait(lambda: bool(rebirths)):
        out(error="no rebirth request")
        sys.exit(3)
    ts = now_ms()  # the new births: the values as they are, now with Extra
    current.update(fill(device, 1, ts))
    extra(42, ts)
    births()
    extra(-43, now_ms())
    device.publish_data(qos=1)
    time.sleep(0.3)
    node.disconnect()  # publishes the NDEATH (the session's bdSeq) before closing
    device.disconnect(skip_death_publish=True)


def main(argv: list[str]) -> None:
    if argv[:1] == ["capture"] and len(argv) == 2:
        capture(Path(argv[1]))
    elif argv[:1] == ["run"] and len(argv) == 8:
        run(argv[1], int(argv[2]), *argv[3:8])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
