"""What the factory's parts share while a runtime runs (``rt.world``): the plant model with its saved
edits, so an edit made through the API applies to the processors, gateway and report at once; the
running MQTT server (``/connectivity``, the simulators' passwords); the replay sessions. Built once
per runtime, never a process global: two platforms in one process (tests) each have their own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citybrain.scenes.factory.plant import DEFAULT_FILE, PlantBook, load_file
from citybrain.scenes.factory.settings import FactorySettings

EDITS = Path("factory") / "plants.json"  # under the platform's data_dir unless edits_file is set


@dataclass
class FactoryWorld:
    book: PlantBook
    server: Any = None  # the FactoryMqttServer, when the ingest runs
    replayer: Any = None  # the Replayer, from the first replay on
    lock: threading.Lock = field(default_factory=threading.Lock)


def world(settings: FactorySettings, data_path: Path) -> FactoryWorld:
    """The plant model of ``plants_file`` (else the demo) with the edits saved in ``edits_file``
    (else ``<data_dir>/factory/plants.json``); a bad file fails the start, naming it."""
    book = PlantBook(load_file(settings.plants_file or DEFAULT_FILE))
    book.attach_edits(Path(settings.edits_file) if settings.edits_file else data_path / EDITS)
    return FactoryWorld(book)
