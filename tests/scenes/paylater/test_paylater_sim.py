"""The parking simulator's world: seeded, every plate it makes is a valid plate, every exit
follows its car's entry at the same lot, and the shares of bound cars and missed exits are the
configured ones."""

from __future__ import annotations

from collections import Counter

from citybrain.scenes.paylater.plates import parse_plate
from citybrain.scenes.paylater.sim import ParkingWorld, PaylaterSimConfig


def play(cfg: PaylaterSimConfig, seconds: int) -> list[tuple[str, str, str]]:
    world = ParkingWorld(cfg)
    out: list[tuple[str, str, str]] = []
    for t in range(seconds):
        out += [(d.direction, d.plate, d.lot) for d in world.arrivals(float(t), 1.0) + world.exits(float(t))]
    return out


def test_the_world_is_deterministic_for_a_seed_and_makes_valid_plates() -> None:
    cfg = PaylaterSimConfig(seed=7, cars=300, arrivals_per_min=60)
    a, b = play(cfg, 3_600), play(cfg, 3_600)
    assert a == b and len(a) > 500
    world = ParkingWorld(cfg)
    kinds = Counter(parse_plate(p).kind for p in world.plates)
    assert set(kinds) == {"ordinary", "new_energy_small"} and kinds["new_energy_small"] > 30
    assert 0.5 < len(world.bound) / len(world.plates) < 0.7


def test_every_exit_follows_its_entry_and_a_share_is_missed() -> None:
    cfg = PaylaterSimConfig(seed=3, cars=2_000, arrivals_per_min=120, stay_minutes=5, missed_exit_share=0.1)
    inside: dict[str, str] = {}
    entries = missed = 0
    for direction, plate, lot in play(cfg, 7_200):
        if direction == "entry":
            missed += plate in inside  # it left unseen and came back
            inside[plate] = lot
            entries += 1
        else:
            assert inside.pop(plate) == lot
    assert 0.05 < missed / entries < 0.15
