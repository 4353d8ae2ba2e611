"""Administrative regions the scenes report by: Nanchang's districts and counties, keyed by their
six-digit administrative division code (GB/T 2260, as the National Bureau of Statistics publishes
it; boundaries of 2019, when 红谷滩区 was formed from parts of 新建区), with names by locale."""

from __future__ import annotations

Names = dict[str, str]  # {"zh-CN": ..., "en": ...}

NANCHANG: dict[str, Names] = {
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


def names(code: str, regions: dict[str, Names] = NANCHANG) -> Names:
    """The names of ``code``; an unknown code is its own name in every locale."""
    return regions.get(code) or {"zh-CN": code, "en": code}
