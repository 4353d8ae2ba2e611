"""Open311 GeoReport v2 over the case engine, so existing civic-reporting clients work (docs/open311.md).

The public files requests of the case types declared in ``INTAKES`` (12345 appeals by kind, grid
reports by 小类): one Open311 *service* per (case type, category), its ``service_code`` a stable,
URL-safe slug from a declared table ("hotline-complaint"); a category the table does not know (a
小类 added in the settings) gets "grid-x" + a short hash of its name, stable as long as the name is.

* ``GET /open311/v2/services.{format}``, ``GET /open311/v2/services/{code}.{format}``: public.
* ``POST /open311/v2/requests.{format}``: form-encoded, ``api_key`` a platform token with the
  ``ingest`` or ``operate`` scope; opens a case (``CaseEngine.open``) under a command id derived
  from the request, so a retried POST answers the same ``service_request_id``.
* ``GET /open311/v2/requests.{format}``, ``GET /open311/v2/requests/{id}.{format}``: a ``read``
  token as ``api_key`` or a bearer header; only the case type's public fields are shown.

Formats: ``json`` and ``xml`` (the spec's required one, built with the standard library). Errors
are the spec's list of ``{code, description}`` in the request's format, whatever raised them
(``Open311Route`` turns the platform's errors, the body gate's refusals and FastAPI's validation
into it), so a client never sees citybrain's own error shape under this prefix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from citybrain.api.auth import CSRF_HEADER, SESSION_COOKIE, Require, Who, authorize, identify
from citybrain.api.bodies import Refused
from citybrain.core.cases.engine import BJT, Actor, CaseEngine
from citybrain.core.cases.model import CaseType
from citybrain.core.cases.records import Case, CaseEntry, CaseQuery
from citybrain.core.clock import now_ms
from citybrain.core.errors import (
    AuthError,
    BackpressureError,
    CitybrainError,
    ConfigError,
    ConflictError,
    NotFoundError,
    Problem,
    StoreError,
    ValidationError,
)
from citybrain.core.ingest import TooLargeError
from citybrain.identity.policy import Policy

PREFIX = "/open311/v2"
CASES = "cases"  # the case engine's pseudo-scene (api/routes_cases.py)
FORMAT = r"^(json|xml)$"
LIST_DAYS = 90  # GET requests: the spec's default window and the widest one asked for
LIST_MAX = 1000  # ... and its most requests
IDS_MAX = 200  # service_request_id values in one GET
FIELDS_MAX = 200  # pairs in one form
ATTRIBUTES_MAX = 50
KEY_HEADER = "idempotency-key"  # a client's own retry key (IETF httpapi draft), else FixMyStreet's id
KEY_ATTRIBUTES = ("fixmystreet_id",)
NOTE_FIELDS = ("status_note", "reply")  # public fields whose latest value goes into status_notes


# -- the services: a declared table ----------------------------------------------------------------
@dataclass(frozen=True)
class Attribute:
    """A service definition's attribute: where its value goes (``"area"``: the case's area column,
    validated as a code; anything else: a private case field of that name)."""

    code: str
    description: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"] = "string"
    required: bool = False
    datatype_description: str = ""
    values: tuple[tuple[str, str], ...] = ()
    pattern: str = r"^[^\x00-\x1f\x7f]{0,200}$"


@dataclass(frozen=True)
class Intake:
    """A case type the public may file: its code prefix, the department that receives its requests
    (``agency_responsible`` until dispatched), its categories (``names``: category -> (slug, English
    name); ``from_limits``: the categories are those with a limit in the settings, else ``names``)."""

    type: str
    prefix: str
    receiver: str
    names: Mapping[str, tuple[str, str]]
    from_limits: bool
    attributes: tuple[Attribute, ...] = ()


AREA = Attribute(
    "area", "所在区划或单元网格代码 / administrative or unit-grid code of the place",
    datatype_description="6–15 位数字 / 6 to 15 digits", pattern=r"^[0-9]{6,15}$",
)  # fmt: skip
INTAKES: tuple[Intake, ...] = (
    Intake(
        "civic.hotline", "hotline", "nc-12345",
        {"咨询": ("inquiry", "Inquiry"), "求助": ("help", "Request for help"),
         "投诉": ("complaint", "Complaint"), "举报": ("report", "Report of wrongdoing"),
         "建议": ("suggestion", "Suggestion")},
        from_limits=False,
        attributes=(
            AREA,
            Attribute("subject", "反映对象(单位、商户或设施) / whom or what the appeal is about"),
            Attribute("reply_wanted", "是否需要答复 / whether a reply is wanted", "singlevaluelist",
                      values=(("yes", "需要 / yes"), ("no", "不需要 / no"))),
        ),
    ),
    Intake(
        "civic.grid", "grid", "nc-urban",
        {"暴露垃圾": ("exposed-garbage", "Exposed garbage"),
         "道路不洁": ("dirty-road", "Dirty road"),
         "积存垃圾渣土": ("piled-waste", "Piled waste and muck"),
         "绿地脏乱": ("untidy-green", "Untidy green space"),
         "道路积水": ("road-flooding", "Water on the road"),
         "占道经营": ("street-vending", "Street vending"),
         "非法小广告": ("illegal-flyers", "Illegal flyers"),
         "违法搭建": ("illegal-building", "Illegal building"),
         "乱停车": ("illegal-parking", "Illegal parking"),
         "井盖缺失": ("missing-manhole-cover", "Missing manhole cover"),
         "路灯损坏": ("broken-streetlight", "Broken streetlight")},
        from_limits=True,
        attributes=(AREA, Attribute("component_id", "部件编码(CJ/T 214) / component code, if known")),
    ),
)  # fmt: skip
UNITS_EN = {
    "working_days": "working days",
    "working_hours": "working hours",
    "days": "days",
    "hours": "hours",
}


@dataclass(frozen=True)
class Service:
    code: str
    intake: Intake
    case_type: CaseType
    category: str

    @property
    def name(self) -> str:
        english = self.intake.names.get(self.category, ("", ""))[1]
        return f"{self.category} / {english}" if english else self.category

    @property
    def notice(self) -> str:
        """What is promised: the case type's limit for the category (``service_notice``)."""
        limit = self.case_type.limit_for(self.category)
        if limit is None:
            return "受理后按规定办理 / handled as the rules say"
        return f"{limit}内办结 / handled within {limit.amount:g} {UNITS_EN[limit.unit]}"

    def listing(self) -> dict[str, Any]:
        return {
            "service_code": self.code, "service_name": self.name,
            "description": f"{self.case_type.title}：{self.name}，{self.notice}",
            "metadata": bool(self.intake.attributes), "type": "realtime",
            "keywords": ", ".join((self.category, self.intake.prefix)), "group": self.case_type.title,
        }  # fmt: skip

    def definition(self) -> dict[str, Any]:
        return {
            "service_code": self.code,
            "attributes": [
                {"variable": True, "code": a.code, "datatype": a.datatype, "required": a.required,
                 "datatype_description": a.datatype_description, "order": i, "description": a.description,
                 "values": [{"key": k, "name": n} for k, n in a.values]}
                for i, a in enumerate(self.intake.attributes, 1)
            ],
        }  # fmt: skip


