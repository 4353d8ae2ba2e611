"""City pulse events: reports counted per district (hotline calls, parking, clinic visits...)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from citybrain.sdk import Event


class PulseReport(Event, tag="pulse.report"):
    """Something happened in a district. ``key`` is the district's administrative code (e.g.
    ``360102``); ``category`` says what kind of report it is; ``count`` lets a source report several
    at once."""

    scene: ClassVar[str] = "pulse"
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="kind of report")]
    count: Annotated[int, msgspec.Meta(ge=1, le=1_000_000, description="reports represented")] = 1
    address: Annotated[str, msgspec.Meta(max_length=256, description="where, as reported")] = ""


CATEGORIES = ("hotline", "parking", "clinic", "traffic", "welfare")
# Real Nanchang streets, for the simulator's addresses.
STREETS = (
    "八一大道",
    "红谷中大道",
    "阳明路",
    "北京西路",
    "井冈山大道",
    "洪都中大道",
    "丰和中大道",
    "昌北大道",
)

# Nanchang's districts and counties (administrative division codes, 2019 boundaries).
DISTRICTS: dict[str, dict[str, str]] = {
    "360102": {"zh-CN": "东湖区", "en": "Donghu"},
    "360103": {"zh-CN": "西湖区", "en": "Xihu"},
    "360104": {"zh-CN": "青云谱区", "en": "Qingyunpu"},
    "360111": {"zh-CN": "青山湖区", "en": "Qingshanhu"},
    "360112": {"zh-CN": "新建区", "en": "Xinjian"},
    "360113": {"zh-CN": "红谷滩区", "en": "Honggutan"},
    "360121": {"zh-CN": "南昌县", "en": "Nanchang County"},
    "360123": {"zh-CN": "安义县", "en": "Anyi"},
    "360124": {"zh-CN": "进贤县", "en": "Jinxian"},
}
