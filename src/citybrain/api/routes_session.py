"""``GET /api/v1/session``: who the presented token is and what it may do, so the dashboard shows
acknowledge/resolve only to operators. The secret itself never comes back.

An API route the dashboard calls; it lives here, not in ``web``, because ``api.app`` mounts ``web``
and ``web`` must not import ``api`` back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from citybrain.api.auth import Who, require
from citybrain.core.tokens import granted
from citybrain.identity.org import ACTIONS

router = APIRouter(tags=["dashboard"])


@router.get("/api/v1/session", summary="Who is calling (token or signed-in person) and what they may do")
def session(request: Request, who: Who = Depends(require("read"))) -> dict[str, Any]:
    """``scopes``: a token's granted scopes; for a person, the actions the platform allows them."""
    if who.token is not None:
        scopes = sorted(granted(who.token))
    else:
        policy = request.app.state.policy
        scopes = [a for a in ACTIONS if policy.allows(who.principal, "platform", a)]
    return {"id": who.id, "name": who.name, "scopes": scopes}