def code_for(intake: Intake, category: str) -> str:
    """The category's service code: the declared slug, else a short hash of its name (stable)."""
    slug = intake.names.get(category, ("", ""))[0]
    if slug:
        return f"{intake.prefix}-{slug}"
    digest = hashlib.blake2b(category.encode(), digest_size=5).digest()
    return f"{intake.prefix}-x{base64.b32encode(digest).decode().lower()}"


class Catalogue:
    """The services of the case types the engine has (a scene not installed offers none)."""

    def __init__(self, types: Mapping[str, CaseType]) -> None:
        self.by_code: dict[str, Service] = {}
        self.types = types
        self.intakes = {i.type: i for i in INTAKES if i.type in types}
        for intake in self.intakes.values():
            ct = types[intake.type]
            for category in ct.limits_by_category if intake.from_limits else intake.names:
                service = Service(code_for(intake, category), intake, ct, category)
                if service.code in self.by_code:
                    raise ConfigError(f"open311: service code {service.code!r} is given twice")
                self.by_code[service.code] = service

    def service(self, code: str) -> Service:
        found = self.by_code.get(code)
        if found is None:
            raise NotFoundError(
                f"service_code {code[:100]!r} not found: GET {PREFIX}/services.json lists them"
            )
        return found

    def of_case(self, case: Case) -> Service | None:
        intake = self.intakes.get(case.type)
        if intake is None:
            return None
        code = code_for(intake, case.category)
        return self.by_code.get(code) or Service(code, intake, self.types[case.type], case.category)


