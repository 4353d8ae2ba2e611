"""``GET /api/v1/session``: who the presented token is and what it may do, so the dashboard shows
acknowledge/resolve only to operators. The secret itself never comes back.

An API route the dashboard calls; it lives here, not in ``web``, because ``api.app`` mounts ``web``
and ``web`` must not import ``api`` back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from citybrain.api.auth import require
from citybrain.core.store.base import Token
from citybrain.core.tokens import granted

router = APIRouter(tags=["dashboard"])


@router.get("/api/v1/session", summary="The presented token's id, name and granted scopes")
def session(token: Token = Depends(require("read"))) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "scopes": sorted(granted(token))}
