"""Every route of /openapi.json declares what it answers (issue 11): a schema for each 2xx answer,
so clients and the dashboard's checks are generated from the API itself."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api


def test_every_route_declares_its_response_schema(api: Api) -> None:
    spec: dict[str, Any] = api.client.get("/openapi.json").json()
    missing = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            answers = op.get("responses", {})
            ok = [r for code, r in answers.items() if code.startswith("2")]
            schemas = [m.get("schema") for r in ok for m in r.get("content", {}).values()]
            # a route that succeeds with a redirect (the OIDC sign-in) declares where it goes instead
            redirects = [
                r for c, r in answers.items() if c.startswith("3") and "Location" in r.get("headers", {})
            ]
            if not redirects and (not schemas or not all(schemas)):
                missing.append(f"{method.upper()} {path}")
    assert missing == [], f"{len(missing)} routes answer without a declared schema: {missing}"
    for scene in api.platform.scenes:  # the scenes' routers are in the document too
        assert any(p.startswith(f"/api/v1/scenes/{scene}/") for p in spec["paths"]), scene