def catalogue(request: Request) -> Catalogue:
    engine = _engine(request)
    cached: tuple[int, Catalogue] | None = getattr(request.app.state, "open311_catalogue", None)
    if cached is None or cached[0] != id(engine):
        cached = (id(engine), Catalogue(engine.types))
        request.app.state.open311_catalogue = cached
    return cached[1]


def _engine(request: Request) -> CaseEngine:
    engine: CaseEngine = request.app.state.platform.cases
    return engine


# -- answers: JSON or XML, errors as the spec's list -------------------------------------------------
ITEMS = {"attributes": "attribute", "values": "value"}  # XML: a list's element names its items
_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # not allowed in XML 1.0


def _xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_BAD.sub("", str(value))


def _xml_into(parent: ET.Element, tag: str, value: Any) -> None:
    node = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_into(node, k, v)
    elif isinstance(value, list):
        for v in value:
            _xml_into(node, ITEMS.get(tag, "item"), v)
    else:
        node.text = _xml_text(value)


def to_xml(root: str, item: str | None, doc: Any) -> bytes:
    """``doc`` (a list of ``item`` elements under ``root``, or one object as ``root``) as XML."""
    top = ET.Element(root)
    if item is None:
        for k, v in doc.items():
            _xml_into(top, k, v)
    else:
        for v in doc:
            _xml_into(top, item, v)
    out: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return out


def answer(fmt: str, root: str, item: str | None, doc: Any, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, item, doc), status, media_type="text/xml; charset=utf-8")
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status, media_type="application/json; charset=utf-8")


ERROR_STATUS: list[tuple[type[CitybrainError], int]] = [
    (AuthError, 403),  # the spec's example answers an invalid api_key 403 (ForbiddenError is one too)
    (NotFoundError, 404),
    (ConflictError, 409),
    (TooLargeError, 413),
    (BackpressureError, 429),
    (StoreError, 503),
    (ValidationError, 400),
    (ConfigError, 400),
]


def refusal(err: Exception) -> tuple[int, list[str]] | None:
    """(status, descriptions) for an error raised under this prefix; None: not one we answer."""
    if isinstance(err, Refused):
        err = err.error
    if isinstance(err, ValidationError):
        return 400, [f"{p.field}: {p.reason}" if p.field else p.reason for p in err.problems] or [str(err)]
    if isinstance(err, CitybrainError):
        return next((code for cls, code in ERROR_STATUS if isinstance(err, cls)), 400), [str(err)]
    if isinstance(err, RequestValidationError):
        where = [
            ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path")) for e in err.errors()
        ]
        out = [f"{w}: {e.get('msg', '')}" for w, e in zip(where, err.errors(), strict=True)]
        return 400, out or ["invalid request"]
    if isinstance(err, HTTPException):
        return err.status_code, [str(err.detail)]
    return None


def errors_answer(fmt: str, status: int, descriptions: Iterable[str]) -> Response:
    return answer(fmt, "errors", "error", [{"code": status, "description": d} for d in descriptions], status)


