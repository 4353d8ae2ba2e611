"""Fixtures of the scale-out tests; they live in scaleout_support (a plain module the tests import
from: a ``conftest`` import would collide with tests/conftest.py)."""

from tests.scaleout.scaleout_support import private_nats, private_postgres, scaleout

__all__ = ["private_nats", "private_postgres", "scaleout"]
