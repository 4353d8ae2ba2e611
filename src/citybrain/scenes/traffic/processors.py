"""The traffic scene's processing stages and alert rules (see events.py for why three stages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.processor import AlertRule
from citybrain.scenes.traffic import roadnet
from citybrain.scenes.traffic.aggregate import HOTSPOT_CONGESTED, AreaIndex
from citybrain.scenes.traffic.config import load_config
from citybrain.scenes.traffic.matching import VehicleMatcher
from citybrain.scenes.traffic.segments import SPEED_COLLAPSE, SegmentSpeeds
from citybrain.scenes.traffic.sources import SOURCE_SILENT, SourceWatch

ALERT_RULES: list[AlertRule] = [HOTSPOT_CONGESTED, SPEED_COLLAPSE, SOURCE_SILENT]


def processors(settings: Mapping[str, Any]) -> list[ProcessorSpec]:
    cfg = load_config(settings)
    tn = roadnet.load(cfg.network_path, cfg.areas_path)
    return [
        ProcessorSpec(VehicleMatcher.name, lambda p: VehicleMatcher(p, cfg, tn)),
        ProcessorSpec(SegmentSpeeds.name, lambda p: SegmentSpeeds(p, cfg, tn)),
        ProcessorSpec(AreaIndex.name, lambda p: AreaIndex(p, cfg, tn)),
        ProcessorSpec(SourceWatch.name, lambda p: SourceWatch(p, cfg)),
    ]