class Open311Route(APIRoute):
    """A route whose every refusal (dependencies and parameter validation included) is the spec's
    error list in the request's format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except Exception as err:
                found = refusal(err)
                if found is None:
                    raise
                fmt = "xml" if request.path_params.get("format") == "xml" else "json"
                return errors_answer(fmt, *found)

        return handler


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)


# -- who: the spec's api_key, or a bearer header -------------------------------------------------------
def admit(request: Request, api_key: str | None, actions: Sequence[str]) -> Who:
    """The principal of ``api_key`` (else the bearer header or session) allowed one of ``actions``
    on cases; AuthError (answered 403) naming what is missing."""
    h = request.headers
    cookie = None if api_key else request.cookies.get(SESSION_COOKIE)
    authorization = f"Bearer {api_key}" if api_key else h.get("authorization")
    if not authorization and not cookie:
        raise AuthError("api_key missing: send a platform token as api_key (or 'Authorization: Bearer')")
    state = request.app.state
    who = identify(state, authorization, cookie, h.get(CSRF_HEADER), request.method)
    for i, action in enumerate(actions):
        try:
            authorize(state, who, action, CASES)
            break
        except AuthError:
            if i == len(actions) - 1:
                raise
    request.state.token, request.state.who = who.token, who
    return who


class ApiKey(Require):
    """``require(action)`` for Open311 reads: the token may come as the ``api_key`` query parameter."""

    def __call__(self, request: Request) -> Who:
        return admit(request, request.query_params.get("api_key"), (self.scope,))


# -- POST: the form ----------------------------------------------------------------------------------
_ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_.-]{1,64})\](\[\])?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TEXT_MAX = {  # form field -> most characters
    "api_key": 200, "jurisdiction_id": 100, "service_code": 100, "lat": 40, "long": 40,
    "address_string": 500, "address_id": 100, "email": 254, "device_id": 200, "account_id": 200,
    "first_name": 100, "last_name": 100, "phone": 40, "description": 4000, "media_url": 2000,
}  # fmt: skip
PRIVATE = {"email": "email", "phone": "phone", "device_id": "device_id", "account_id": "account_id",
           "address_id": "address_id"}  # form field -> private case field  # fmt: skip


class FormError(ValidationError):
    pass


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """An ``application/x-www-form-urlencoded`` body as (name, value) pairs, UTF-8; FormError if it
    is not one (undecodable, too many fields)."""
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                         max_num_fields=FIELDS_MAX)  # fmt: skip
    except ValueError as err:  # UnicodeDecodeError is one
        reason = f"more than {FIELDS_MAX} fields" if "Max number" in str(err) else "not UTF-8 form-encoded"
        raise FormError([_problem("body", reason)]) from None


def _problem(name: str, reason: str) -> Problem:
    return Problem(0, name, reason)


@dataclass
class Submission:
    """A POSTed request, checked: every problem found at once (FormError lists them)."""

    service_code: str = ""
    api_key: str = ""
    lat: float | None = None
    lon: float | None = None
    text: dict[str, str] = field(default_factory=dict)
    media: list[str] = field(default_factory=list)
    attributes: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Submission:
        out, problems = cls(), []
        for name, value in pairs:
            if _CONTROL.search(value) or _CONTROL.search(name):
                problems.append(_problem(name[:70], "control characters are not allowed"))
                continue
            attr = _ATTRIBUTE.match(name)
            if attr:
                values = out.attributes.setdefault(attr.group(1), [])
                if len(out.attributes) > ATTRIBUTES_MAX or len(values) >= 20 or len(value) > 2000:
                    problems.append(_problem(name[:70], "too many or too long attribute values"))
                values.append(value)
            elif name in TEXT_MAX:
                if len(value) > TEXT_MAX[name]:
                    problems.append(_problem(name, f"longer than {TEXT_MAX[name]} characters"))
                elif name == "media_url":
                    if value and not re.match(r"^https?://[^\s]+$", value):
                        problems.append(_problem(name, "not an http(s) URL"))
                    elif value and len(out.media) < 10:
                        out.media.append(value)
                else:
                    out.text[name] = value.strip()
            # anything else is ignored, as the spec lets servers do with parameters they do not use
        out.service_code, out.api_key = out.text.pop("service_code", ""), out.text.pop("api_key", "")
        problems += out._location()
        if not out.service_code:
            problems.append(_problem("service_code", "required"))
        if problems:
            raise FormError(problems)
        return out

    def _location(self) -> list[Problem]:
        lat, lon = self.text.pop("lat", ""), self.text.pop("long", "")
        if lat or lon:
            try:
                self.lat, self.lon = float(lat), float(lon)
            except ValueError:
                return [_problem("lat", "lat and long must both be numbers (WGS-84 degrees)")]
            if (
                not (math.isfinite(self.lat) and math.isfinite(self.lon))
                or abs(self.lat) > 90
                or abs(self.lon) > 180
            ):
                return [_problem("lat", "lat must be within ±90 and long within ±180")]
        elif not (self.text.get("address_string") or self.text.get("address_id")):
            return [
                _problem("location", "a location is required: lat and long, address_string or address_id")
            ]
        return []

    def check_attributes(self, service: Service) -> tuple[str, dict[str, Any]]:
        """(the area code, the case fields) from the attributes, checked against the service's."""
        problems, area, fields = [], "", dict[str, Any]()
        declared = {a.code: a for a in service.intake.attributes}
        for a in service.intake.attributes:
            given = [v for v in self.attributes.get(a.code, []) if v]
            if not given:
                if a.required:
                    problems.append(_problem(f"attribute[{a.code}]", "required"))
                continue
            keys = {k for k, _ in a.values}
            if keys and any(v not in keys for v in given):
                problems.append(_problem(f"attribute[{a.code}]", f"not one of {sorted(keys)}"))
            elif any(not re.match(a.pattern, v) for v in given):
                problems.append(_problem(f"attribute[{a.code}]", a.datatype_description or "not valid"))
            elif a.code == "area":
                area = given[0]
            else:
                fields[a.code] = given if a.datatype == "multivaluelist" else given[0]
        others = {k: v if len(v) > 1 else v[0] for k, v in self.attributes.items() if k not in declared}
        if others:
            fields["attributes"] = others  # what other clients send (FixMyStreet's ids): private
        if problems:
            raise FormError(problems)
        return area, fields

    def case_fields(self) -> dict[str, Any]:
        t = self.text
        out: dict[str, Any] = {"channel": "open311"}
        if t.get("description"):
            out["description"] = t["description"]
        if t.get("address_string"):
            out["address"] = t["address_string"]
        if self.media:
            out["photos"] = list(self.media)
        name = (t.get("last_name", "") + t.get("first_name", "")).strip()  # 姓 then 名
        if name:
            out["name"] = name
        out |= {case: t[form] for form, case in PRIVATE.items() if t.get(form)}
        return out

    def command_id(self, request: Request, principal: str, minute: int) -> str:
        """The engine's command id: the client's key (``Idempotency-Key``, FixMyStreet's
        ``attribute[fixmystreet_id]``) if it sent one, else a hash of what it asked for within the
        minute; always scoped by who sent it."""
        key = request.headers.get(KEY_HEADER, "")[:200] or next(
            (self.attributes[k][0] for k in KEY_ATTRIBUTES if self.attributes.get(k, [""])[0]), ""
        )
        if key:
            basis, kind = [principal, key], "k"
        else:
            t = self.text
            where = [repr(self.lat), repr(self.lon), t.get("address_string", ""), t.get("address_id", "")]
            # who reported it too: two citizens filing the same words at one spot are two requests
            who = [t.get(k, "") for k in ("email", "phone", "first_name", "last_name", "device_id")]
            basis = [principal, self.service_code, t.get("description", ""), *where, *who, str(minute)]
            kind = "h"
        digest = hashlib.blake2b("\x1f".join(basis).encode(), digest_size=12).hexdigest()
        return f"open311:{kind}:{digest}"


