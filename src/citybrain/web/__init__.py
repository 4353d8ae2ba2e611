"""The command-centre dashboard, served by the platform (issue 5 builds it out)."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Attach the dashboard's routes and static files to the API application."""
