"""The scene SDK: the only API a scene imports (with the generic servers of ``citybrain.gateways``,
the pure codecs of ``citybrain.protocols`` and ``citybrain.geo``); ``tools/check_scenes.py`` enforces it.

See docs/scenes/writing-a-scene.md for a complete scene in one file.
"""

from citybrain.api.answers import AlertAnswer
from citybrain.api.ingest_gate import IngestBody, ingest_body
from citybrain.core.cases import kpi as case_kpi
from citybrain.core.cases.engine import Act as CaseAct
from citybrain.core.cases.engine import Actor as CaseActor
from citybrain.core.cases.engine import CaseEngine
from citybrain.core.cases.engine import Open as CaseOpen
from citybrain.core.cases.engine import Outcome as CaseOutcome
from citybrain.core.cases.events import CaseChanged
from citybrain.core.cases.model import ANY, Action, CaseType, Escalation, Limit, State
from citybrain.core.cases.records import CaseQuery
from citybrain.core.cases.routing import Route, route_for
from citybrain.core.clock import now_ms
from citybrain.core.documents import read_document
from citybrain.core.errors import (
    CitybrainError,
    ConfigError,
    ConflictError,
    DecodeError,
    NotFoundError,
    Problem,
    ValidationError,
)
from citybrain.core.events import MAX_TS, MIN_TS, Event
from citybrain.core.outputs import Severity
from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.processor import AlertRule, Emitter, Processor
from citybrain.core.runtime import Runtime
from citybrain.core.store.base import Agg, AlertQuery, ReadModel
from citybrain.core.windows import Windows, WindowState, advance_watermark
from citybrain.sdk.aggregate import processor_class
from citybrain.sdk.context import Ctx
from citybrain.sdk.panels import (
    Alerts,
    Bar,
    Detail,
    Figure,
    Figures,
    Line,
    Map,
    Panel,
    Radar,
    Share,
    Table,
    Tiles,
    TimeSeries,
)
from citybrain.sdk.rules import make_rule as rule
from citybrain.sdk.runtime import Areas, acting, public, readable_areas, require, router, runtime
from citybrain.sdk.scene import Scene
from citybrain.sdk.settings import SceneSettings, duration_ms
from citybrain.sdk.windows import (
    Aggregation,
    Window,
    count,
    last,
    maximum,
    mean,
    minimum,
    sliding,
    total,
    tumbling,
)
from citybrain.sim.base import SimContext, poisson

__all__ = [
    "ANY",
    "MAX_TS",
    "MIN_TS",
    "Action",
    "Agg",
    "Aggregation",
    "AlertAnswer",
    "AlertQuery",
    "AlertRule",
    "Alerts",
    "Areas",
    "Bar",
    "CaseAct",
    "CaseActor",
    "CaseChanged",
    "CaseEngine",
    "CaseOpen",
    "CaseOutcome",
    "CaseQuery",
    "CaseType",
    "CitybrainError",
    "ConfigError",
    "ConflictError",
    "Ctx",
    "DecodeError",
    "Detail",
    "Emitter",
    "Escalation",
    "Event",
    "Figure",
    "Figures",
    "IngestBody",
    "Limit",
    "Line",
    "Map",
    "NotFoundError",
    "Panel",
    "Problem",
    "Processor",
    "ProcessorSpec",
    "Radar",
    "ReadModel",
    "Route",
    "Runtime",
    "Scene",
    "SceneSettings",
    "Severity",
    "Share",
    "SimContext",
    "State",
    "Table",
    "Tiles",
    "TimeSeries",
    "ValidationError",
    "Window",
    "WindowState",
    "Windows",
    "acting",
    "advance_watermark",
    "case_kpi",
    "count",
    "duration_ms",
    "ingest_body",
    "last",
    "maximum",
    "mean",
    "minimum",
    "now_ms",
    "poisson",
    "processor_class",
    "public",
    "read_document",
    "readable_areas",
    "require",
    "route_for",
    "router",
    "rule",
    "runtime",
    "sliding",
    "total",
    "tumbling",
]  # fmt: skip
