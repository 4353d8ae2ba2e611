"""What the pay-later scene's parts share while it runs: the lots and tariffs (one file, loaded
once), the fee of a stay as the processor and the gate both compute it, and the payment
providers' clients (started with the dispatcher, used by the notify and cashier routes)."""

from __future__ import annotations

from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from citybrain import sdk
from citybrain.scenes.paylater.providers import Providers
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.tariff_config import TariffError
from citybrain.scenes.paylater.tariffs import Tariffs, load_tariffs

ANSWERS_KEPT = 20_000  # gate answers remembered (a minute of reads at 300 a second)


class PaylaterWorld:
    def __init__(self, tariffs: Tariffs) -> None:
        self.tariffs = tariffs
        self.providers = Providers()  # the channels' clients, started by the dispatcher
        # how long this API node took to answer the gate (ms, until the read was durable), lately
        self.decisions: deque[float] = deque(maxlen=2_000)
        # this node's recent gate answers by read id: a read sent again gets the same answer
        self.answers: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def remember(self, read: str, answer: dict[str, Any]) -> None:
        self.answers[read] = answer
        while len(self.answers) > ANSWERS_KEPT:
            self.answers.popitem(last=False)

    def decision_ms(self, q: float) -> float | None:
        """The ``q`` quantile of the recent gate decision times on this node (None before any)."""
        if not self.decisions:
            return None
        ranked = sorted(self.decisions)
        return round(ranked[min(len(ranked) - 1, int(q * len(ranked)))], 2)

    def fee_fen(self, lot: str, entry_ms: int, exit_ms: int, new_energy: bool) -> int:
        """The fee of a stay; a lot this file does not know charges nothing here (its gate is
        answered from its own tariff; the processor must never fail a batch over it)."""
        if lot not in self.tariffs.lots:
            return 0
        return self.tariffs.fee(lot, entry_ms, exit_ms, new_energy=new_energy).total_fen


def build_world(settings: PaylaterSettings, _data: Path) -> PaylaterWorld:
    try:
        return PaylaterWorld(load_tariffs(Path(settings.tariffs_file) if settings.tariffs_file else None))
    except TariffError as err:
        raise sdk.ConfigError(f"[scenes.paylater] tariffs_file: {err}") from None
