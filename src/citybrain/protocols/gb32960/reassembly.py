"""Reassemble RESS cell voltages that a 2016-edition terminal splits over several frames.

Table B.6: a subsystem with more than 200 cells is sent in parts; each part gives the total
cell count, the 1-based index of its first cell and up to 200 voltages. Parts of one pack share
the VIN, the subsystem number and the data-acquisition time. This helper is pure: feed it the
subsystems of each decoded report in arrival order and it returns the packs that became complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .blocks_2016 import SubsystemVoltages


@dataclass(slots=True)
class AssembledPack:
    vin: str
    subsystem: int
    time: datetime
    voltage_v: float | None
    current_a: float | None
    cell_voltages_v: list[float | None]


@dataclass(slots=True)
class _Pending:
    time: datetime
    total: int
    voltage_v: float | None
    current_a: float | None
    cells: dict[int, float | None] = field(default_factory=dict)


class CellVoltageReassembler:
    """Keyed by (VIN, subsystem). A part with a newer time replaces an unfinished older pack.

    At most ``max_pending`` unfinished packs are kept; the oldest is dropped beyond that, and
    every dropped pack is counted in ``dropped``.
    """

    __slots__ = ("_pending", "dropped", "max_pending")

    def __init__(self, max_pending: int = 10_000) -> None:
        self._pending: dict[tuple[str, int], _Pending] = {}
        self.max_pending = max_pending
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, vin: str, time: datetime, part: SubsystemVoltages) -> AssembledPack | None:
        """Add one part; returns the whole pack once every cell 1..total has arrived."""
        if part.subsystem is None or part.cell_total is None or part.first_cell is None:
            return None  # sentinel header: nothing to place the cells by
        if part.cell_voltages_v is None or part.cell_total == 0:
            return None
        key = (vin, part.subsystem)
        pending = self._pending.get(key)
        if pending is None or pending.time != time or pending.total != part.cell_total:
            if pending is not None:
                self.dropped += 1
                del self._pending[key]
            pending = _Pending(time, part.cell_total, part.voltage_v, part.current_a)
            self._pending[key] = pending
            if len(self._pending) > self.max_pending:
                oldest = next(iter(self._pending))
                del self._pending[oldest]
                self.dropped += 1
        for i, v in enumerate(part.cell_voltages_v):
            index = part.first_cell + i
            if 1 <= index <= pending.total:
                pending.cells[index] = v
        if len(pending.cells) < pending.total:
            return None
        del self._pending[key]
        cells = [pending.cells[i] for i in range(1, pending.total + 1)]
        return AssembledPack(vin, part.subsystem, time, pending.voltage_v, pending.current_a, cells)
