"""The command-centre dashboard, served by the platform.

``/`` is the page, ``/static/...`` its own modules, styles and message catalogues (in this
package), ``/vendor/<package>/...`` the few browser files it takes from npm packages,
copied from ``web/node_modules`` into ``vendor/`` here (``make deps``; never committed). The page
asks ``/api/v1/session`` (``api/routes_session.py``) which scopes its token has. No build step:
the page uses an import map, and everything is same-origin so the screen works with no network.
"""

from __future__ import annotations

from fastapi import FastAPI

from citybrain.web import serving


def mount(app: FastAPI) -> None:
    """Attach the dashboard's routes and static files to the API application."""
    app.include_router(serving.router())
