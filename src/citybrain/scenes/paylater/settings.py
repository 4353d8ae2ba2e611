"""``[scenes.paylater]``: when a plate read may bind a charge, when leaving first is allowed (the
arrears caps), when an open session is orphaned, and how the payment dispatcher talks to the
channels.

The caps and the orphan rule are the design rules derived from the reported failures
(docs/scenes/paylater.md): a plate over either cap pays before it leaves, at every lot, until its
arrears are paid; an entry without an exit for ``orphan_after`` is never billed automatically.
"""

from __future__ import annotations

import re

import msgspec

from citybrain import sdk
from citybrain.scenes.paylater.clinic import ClinicSettings


class ChannelSettings(msgspec.Struct, forbid_unknown_fields=True):
    """A payment channel (a provider account): where it answers and how its notices are signed."""

    kind: str = "sandbox"  # sandbox: the built-in provider (the only kind so far)
    url: str = ""  # the provider's base URL; empty with kind sandbox: one is started in-process
    public_key_file: str = ""  # the provider's notice-signing key (PEM); empty: the started sandbox's
    serial: str = ""  # the key's serial as the provider names it; empty: the started sandbox's
    timeout_s: float = 5.0  # one request to the provider
    # the in-process sandbox provider (kind sandbox, no url): how it behaves
    sandbox_delay_ms: int = 300  # a payment's outcome comes this long after the order
    sandbox_fail_rate: float = 0.0  # share of payments declined (arrears in a demo)
    sandbox_drop_rate: float = 0.0  # share of notices never sent (the dispatcher asks after them)


def _channels() -> dict[str, ChannelSettings]:
    return {"wechat": ChannelSettings(), "etc": ChannelSettings()}


class PaylaterSettings(sdk.SceneSettings, forbid_unknown_fields=True):
    tariffs_file: str = ""  # lots and tariffs (TOML); empty: citybrain/data/paylater/tariffs.toml
    min_confidence: float = 0.9  # a plate read below this never binds a charge: held for an operator
    max_arrears_count: int = 3  # unpaid sessions a plate may owe and still leave first
    max_arrears_fen: int = 20_000  # fen owed at most (200 yuan) to still leave first
    orphan_after: str = "24h"  # an entry without an exit this long is orphaned: reviewed, never billed
    orphan_cap_fen: int = 5_000  # what an orphaned session may be billed at most, after review
    channels: dict[str, ChannelSettings] = msgspec.field(default_factory=_channels)  # name -> provider
    default_channel: str = "wechat"  # the channel of pay-at-gate orders (the lot's QR code)
    notify_url: str = ""  # where providers post notices; empty: this server's /notify/<channel>
    dispatcher: bool = True  # place the orders with the providers (off: orders wait, e.g. in tests)
    sandbox_seed: int = 16  # seeds the in-process sandbox providers (one story per seed)
    dispatch_every_ms: int = 200  # the dispatcher looks for orders to send this often
    query_after_ms: int = 10_000  # an order without a notice this long is queried at the provider
    sessions_kept: int = 20  # closed sessions kept per plate in the processor's state
    gate_silent_after: str = "30m"  # a lot busy the day before and silent this long: an alert ("" off)
    review_backlog: int = 20  # more cases of a kind waiting for an operator: an alert (0 off)
    clinic: ClinicSettings = msgspec.field(
        default_factory=ClinicSettings
    )  # clinic credit: [scenes.paylater.clinic]
    reconcile_at: str = "09:00"  # each day after this (Beijing time) yesterday is reconciled (T+1); "" never

    def __post_init__(self) -> None:
        if not 0 < self.min_confidence <= 1:
            raise ValueError(f"min_confidence {self.min_confidence} must be in (0, 1]")
        if self.default_channel not in self.channels:
            raise ValueError(f"default_channel {self.default_channel!r} is not one of channels")
        sdk.duration_ms(self.orphan_after)
        if self.gate_silent_after:
            sdk.duration_ms(self.gate_silent_after)
        if self.reconcile_at and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.reconcile_at):
            raise ValueError(f"reconcile_at {self.reconcile_at!r}: write HH:MM, e.g. '09:00'")