# -- GET: a case as a service request ----------------------------------------------------------------
def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, BJT).isoformat(timespec="seconds")


def _department_name(policy: Policy, dept: str) -> str:
    try:
        d = policy.org.department(dept)
    except ConfigError:
        return dept
    return d.name.get("zh-CN") or next(iter(d.name.values()), dept)


def latest_note(case: Case, entries: Callable[[str], list[CaseEntry]]) -> str:
    """The latest public note or reply (``NOTE_FIELDS``); the log decides only when both are set."""
    have = [n for n in NOTE_FIELDS if isinstance(case.fields.get(n), str) and case.fields[n]]
    if len(have) <= 1:
        return str(case.fields[have[0]]) if have else ""
    for e in reversed(entries(case.id)):
        for n in NOTE_FIELDS:
            if isinstance(e.fields.get(n), str) and e.fields[n]:
                return str(e.fields[n])
    return ""


def request_view(service: Service, case: Case, policy: Policy, note: str) -> dict[str, Any]:
    """A case as the spec's request: public fields only."""
    ct = service.case_type
    state = ct.state(case.state)
    public = {k: v for k, v in case.fields.items() if k in ct.public_fields}
    photos = public.get("photos")
    media = photos[0] if isinstance(photos, list) and photos else photos if isinstance(photos, str) else None
    return {
        "service_request_id": case.id, "status": state.public,
        "status_notes": f"{state.title}：{note}" if note else state.title,
        "service_name": service.name, "service_code": service.code,
        "description": str(public.get("description", "")),
        "agency_responsible": _department_name(policy, case.department or service.intake.receiver),
        "service_notice": service.notice, "requested_datetime": _iso(case.opened_ts),
        "updated_datetime": _iso(case.updated_ts), "expected_datetime": _iso(case.due_ts),
        "address": str(public.get("address", "")), "address_id": None, "zipcode": None,
        "lat": case.lat, "long": case.lon, "media_url": media,
    }  # fmt: skip


