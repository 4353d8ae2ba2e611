"""Factory settings (``[scenes.factory]``): the plant model files and the MQTT ingest.

The plant model (:class:`~citybrain.scenes.factory.plant.PlantBook`) is built once per settings
object, i.e. once per scene runtime, and shared by the parts that hold that object (API, gateway,
report, simulators): an edit made through the API applies to them at once. Never a process global:
two platforms in one process (tests) each have their own.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.gateways.mqtt import FieldMap, MqttAccount, MqttConfig, TagRule
from citybrain.scenes.factory.plant import DEFAULT_FILE, PlantBook, load_file

EDITS = Path("factory") / "plants.json"  # under the platform's data_dir unless edits_file is set


def _default_rules() -> list[TagRule]:
    return [
        TagRule(
            topic="factory/+/+/+/telemetry",
            entity="{1}/{3}",
            fields={"temp_dc": FieldMap(tag="temp", scale=0.1, unit="°C")},  # deci-degrees on the wire
        )
    ]


class IngestSettings(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = True  # false: no MQTT client and no embedded broker
    mqtt: MqttConfig = msgspec.field(
        default_factory=lambda: MqttConfig(topics=["factory/#", "spBv1.0/#"], client_id="citybrain-factory")
    )
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


class Live:
    """What the parts of one runtime share while it runs: the plant book, the running MQTT server
    (``/connectivity``, simulators' passwords) and the replay sessions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.book: PlantBook | None = None
        self.server: Any = None
        self.replayer: Any = None


class FactorySettings(sdk.SceneSettings, dict=True):  # dict: room for the runtime's Live objects
    plants_file: str = ""  # TOML or JSON; empty: the demo plant model shipped in the package
    edits_file: str = ""  # plant edits made through the API; empty: <data_dir>/factory/plants.json
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)

    @property
    def live(self) -> Live:
        live: Live | None = self.__dict__.get("live")
        if live is None:
            live = self.__dict__.setdefault("live", Live())  # setdefault: one wins a race
        return live

    def book(self, data_path: Path | None = None) -> PlantBook:
        """The plant model of these settings, built at first use. The saved edits are applied by
        the first caller that knows where they are: ``edits_file``, else
        ``<data_path>/factory/plants.json`` (the runtime's parts pass its ``data_path``)."""
        live = self.live
        with live.lock:
            if live.book is None:
                live.book = PlantBook(load_file(self.plants_file or DEFAULT_FILE))
            edits = Path(self.edits_file) if self.edits_file else data_path / EDITS if data_path else None
            if edits is not None and live.book.edits_file is None:
                live.book.attach_edits(edits)
            return live.book


def plant_book(rt: sdk.Runtime[FactorySettings]) -> PlantBook:
    """The runtime's plant model (processors, API, gateway, report share it), with its saved edits."""
    return rt.settings.book(rt.data_path)
