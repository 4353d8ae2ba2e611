"""The factory's alert rules (the anomaly detector behind ``factory.anomaly`` is in anomaly.py)."""

from __future__ import annotations

from citybrain import sdk

# name, title, options, doc
_TABLE = (
    ("machine_down", "设备停机 / Machine down", {"severity": "major", "clear": 0},
     "A machine has been in a stopped state (not a planned stop) longer than "
     "thresholds.down_alert_min minutes; resolves when it runs again."),
    ("quality_low", "质量偏低 / Quality below target", {"clear": "5m"},
     "First-pass yield of the machine in the current shift is below "
     "thresholds.quality_min once thresholds.quality_min_count pieces were made."),
    ("out_of_range", "工艺参数越限 / Process value out of range", {"for_": "5s", "clear": "30s"},
     "A process value of a running machine is "
     "outside [lo, hi] of its tag in the plant model for at least 5 s."),
    ("silent", "数据中断 / Silent tag", {"clear": 0},
     "No data from a machine for thresholds.silent_s, or from a tag with "
     "expect_every_s for that long (checked every second against wall-clock time)."),
    ("offline", "设备离线 / Offline", {"for_": "10s", "clear": 0},
     "Sparkplug DEATH (node or device) or a lost session; resolves at "
     "the next BIRTH. Waits 10 s so that a rebirth does not flap."),
    ("anomaly", "工艺参数异常 / Process anomaly", {"clear": "1m"},
     "Robust z-score of the smoothed value against a reference median/MAD learned at "
     "start-up exceeds thresholds.anomaly_z on several readings in a row; the reason is in the message."),
)  # fmt: skip
RULES = [sdk.rule("factory", name, title, doc=doc, **opts) for name, title, opts, doc in _TABLE]
DOWN, QUALITY, RANGE, SILENT, OFFLINE, ANOMALY = RULES
