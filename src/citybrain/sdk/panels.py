"""Typed dashboard panels: each widget kind is a Struct, so a misspelt key is an error when the
scene is built, not a blank card on the big screen. ``Panel.to_dict()`` is what the dashboard reads
(the same JSON the scenes' hand-written dicts had).

Checked when the scene is built (:func:`check_panel`): every ``api``/``click``/``history`` path
under the scene's prefix is a route of the scene's router; the fields a widget reads (``field``,
``x``, ``y``, ``columns``...) are fields of that route's declared response type (where it declares
one); a ``live`` topic is one the scene publishes (``state.<scene>...``, ``alert.<scene>``,
``metric.<scene>....``); a time series' metric is one the scene declares.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from typing import Any

import msgspec

Label = dict[str, str]  # by locale: {"zh-CN": ..., "en": ...}


class Widget(msgspec.Struct, kw_only=True, tag_field="kind", omit_defaults=True, forbid_unknown_fields=True):
    label: Label
    live: str = ""


class Figure(Widget, tag="figure"):
    """One number from the answer of ``api`` (``field``), e.g. vehicles online."""

    api: str
    field: str
    digits: int | None = None
    format: str = ""  # "percent"
    status: dict[str, Any] | None = None  # thresholds -> colours
    target: float | None = None


class Figures(Widget, tag="figures"):
    """Several numbers from one answer: ``fields`` maps each field to its label."""

    api: str
    fields: dict[str, Label]
    digits: dict[str, int] | None = None


class Bar(Widget, tag="bar"):
    """Bars of ``y`` (one field or several) by ``x`` over a list answer (or its ``items``)."""

    api: str
    x: str
    y: str | list[str]
    items: str = ""  # the list inside the answer, when the answer is an object
    sort: str = ""  # "-field": descending
    limit: int | None = None


class TimeSeries(Widget, tag="timeseries"):
    """A metric over time (``key``: one entity; empty: all), live from ``metric.<name>``."""

    metric: str
    key: str = ""


class Table(Widget, tag="table"):
    """Rows of a list answer (or its ``rows``) with ``columns``; ``click`` opens a drill-down."""

    api: str
    columns: list[Any]
    rows: str = ""  # the list inside the answer, when the answer is an object
    click: str = ""  # a drill-down path with {field} placeholders
    limit: int | None = None


class Map(Widget, tag="map"):
    """Points on the map from a list answer: ``lon``/``lat``/``id`` fields, coloured by ``color_by``."""

    api: str
    lon: str
    lat: str
    id: str
    items: str = ""
    color_by: str = ""
    click: str = ""


class Detail(Widget, tag="detail"):
    """The drill-down of one entity: ``api``, its ``history`` of ``signals`` and a CSV ``export``."""

    api: str
    history: str = ""
    export: str = ""
    signals: list[str] = msgspec.field(default_factory=list)


class Share(Widget, tag="share"):
    """A breakdown (``field`` holds counts by category) as a ring, coloured by ``categories``."""

    api: str
    field: str
    categories: list[dict[str, Any]] = msgspec.field(default_factory=list)


class Alerts(Widget, tag="alerts"):
    """The scene's open alerts, live."""

    scene: str


class Tiles(Widget, tag="tiles"):
    """A schematic tile map (grid cartogram) of areas from a list answer (or its ``items``): each
    row's ``row``/``col`` place its tile, ``name`` labels it, ``value`` is shown in it (``digits``,
    ``unit``) and ``color_by`` picks its colour among ``categories`` (``[{value, color, label}]``,
    shown as the legend). For areas whose boundaries may not be shipped."""

    api: str
    items: str = ""
    name: str = "name"
    value: str = "value"
    color_by: str = ""
    categories: list[dict[str, Any]] = msgspec.field(default_factory=list)
    row: str = "row"
    col: str = "col"
    digits: int | None = None
    unit: Label | None = None


class Radar(Widget, tag="radar"):
    """Series over named axes. The axes are the list ``axes`` of the answer (``axis_id``; their
    names from the field ``axis_label`` names per locale); ``reference`` is an axis field holding one
    series (e.g. the city's mean, called ``reference_label``); the first ``count`` rows of ``items``
    (ranked lists: the best first) each give a series, ``values`` holding ``{axis id: value}``,
    named by ``name``. ``min``/``max`` fix the scale (default: from the data)."""

    api: str
    axes: str
    axis_id: str = "id"
    axis_label: Label = msgspec.field(default_factory=lambda: {"zh-CN": "name", "en": "name"})
    reference: str = ""
    reference_label: Label | None = None
    items: str = ""
    values: str = ""
    name: str = "name"
    count: int = 1
    min: float | None = None
    max: float | None = None
    digits: int | None = None