def _parse_date(name: str, text: str) -> int:
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FormError([_problem(name, "not an ISO 8601 date-time (2026-12-06T09:00:00+08:00)")]) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=BJT)  # the city's time
    try:
        return int(dt.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise FormError([_problem(name, "out of range")]) from None


def window(start: str, end: str, now: int) -> tuple[int, int]:
    """The spec's search window: the last 90 days by default; never wider than 90 days."""
    span = LIST_DAYS * 86_400_000
    lo = _parse_date("start_date", start) if start else None
    hi = _parse_date("end_date", end) if end else None
    lo, hi = (lo, hi) if lo is not None and hi is not None else (
        (lo, lo + span) if lo is not None else ((hi - span, hi) if hi is not None else (now - span, now))
    )  # fmt: skip
    if hi < lo:
        raise FormError([_problem("end_date", "before start_date")])
    if hi - lo > span:
        raise FormError([_problem("end_date", f"start_date to end_date spans more than {LIST_DAYS} days")])
    return lo, hi


def _split(text: str, what: str, allowed: Iterable[str] | None = None) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if allowed is not None and (bad := [s for s in items if s not in set(allowed)]):
        raise FormError([_problem(what, f"{bad[0][:40]!r} is not one of {sorted(set(allowed))}")])
    return items


# -- the routes ----------------------------------------------------------------------------------------
def _error_doc(description: str) -> dict[str, Any]:
    schema = {"type": "array", "items": {"type": "object", "required": ["code", "description"],
              "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}}  # fmt: skip
    return {"description": description, "content": {"application/json": {"schema": schema},
                                                    "text/xml": {"schema": {"type": "string"}}}}  # fmt: skip


def _ok_doc(description: str, item: dict[str, Any], many: bool = True) -> dict[str, Any]:
    schema = {"type": "array", "items": item} if many else item
    return {"description": description, "content": {"application/json": {"schema": schema},
                                                    "text/xml": {"schema": {"type": "string"}}}}  # fmt: skip


_OBJ: dict[str, Any] = {"type": "object"}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error_doc("a parameter is missing or invalid (the list says which)"),
    403: _error_doc("api_key missing, unknown, revoked, or without the scope"),
    404: _error_doc("no such service_code or service request, or a format other than json and xml"),
    409: _error_doc("the case changed meanwhile: retry"),
    413: _error_doc("body over server.max_body_bytes"),
    422: _error_doc("not answered: invalid parameters answer 400"),
    503: _error_doc("the store is unavailable: retry later"),
}
FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["service_code"],
            "properties": {
                "api_key": {"type": "string", "maxLength": 200},
                "service_code": {"type": "string", "maxLength": 100},
                "address_string": {"type": "string", "minLength": 1, "maxLength": 500},
                "description": {"type": "string", "maxLength": 4000},
            },
        }}},
    }
}  # fmt: skip
Format = Path(pattern=FORMAT, description="json or xml")
READ = ApiKey("read")


