"""Named bits of the 0x0200 location report (2013/2019 Tables 24-26, 31-32).

The decoded messages keep the raw integers (so they re-encode byte for byte); these helpers turn
them into names. Alarm bits marked † in the standard (emergency, area, route, road-section time,
illegal ignition, illegal displacement) stay set until the platform acknowledges with 0x8001.
"""

from __future__ import annotations

# Alarm flag bits (Table 24). Where 2013 and 2019 differ the name covers both meanings.
ALARM_BITS: dict[int, str] = {
    0: "emergency",
    1: "overspeed",
    2: "fatigue_driving",
    3: "danger_warning",  # 2013: danger warning; 2019: dangerous-driving alarm
    4: "gnss_module_fault",
    5: "gnss_antenna_disconnected",
    6: "gnss_antenna_short_circuit",
    7: "main_power_undervoltage",
    8: "main_power_lost",
    9: "lcd_fault",
    10: "tts_fault",
    11: "camera_fault",
    12: "ic_card_module_fault",
    13: "overspeed_warning",
    14: "fatigue_driving_warning",
    15: "traffic_violation",  # 2019 only (reserved in 2013)
    16: "tyre_pressure_warning",  # 2019 only
    17: "right_turn_blind_zone",  # 2019 only
    18: "daily_driving_time_exceeded",
    19: "parking_overtime",
    20: "area_in_out",
    21: "route_in_out",
    22: "road_section_time_abnormal",
    23: "route_deviation",
    24: "vss_fault",
    25: "fuel_level_abnormal",
    26: "vehicle_theft",
    27: "illegal_ignition",
    28: "illegal_displacement",
    29: "collision",  # 2013: collision warning; 2019: collision or rollover alarm
    30: "rollover_warning",
    31: "illegal_door_open",  # 2013 only (reserved in 2019)
}

# Alarm bits the terminal clears only after the platform's 0x8001 (marked † in Table 24).
ALARM_BITS_CLEARED_BY_ACK = frozenset({0, 3, 20, 21, 22, 27, 28, 31})

# Status bits (Table 25); bits 8-9 (load) are reported separately.
STATUS_BITS: dict[int, str] = {
    0: "acc_on",
    1: "positioned",
    2: "south_latitude",
    3: "west_longitude",
    4: "out_of_service",
    5: "latlon_encrypted",
    6: "forward_collision_warning",  # 2019
    7: "lane_departure_warning",  # 2019
    10: "fuel_circuit_cut",
    11: "electric_circuit_cut",
    12: "doors_locked",
    13: "door1_open",  # front door
    14: "door2_open",  # middle door
    15: "door3_open",  # rear door
    16: "door4_open",  # driver's door
    17: "door5_open",  # custom
    18: "gps",
    19: "beidou",
    20: "glonass",
    21: "galileo",
    22: "moving",  # 2019
}

STATUS_ACC_ON = 1 << 0
STATUS_POSITIONED = 1 << 1
STATUS_SOUTH = 1 << 2
STATUS_WEST = 1 << 3

LOAD_STATES = {0: "empty", 1: "half", 2: "reserved", 3: "full"}

# Extended vehicle signals, additional item 0x25 (Table 31).
VEHICLE_SIGNAL_BITS: dict[int, str] = {
    0: "low_beam",
    1: "high_beam",
    2: "right_turn_signal",
    3: "left_turn_signal",
    4: "brake",
    5: "reverse",
    6: "fog_lamp",
    7: "clearance_lamps",
    8: "horn",
    9: "air_conditioning",
    10: "neutral",
    11: "retarder",
    12: "abs",
    13: "heater",
    14: "clutch",
}

# IO status, additional item 0x2A (Table 32).
IO_STATUS_BITS: dict[int, str] = {0: "deep_sleep", 1: "sleep"}

# Location type used by items 0x11 and 0x12 (Tables 28-29).
LOCATION_TYPES = {0: "none", 1: "circle", 2: "rectangle", 3: "polygon", 4: "road_section"}


def bit_names(value: int, table: dict[int, str]) -> list[str]:
    """Names of the set bits of ``value`` that ``table`` knows, lowest bit first."""
    return [name for bit, name in table.items() if value >> bit & 1]


def alarm_names(alarm: int) -> list[str]:
    return bit_names(alarm, ALARM_BITS)


def status_names(status: int) -> list[str]:
    return bit_names(status, STATUS_BITS)


def load_state(status: int) -> str:
    return LOAD_STATES[status >> 8 & 3]