class Line(Widget, tag="line"):
    """Series over periods from one answer (not a metric: see ``timeseries``). ``x`` is the list of
    periods; each of ``series`` (``[{field, label}]``) a list of values aligned with it (drawn bold,
    e.g. the city's mean); and each row of ``items`` (up to ``limit``) a thin line named by ``name``
    whose ``points`` are objects with ``y`` and the period in ``at`` (empty: aligned by position)."""

    api: str
    x: str
    series: list[dict[str, Any]] = msgspec.field(default_factory=list)
    items: str = ""
    name: str = "name"
    points: str = "points"
    y: str = "value"
    at: str = ""
    limit: int | None = None
    digits: int | None = None
    unit: Label | None = None


AnyWidget = Figure | Figures | Bar | TimeSeries | Table | Map | Detail | Share | Alerts | Tiles | Radar | Line


class Panel(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A scene's card on the big screen: ``headline`` figures, ``widgets``, optional ``map_layers``;
    ``order``/``column`` place it. ``id`` and ``title`` default to the scene's name and title."""

    id: str = ""
    title: Label = msgspec.field(default_factory=dict)
    widgets: list[AnyWidget] = msgspec.field(default_factory=list)
    headline: list[AnyWidget] = msgspec.field(default_factory=list)
    map_layers: list[dict[str, Any]] = msgspec.field(default_factory=list)
    order: int | None = None
    column: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


def panel_from_dict(data: dict[str, Any]) -> Panel:
    return msgspec.convert(data, Panel)


# -- checks --------------------------------------------------------------------------------------
_PARAM = re.compile(r"\{[^}]*\}")


def _template(path: str) -> str:
    return _PARAM.sub("{}", path.split("?", 1)[0]).rstrip("/") or "/"


def _paths(w: AnyWidget) -> Iterator[tuple[str, str]]:
    for attr in ("api", "click", "history", "export"):
        value = getattr(w, attr, "")
        if value:
            yield attr, value


def _model(t: Any) -> Any:
    """The pydantic model inside a response type (a list's element; ``X | None``'s X), or None."""
    while True:
        if getattr(t, "model_fields", None) is not None:
            return t
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if not args:
            return None
        t = args[0]


def _answers(model: Any, dotted: str) -> bool | None:
    """Whether ``dotted`` (``oee.oee``) is a field of ``model``; None when it cannot be told (a
    part typed ``dict``/``Any``: the check gives it the benefit of the doubt)."""
    for part in dotted.split("."):
        m = _model(model)
        if m is None:
            return None
        f = m.model_fields.get(part)
        if f is None:
            return False
        model = f.annotation
    return True


def _read_fields(w: AnyWidget) -> list[str]:
    if isinstance(w, Figure | Share):
        return [w.field]
    if isinstance(w, Figures):
        return list(w.fields)
    if isinstance(w, Bar):
        return [w.x, *([w.y] if isinstance(w.y, str) else w.y)]
    if isinstance(w, Table):
        return [c if isinstance(c, str) else c.get("field", "") for c in w.columns if c]
    if isinstance(w, Map):
        return [w.lon, w.lat, w.id]
    if isinstance(w, Tiles):
        return [w.name, w.value, w.color_by, w.row, w.col]
    if isinstance(w, Radar | Line):
        return [w.name] if w.items else []
    return []


def check_panel(scene: str, panel: Panel, routes: dict[str, Any], metrics: set[str]) -> list[str]:
    """Problems of ``panel`` (empty when it is sound). ``routes``: template path (under the scene's
    prefix, e.g. ``/vehicles/{}``) -> declared response type or None."""
    prefix = f"/api/v1/scenes/{scene}"
    problems: list[str] = []
    if panel.id != scene:
        problems.append(f"panel id {panel.id!r} must be the scene's name {scene!r}")
    for n, w in enumerate([*panel.headline, *panel.widgets]):
        where = f"panel {scene} widget {n} ({w.label.get('en') or w.label.get('zh-CN')})"
        for attr, path in _paths(w):
            if not path.startswith(prefix):
                continue  # a core route (alerts, metrics ...)
            t = _template(path[len(prefix) :])
            if t not in routes:
                problems.append(f"{where}: {attr} {path} is not a route of the scene")
                continue
            if attr != "api":
                continue
            answer, inside = routes[t], getattr(w, "items", "") or getattr(w, "rows", "")
            missing = [
                f
                for f in _read_fields(w)
                if f and _answers(answer, f"{inside}.{f}" if inside else f) is False
            ]
            if missing:
                problems.append(f"{where}: {missing} are not fields of the answer of {path}")
        if w.live and not any(
            w.live == f"{t}.{scene}" or w.live.startswith(f"{t}.{scene}.")
            for t in ("state", "alert", "metric")
        ):
            problems.append(f"{where}: live topic {w.live!r} is not one the scene publishes")
        if isinstance(w, TimeSeries) and metrics and w.metric not in metrics:
            problems.append(f"{where}: metric {w.metric!r} is not declared by the scene")
    return problems
