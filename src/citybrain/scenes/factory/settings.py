"""Factory settings (``[scenes.factory]``): the plant model files and the MQTT ingest. The plant
model they name is built once per runtime, as the scene's world (``world.py``)."""

from __future__ import annotations

import msgspec

from citybrain import sdk
from citybrain.gateways.mqtt import FieldMap, MqttAccount, MqttConfig, TagRule


def _default_rules() -> list[TagRule]:
    return [
        TagRule(
            topic="factory/+/+/+/telemetry",
            entity="{1}/{3}",
            fields={"temp_dc": FieldMap(tag="temp", scale=0.1, unit="°C")},  # deci-degrees on the wire
        )
    ]


class FactoryMqtt(MqttConfig):
    """The factory's MQTT subscription: the generic settings with the factory's defaults, which hold
    field by field (setting only ``url`` keeps these topics and this client id)."""

    topics: list[str] = msgspec.field(default_factory=lambda: ["factory/#", "spBv1.0/#"])  # MQTT filters
    client_id: str = "citybrain-factory"  # stable and unique on the broker: it keeps the session by it


class IngestSettings(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = True  # false: no MQTT client and no embedded broker
    mqtt: FactoryMqtt = msgspec.field(default_factory=FactoryMqtt)  # the subscription
    tag_rules: list[TagRule] = msgspec.field(default_factory=_default_rules)  # JSON topic -> machine tags
    reject_topic: str = "factory/+/+/+/reject"  # JSON reject reasons
    reject_entity: str = "{1}/{3}"  # the machine of a reject topic: template over its levels
    trace_topic: str = "factory/+/trace"  # JSON genealogy records; level 1 is the site
    sparkplug: bool = True  # run the Sparkplug B host on spBv1.0/ topics
    host_id: str = "citybrain"  # the Sparkplug host id (its STATE topic)
    rebirth_interval_s: float = 5.0  # at most one rebirth request per node this often
    devices: dict[str, MqttAccount] = msgspec.field(default_factory=dict)  # embedded broker: accounts by user
    # random passwords that only this process knows (the simulators of ``citybrain run`` use them)
    demo_devices: bool = True  # embedded broker: one account per plant site and Sparkplug edge node
    max_unmapped: int = 1_000  # distinct unmapped topics/entities counted; the rest in "(other)"


class FactorySettings(sdk.SceneSettings):
    plants_file: str = ""  # TOML or JSON; empty: the demo plant model shipped in the package
    edits_file: str = ""  # plant edits made through the API; empty: <data_dir>/factory/plants.json
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)