@router.get("/services.{format}", summary="Open311: the kinds of request the public may file",
            responses={200: _ok_doc("the services", _OBJ), **ERRORS}, response_model=None)  # fmt: skip
def services(request: Request, format: str = Format) -> Response:
    listed = [s.listing() for s in catalogue(request).by_code.values()]
    return answer(format, "services", "service", listed)


@router.get("/services/{service_code}.{format}", summary="Open311: one service's definition (attributes)",
            responses={200: _ok_doc("the service definition", _OBJ, many=False), **ERRORS},
            response_model=None)  # fmt: skip
def service_definition(
    request: Request, service_code: str = Path(max_length=100), format: str = Format
) -> Response:
    return answer(format, "service_definition", None, catalogue(request).service(service_code).definition())


@router.post("/requests.{format}", summary="Open311: file a service request (form-encoded)",
             responses={200: _ok_doc("the new (or retried) request's id", _OBJ), **ERRORS},
             response_model=None, openapi_extra=FORM_BODY)  # fmt: skip
async def create_request(request: Request, format: str = Format) -> Response:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()  # bounded by the body gate (server.max_body_bytes)
    if body and media_type != "application/x-www-form-urlencoded":
        raise FormError([_problem("body", "send application/x-www-form-urlencoded, as the spec says")])
    pairs = [*request.query_params.multi_items(), *parse_form(body)]
    form = Submission.of(pairs)
    who = admit(request, form.api_key or None, ("operate", "ingest"))
    service = catalogue(request).service(form.service_code)
    area, extra = form.check_attributes(service)
    policy: Policy = request.app.state.policy
    if not any(policy.allows(who.principal, CASES, a, area) for a in ("operate", "ingest")):
        raise AuthError(f"{who.name} may not file requests in area {area or '-'}")
    engine = _engine(request)
    now = now_ms()
    minute = now // 60_000
    command = form.command_id(request, who.principal.id, minute)
    if ":h:" in command:  # a retry just after a minute boundary: the previous minute's request
        before = form.command_id(request, who.principal.id, minute - 1)
        if await run_in_threadpool(engine.store.case_by_command, before) is not None:
            command = before
    description = form.text.get("description", "")
    title = (description.strip().splitlines() or [service.name])[0][:60]
    actor = Actor(f"open311:{who.name}", who.principal.roles, who.principal.department)
    out = await run_in_threadpool(
        engine.open, service.case_type.name, actor, command, fields={**form.case_fields(), **extra},
        area=area, category=service.category, title=title, lon=form.lon, lat=form.lat,
        note="Open311 请求 / Open311 request",
    )  # fmt: skip
    done = {"service_request_id": out.case.id, "service_notice": service.notice, "account_id": None}
    return answer(format, "service_requests", "request", [done])


