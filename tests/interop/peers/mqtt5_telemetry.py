"""A factory device publishing JSON telemetry with Eclipse paho-mqtt 1.6.1 over MQTT 5.

    mqtt5_telemetry.py HOST PORT CLIENT_ID USERNAME PASSWORD TOPIC=JSON [TOPIC=JSON ...]

Connects with MQTT 5 (clean start, session expiry 0), publishes each JSON document at QoS 1 with
MQTT 5 properties a device might set (content type, payload format, user property, message expiry),
waits for every PUBACK and disconnects. Prints JSON lines: the CONNACK, then one line per PUBACK
(its reason code), so the test sees what the broker answered. Exit status 0 even when refused: the
refusal is what the test looks at.
"""

from __future__ import annotations

import faulthandler
import json
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_OUT = threading.Lock()


def emit(**fields: object) -> None:
    """One JSON line; the MQTT thread and the main thread both report, never on one line."""
    with _OUT:
        sys.stdout.write(json.dumps(fields) + "\n")


def code(rc: object) -> int:
    """An MQTT 5 reason code (paho gives a ReasonCodes object) or a 3.1.1 return code (an int)."""
    return int(getattr(rc, "value", rc))  # type: ignore[call-overload]


def main() -> None:
    faulthandler.dump_traceback_later(20, exit=True)  # a hang shows where, in the test's report
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # each line as it happens
    host, port, client_id, user, password, *pairs = sys.argv[1:]
    client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
    if user:
        client.username_pw_set(user, password)
    connected = threading.Event()
    acked: set[int] = set()
    changed = threading.Condition()

    def on_connect(_c, _u, _flags, rc, _props=None):  # type: ignore[no-untyped-def]
        emit(connack=code(rc), name=str(rc))
        connected.set()

    def on_publish(_c, _u, mid):  # type: ignore[no-untyped-def]
        emit(puback=mid)
        with changed:  # never held while calling into paho (its own locks are taken in there)
            acked.add(mid)
            changed.notify_all()

    def on_disconnect(_c, _u, rc, _props=None):  # type: ignore[no-untyped-def]
        emit(disconnected=code(rc), name=str(rc))
        connected.set()
        with changed:
            changed.notify_all()

    def on_log(_c, _u, level, text):  # type: ignore[no-untyped-def]
        if level <= mqtt.MQTT_LOG_WARNING:
            emit(log=text)

    client.on_connect, client.on_publish, client.on_disconnect = on_connect, on_publish, on_disconnect
    client.on_log = on_log
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    try:
        client.connect(host, int(port), keepalive=30, clean_start=True, properties=props)
    except OSError as err:
        emit(connect_error=str(err))
        return
    client.loop_start()
    connected.wait(10)
    if not connected.is_set():
        emit(no_answer_s=10)
    if client.is_connected():
        mids = []
        for pair in pairs:
            topic, body = pair.split("=", 1)
            p = Properties(PacketTypes.PUBLISH)
            p.ContentType = "application/json"
            p.PayloadFormatIndicator = 1
            p.UserProperty = ("device-model", "paho-v5-peer")
            p.MessageExpiryInterval = 3600
            mids.append(client.publish(topic, body.encode(), qos=1, properties=p).mid)
            emit(published=topic, mid=mids[-1])
        with changed:
            changed.wait_for(lambda: acked >= set(mids) or not client.is_connected(), timeout=10)
        client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
