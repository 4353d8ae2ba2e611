"""Alert rules declared once per scene (``scene.rule(...)``): the scene lists them, the dashboard
shows them, processors signal them. Durations are written as text (``for_="2m"``)."""

from __future__ import annotations

from citybrain.core.outputs import Severity
from citybrain.core.processor import AlertRule
from citybrain.sdk.settings import duration_ms


def make_rule(
    scene: str,
    name: str,
    title: str,
    *,
    severity: Severity = "warning",
    for_: str | int = 0,
    clear: str | int = "60s",
    update_every: str | int = "10s",
    doc: str = "",
    case_type: str = "",
    case_department: str = "",
) -> AlertRule:
    """An alert rule named ``<scene>.<name>``: ``for_`` how long the condition must hold before
    an alert opens, ``clear`` how long it must be clear before it resolves (no flapping);
    ``case_type``: every alert it opens is also dispatched as a case of that type (to
    ``case_department``, or the department the alert's data names)."""
    return AlertRule(
        name=f"{scene}.{name}",
        scene=scene,
        title=title,
        severity=severity,
        for_ms=duration_ms(for_),
        clear_ms=duration_ms(clear),
        update_every_ms=duration_ms(update_every),
        doc=doc,
        case_type=case_type,
        case_department=case_department,
    )
