"""Civic alert rules: camera detections dispatched as grid cases, and case deadlines."""

from __future__ import annotations

from citybrain import sdk

CAMERA = sdk.rule(
    "civic", "camera", "视频发现城市管理问题 / camera detection", clear="10m", case_type="civic.grid",
    doc="A camera keeps seeing the same kind of problem (one alert per camera and 小类; detections "
    "below camera_min_confidence are ignored). Each alert opens a civic.grid case (数字城管: 立案 "
    "by the command centre), so a sighting is dispatched and tracked, not only acknowledged; "
    "repeated detections while it stays open are the same alert, hence the same case.",
)  # fmt: skip
DUE_SOON = sdk.rule(
    "civic", "case_due_soon", "工单即将超期 / case due soon", clear="0s", update_every="1h",
    doc="An open case has used warn_at (80 %) of its allowance, whole or step (签收): warn its "
    "department before the deadline.",
)  # fmt: skip
OVERDUE = sdk.rule(
    "civic", "case_overdue", "工单已超期 / case overdue", severity="major", clear="0s", update_every="1h",
    doc="An open case is past its deadline (whole case or current step); critical once it is late "
    "by as much again as its allowance. Escalates to the supervisors of its department; resolves "
    "when the case moves on or closes.",
)  # fmt: skip