async def _view_all(request: Request, cases: Iterable[Case], who: Who) -> list[dict[str, Any]]:
    policy: Policy = request.app.state.policy
    cat, store = catalogue(request), _engine(request).store
    out = []
    for case in cases:
        service = cat.of_case(case)
        if service is None or not policy.allows(who.principal, CASES, "read", case.area):
            continue
        note = await run_in_threadpool(latest_note, case, store.case_entries)
        out.append(request_view(service, case, policy, note))
    return out


@router.get("/requests/{service_request_id}.{format}", summary="Open311: one service request",
            responses={200: _ok_doc("the request (a list of one)", _OBJ), **ERRORS},
            response_model=None)  # fmt: skip
async def get_request(
    request: Request,
    service_request_id: str = Path(max_length=100),
    format: str = Format,
    who: Who = Depends(READ),
    api_key: str = Query("", max_length=200, description="a read token (or send it as a bearer header)"),
    jurisdiction_id: str = Query("", max_length=100, description="accepted and ignored: one jurisdiction"),
) -> Response:
    engine = _engine(request)
    case = await run_in_threadpool(engine.store.case, service_request_id)
    found = await _view_all(request, [case], who)
    if not found:
        raise NotFoundError(f"service request {service_request_id!r} not found")
    return answer(format, "service_requests", "request", found)


@router.get("/requests.{format}", summary="Open311: service requests by id, service, date and status",
            responses={200: _ok_doc("the requests, newest first", _OBJ), **ERRORS},
            response_model=None)  # fmt: skip
async def list_requests(
    request: Request,
    format: str = Format,
    who: Who = Depends(READ),
    service_request_id: str = Query("", max_length=4000, description="comma-separated; overrides the rest"),
    service_code: str = Query("", max_length=2000, description="comma-separated service codes"),
    start_date: str = Query("", max_length=40, description="ISO 8601; default: 90 days before end_date"),
    end_date: str = Query("", max_length=40, description="ISO 8601; default: now"),
    status: str = Query("", max_length=20, description="open, closed or both (comma-separated)"),
    api_key: str = Query("", max_length=200, description="a read token (or send it as a bearer header)"),
    jurisdiction_id: str = Query("", max_length=100, description="accepted and ignored: one jurisdiction"),
) -> Response:
    engine, cat = _engine(request), catalogue(request)
    ids = _split(service_request_id, "service_request_id")
    if ids:
        if len(ids) > IDS_MAX:
            raise FormError([_problem("service_request_id", f"more than {IDS_MAX} ids")])
        cases = []
        for case_id in dict.fromkeys(ids):
            try:
                cases.append(await run_in_threadpool(engine.store.case, case_id))
            except NotFoundError:
                continue
        return answer(format, "service_requests", "request", await _view_all(request, cases, who))
    wanted = [cat.service(c) for c in _split(service_code, "service_code")]
    statuses = set(_split(status, "status", ("open", "closed"))) or {"open", "closed"}
    lo, hi = window(start_date, end_date, now_ms())
    # the newest LIST_MAX of each query, in the areas the caller may read: the store orders and cuts
    granted = request.app.state.policy.areas(who.principal, CASES, "read")
    prefixes = [""] if granted is None else sorted(granted)
    found: dict[str, Case] = {}
    for intake in cat.intakes.values():
        ct = engine.types[intake.type]
        categories = sorted({s.category for s in wanted if s.intake is intake})
        if wanted and not categories:
            continue
        states = tuple(s.name for s in ct.states if s.public in statuses)
        for category in categories or [""]:
            for prefix in prefixes:
                q = CaseQuery(type=ct.name, states=states, opened_since=lo, opened_until=hi, limit=LIST_MAX,
                              category=category, area_prefix=prefix, newest_first=True)  # fmt: skip
                found.update((c.id, c) for c in await run_in_threadpool(engine.store.find_cases, q))
    newest = sorted(found.values(), key=lambda c: (-c.opened_ts, c.id))[:LIST_MAX]
    return answer(format, "service_requests", "request", await _view_all(request, newest, who))
