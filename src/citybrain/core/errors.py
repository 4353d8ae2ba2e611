"""One error tree for citybrain.

Every error the platform raises on purpose derives from :class:`CitybrainError`; third-party
errors are translated at the boundary. Batch validation reports every problem at once, each with
its line number and field.
"""

from __future__ import annotations

from dataclasses import dataclass


class CitybrainError(Exception):
    """Base of every citybrain error."""


class ConfigError(CitybrainError):
    """A setting is missing or wrong; the message names the setting and the file."""


class DecodeError(CitybrainError):
    """Bytes or text that cannot be decoded; the message says what and where (offset, field)."""


class NotFoundError(CitybrainError):
    """The requested entity, alert, metric or file does not exist."""


class AuthError(CitybrainError):
    """Missing, unknown or revoked token, or a token without the needed scope."""


class ConflictError(CitybrainError):
    """The request conflicts with the current state (e.g. resolving a resolved alert)."""


class TooLargeError(CitybrainError):
    """A body, or the number of events in it, is over its limit (``ingest.max_body_bytes``,
    ``ingest.max_events``); the message names the limit."""


class BackpressureError(CitybrainError):
    """The platform is saturated; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a batch: 1-based line (or array item), the field path, and why."""

    line: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class ValidationError(CitybrainError):
    """Input that does not satisfy its schema; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else Problem(0, "", "invalid input")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"line {first.line}, field {first.field or '-'}: {first.reason}{more}")


class StoreError(CitybrainError):
    """The store could not do what was asked (locked file, failed write); nothing was half-written."""


class ForbiddenError(AuthError):
    """A valid token without the scope the request needs."""
