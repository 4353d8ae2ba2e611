"""Words for the codes a vehicle sends: general alarm flags (GB/T 32960.3 Table 18 and the 2025
additions), alarm levels, vehicle and charging states. zh-CN first, English second."""

from __future__ import annotations

ALARM_WORDS: dict[str, dict[str, str]] = {
    "temperature_difference": {"zh-CN": "温度差异报警", "en": "temperature difference"},
    "battery_high_temperature": {"zh-CN": "电池高温报警", "en": "battery high temperature"},
    "storage_over_voltage": {"zh-CN": "车载储能装置类型过压报警", "en": "energy storage over-voltage"},
    "storage_under_voltage": {"zh-CN": "车载储能装置类型欠压报警", "en": "energy storage under-voltage"},
    "soc_low": {"zh-CN": "SOC低报警", "en": "SOC low"},
    "cell_over_voltage": {"zh-CN": "单体电池过压报警", "en": "cell over-voltage"},
    "cell_under_voltage": {"zh-CN": "单体电池欠压报警", "en": "cell under-voltage"},
    "soc_high": {"zh-CN": "SOC过高报警", "en": "SOC high"},
    "soc_jump": {"zh-CN": "SOC跳变报警", "en": "SOC jump"},
    "storage_mismatch": {"zh-CN": "可充电储能系统不匹配报警", "en": "energy storage mismatch"},
    "cell_poor_consistency": {"zh-CN": "电池单体一致性差报警", "en": "poor cell consistency"},
    "insulation": {"zh-CN": "绝缘报警", "en": "insulation fault"},
    "dcdc_temperature": {"zh-CN": "DC-DC温度报警", "en": "DC-DC temperature"},
    "brake_system": {"zh-CN": "制动系统报警", "en": "brake system"},
    "dcdc_state": {"zh-CN": "DC-DC状态报警", "en": "DC-DC state"},
    "motor_controller_temperature": {"zh-CN": "驱动电机控制器温度报警", "en": "motor controller temperature"},
    "high_voltage_interlock": {"zh-CN": "高压互锁状态报警", "en": "high-voltage interlock"},
    "motor_temperature": {"zh-CN": "驱动电机温度报警", "en": "motor temperature"},
    "storage_over_charge": {"zh-CN": "车载储能装置类型过充", "en": "energy storage over-charge"},
    "motor_over_speed": {"zh-CN": "驱动电机超速报警", "en": "motor over-speed"},
    "motor_over_current": {"zh-CN": "驱动电机过流报警", "en": "motor over-current"},
    "supercap_over_temperature": {"zh-CN": "超级电容器高温报警", "en": "super-capacitor over-temperature"},
    "supercap_over_voltage": {"zh-CN": "超级电容器过压报警", "en": "super-capacitor over-voltage"},
    "battery_thermal_event": {"zh-CN": "可充电储能系统热事件报警", "en": "battery thermal event"},
    "hydrogen_leak": {"zh-CN": "氢气泄漏报警", "en": "hydrogen leak"},
    "hydrogen_pressure_abnormal": {"zh-CN": "氢气压力异常报警", "en": "hydrogen pressure abnormal"},
    "hydrogen_temperature_abnormal": {"zh-CN": "氢系统温度异常报警", "en": "hydrogen temperature abnormal"},
    "stack_over_temperature": {"zh-CN": "燃料电池电堆超温报警", "en": "fuel-cell stack over-temperature"},
}

LEVEL_WORDS: dict[int, dict[str, str]] = {
    0: {"zh-CN": "无故障", "en": "no fault"},
    1: {"zh-CN": "1级故障(不影响车辆正常行驶)", "en": "level 1 (does not affect driving)"},
    2: {"zh-CN": "2级故障(影响车辆性能,需限制行驶)", "en": "level 2 (limits performance)"},
    3: {"zh-CN": "3级故障(应立即停车或请求救援)", "en": "level 3 (stop at once or call for help)"},
}


def alarm_words(names: list[str]) -> dict[str, list[str]]:
    """Flag names -> words per locale; a reserved bit keeps its name (``reserved_bit_N``)."""
    return {loc: [ALARM_WORDS.get(n, {}).get(loc, n) for n in names] for loc in ("zh-CN", "en")}


def alarm_text(names: list[str]) -> str:
    """One line for an alert message: ``电池高温报警、SOC低报警 · battery high temperature, SOC low``."""
    if not names:
        return "无报警标志 · no alarm flag set"
    w = alarm_words(names)
    return f"{'、'.join(w['zh-CN'])} · {', '.join(w['en'])}"
