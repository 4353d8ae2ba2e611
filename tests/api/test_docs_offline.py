"""The API reference pages load everything from this server: no CDN, no web font, no validator
(issue 18: /docs and /redoc were blank on a network without the internet)."""

from __future__ import annotations

import re

import pytest

from citybrain.api import apidocs
from tests.support.api import Api

URL = re.compile(r"""(?:src|href|url)\s*[=:(]\s*["']?([^"' )>]+)""", re.I)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_reference_pages_name_no_other_server(api: Api, path: str) -> None:
    r = api.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"https?://", html), re.findall(r"https?://\S+", html)
    loaded = set(URL.findall(html)) - {"/openapi.json"}
    assert loaded and all(u.startswith("/vendor/") for u in loaded), loaded
    csp = r.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'") and "http" not in csp and "*" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_swagger_ui_has_no_online_validator(api: Api) -> None:
    assert '"validatorUrl": null' in api.client.get("/docs").text


@pytest.mark.parametrize("asset", apidocs.ASSETS)
def test_the_pages_assets_are_served(api: Api, asset: str) -> None:
    r = api.client.get(asset)
    assert r.status_code == 200, f"{asset}: {r.status_code} (run 'make deps')"
    kind = r.headers["content-type"]
    expected = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}[asset[asset.rfind(".") :]]
    assert kind.startswith(expected), kind
    assert len(r.content) > 500


def test_the_bundles_licences_ship_with_them(api: Api) -> None:
    for name in ("swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt", "redoc/redoc.standalone.js.LICENSE.txt"):
        assert api.client.get(f"/vendor/licenses/{name}").status_code == 200, name
    index = api.client.get("/vendor/licenses/README.md").text
    assert "| swagger-ui-dist |" in index and "| redoc |" in index
