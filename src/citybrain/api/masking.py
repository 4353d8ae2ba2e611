"""Personal fields, at one place for every route: masked for the principals whose roles mask them,
and every read that shows them unmasked written to the audit log.

``FieldGuard`` (pure ASGI, inside the routes' dependencies) looks at who the request was admitted
as (``require`` leaves it in the request state) and at the route's scene. When the organisation
masks fields of that scene for the principal, a JSON answer has those keys masked wherever they
appear (张*三, 138****5678), a CSV answer those columns; an answer of another type is refused
rather than sent unmasked. A read (GET) whose answer carries sensitive fields unmasked is audited:
actor, department, purpose (the ``X-Purpose`` header, percent-encoded UTF-8), route, and the
fields shown; one record per principal and route a minute, so a screen that polls does not flood
the log.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import unquote

from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citybrain.api.auth import Who, scene_of
from citybrain.identity.policy import Policy, mask_value

PURPOSE_HEADER = b"x-purpose"
AUDIT_EVERY_S = 60.0  # one audit record per principal and route this often
_SEEN_MAX = 50_000


def mask_json(value: Any, fields: Collection[str], seen: set[str]) -> Any:
    """``value`` with the keys in ``fields`` masked at any depth; ``seen`` collects the keys of
    ``fields`` (or of any sensitive set passed) that appeared."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in fields:
                seen.add(k)
                out[k] = mask_value(v)
            else:
                out[k] = mask_json(v, fields, seen)
        return out
    if isinstance(value, list):
        return [mask_json(v, fields, seen) for v in value]
    return value


def present(value: Any, fields: Collection[str], seen: set[str]) -> None:
    """Which of ``fields`` appear as keys anywhere in ``value`` (into ``seen``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in fields:
                seen.add(k)
            present(v, fields, seen)
    elif isinstance(value, list):
        for v in value:
            present(v, fields, seen)


def mask_csv(text: str, fields: Collection[str], seen: set[str]) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return text
    cols = [i for i, name in enumerate(rows[0]) if name in fields]
    seen.update(rows[0][i] for i in cols)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(rows[0])
    for row in rows[1:]:
        w.writerow([mask_value(c) if i in cols and c else c for i, c in enumerate(row)])
    return out.getvalue()


def _header(msg: Message, name: bytes) -> str:
    for k, v in msg.get("headers", []):
        if k.lower() == name:
            return bytes(v).decode("latin-1")
    return ""


class FieldGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._audited: dict[tuple[str, str], float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = bytearray()
        hide: frozenset[str] = frozenset()
        watch: frozenset[str] = frozenset()

        async def guarded(msg: Message) -> None:
            nonlocal held, hide, watch
            if msg["type"] == "http.response.start":
                who: Who | None = (scope.get("state") or {}).get("who")
                status = int(msg["status"])
                if who is None or status >= 400:
                    await send(msg)
                    return
                policy: Policy = scope["app"].state.policy
                scene = scene_of(scope["path"], scope.get("path_params"))
                hide = policy.masked(who.principal, scene)
                watch = policy.sensitive(scene) - hide if scope["method"] == "GET" else frozenset()
                if not hide and not watch:
                    await send(msg)
                    return
                held = msg
                return
            if held is None:
                await send(msg)
                return
            body.extend(msg.get("body", b""))
            if msg.get("more_body", False):
                return
            out, shown = self._rewrite(bytes(body), _header(held, b"content-type"), hide, watch)
            if out is None:
                await _refuse(send, "this download holds fields your role sees masked; ask for it as JSON")
                return
            if shown:
                await self._audit(scope, shown)
            headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(out)).encode()))
            await send({**held, "headers": headers})
            await send({"type": "http.response.body", "body": out})

        await self.app(scope, receive, guarded)

    @staticmethod
    def _rewrite(
        body: bytes, content_type: str, hide: frozenset[str], watch: frozenset[str]
    ) -> tuple[bytes | None, set[str]]:
        """(the answer to send, or None to refuse it; the sensitive fields it shows unmasked)."""
        shown: set[str] = set()
        if content_type.startswith("application/json"):
            doc = json.loads(body) if body else None
            if watch:
                present(doc, watch, shown)
            if hide:
                doc = mask_json(doc, hide, set())
                body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
            return body, shown
        if content_type.startswith("text/csv"):
            text = body.decode("utf-8")
            if watch:
                header = next(csv.reader(io.StringIO(text)), [])
                shown.update(h for h in header if h in watch)
            return (mask_csv(text, hide, set()).encode() if hide else body), shown
        if hide:
            return None, shown
        return body, {"(download)"} if watch else shown

    async def _audit(self, scope: Scope, shown: set[str]) -> None:
        who: Who = scope["state"]["who"]
        query = scope.get("query_string", b"").decode("latin-1")
        route = scope["path"] + (f"?{query}" if query else "")
        now = time.monotonic()
        key = (who.principal.id, route)
        if now - self._audited.get(key, -AUDIT_EVERY_S) < AUDIT_EVERY_S:
            return
        if len(self._audited) > _SEEN_MAX:
            self._audited.clear()
        self._audited[key] = now
        raw = next((bytes(v) for k, v in scope["headers"] if k == PURPOSE_HEADER), b"")
        purpose = unquote(raw.decode("latin-1"))  # percent-encoded UTF-8: header values are ASCII
        detail = {"fields": sorted(shown), "department": who.principal.department, "purpose": purpose[:200]}
        store = scope["app"].state.platform.store
        await run_in_threadpool(store.audit, time.time_ns() // 1_000_000, who.actor, "read", route, detail)


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"error": "ForbiddenError", "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
