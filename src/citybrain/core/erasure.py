"""Erasure of a data subject on request (a person's right to deletion, PIPL art. 47).

Asked for with ``POST /api/v1/erasures`` or ``citybrain erase``: the request is stored and audited
(``subject.erase``); the pipeline then makes the scene's processors forget the subject and deletes
its rows (``Pipeline.erase_pending``, ``Store.erase_subject``) and audits the outcome
(``subject.erased``). The request and the audit records stay: they are the proof it was done.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from citybrain.core.errors import NotFoundError, Problem, ValidationError
from citybrain.core.store.base import Erasure, Store


def request_erasure(
    store: Store, scenes: Collection[str], scene: str, key: str, reason: str, actor: str, now: int
) -> Erasure:
    """Record and audit the erasure of entity ``key`` in ``scene``; ``NotFoundError`` for a scene
    that is not installed, ``ValidationError`` for an empty key or reason."""
    if scene not in scenes:
        raise NotFoundError(f"scene {scene!r} is not installed; installed: {sorted(scenes)}")
    if not key.strip():
        raise ValidationError([Problem(0, "key", "an erasure needs the subject's key (e.g. a VIN)")])
    if not reason.strip():
        raise ValidationError([Problem(0, "reason", "an erasure needs its reason (the request it answers)")])
    erasure = Erasure(uuid.uuid4().hex[:16], scene, key, reason.strip(), actor, now)
    store.request_erasure(erasure)
    store.audit(
        now, actor, "subject.erase", f"{scene}:{key}", {"erasure": erasure.id, "reason": erasure.reason}
    )
    return erasure


def erasure_dict(e: Erasure) -> dict[str, object]:
    return {
        "id": e.id, "scene": e.scene, "key": e.key, "reason": e.reason, "requested_by": e.requested_by,
        "requested_ts": e.requested_ts, "done_ts": e.done_ts, "deleted": e.deleted,
        "status": "pending" if e.done_ts is None else "done",
    }  # fmt: skip
