"""T+1 reconciliation: one channel's day on the ledger against the provider's statement.

The platform's side is the ledger itself (the postings on ``channel:<name>`` of that day, Beijing
time, with the provider's ids in their memo), not a table of orders beside it, so what is
reconciled is what was booked. The provider's side is its statement (``Channel.statement``).
A movement only the provider has is not left at that: it is handed to the processor as a notice
(``via="statement"``), which settles the session it pays if that is still owed, and books any
other payment as a duplicate and refunds it; a movement only the platform has is reported (and
alerted) for a person to chase. The run is recorded as a ``paylater.reconciled`` event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

from citybrain import sdk
from citybrain.scenes.paylater.channels import Notice
from citybrain.scenes.paylater.events import Reconciled
from citybrain.scenes.paylater.notices import notice_event, session_key
from citybrain.scenes.paylater.reconcile import PlatformRow, Reconciliation, parse_statement, reconcile
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.world import PaylaterWorld

BEIJING = ZoneInfo("Asia/Shanghai")
REPORTED = 200  # mismatches of each bucket kept in the recorded run


def day_bounds(day: dt.date) -> tuple[int, int]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    return int(start.timestamp() * 1000), int((start + dt.timedelta(days=1)).timestamp() * 1000)


def platform_rows(store: sdk.ReadModel, channel: str, day: dt.date) -> list[PlatformRow]:
    """The day's money movements at ``channel`` as the ledger holds them: each posting on the
    channel's account is one (a payment in, a refund out), identified by its memo."""
    since, until = day_bounds(day)
    rows: list[PlatformRow] = []
    for p in store.ledger_postings(account=f"channel:{channel}", since=since, until=until, limit=5_000_000):
        order, refund, txn = [*p.memo.split("|"), "", "", ""][:3]
        if p.amount < 0:
            rows.append(PlatformRow(order, refund, "refund", -p.amount, txn))
        else:
            rows.append(PlatformRow(order, refund, "payment", p.amount, txn))
    return rows


def found_only_at(channel: str, result: Reconciliation) -> list[Notice]:
    """The provider's movements the platform never heard of, as the notices that should have come."""
    why = "found on the statement"
    return [
        Notice(channel, r.kind, r.order_id, r.refund_id, r.channel_txn, r.amount_fen, "success", r.ts, why)
        for r in result.channel_only
    ]


async def reconcile_day(
    rt: sdk.Runtime[PaylaterSettings, PaylaterWorld], channel: str, day: dt.date, skip_empty: bool = False
) -> Reconciled | None:
    """Reconcile ``channel``'s ``day`` and record it (durable when this returns); with
    ``skip_empty``, a day without a movement on either side is not recorded (None)."""
    ch = rt.world.providers.channels.get(channel)
    if ch is None:
        raise sdk.NotFoundError(f"channel {channel!r} is not running here")
    data = await asyncio.to_thread(ch.statement, day)
    statement = parse_statement(data, f"{channel} statement of {day.isoformat()}")
    mine = await asyncio.to_thread(platform_rows, rt.store, channel, day)
    if skip_empty and not mine and not statement:
        return None
    result = reconcile(mine, statement)
    now = sdk.now_ms()
    run = Reconciled(key=f"recon:{channel}", ts=now, id=f"recon:{channel}:{day.isoformat()}:{now}",
                     channel=channel, day=day.isoformat(), clean=result.clean, counts=result.counts(),
                     totals_fen=result.totals(), report=result.report(REPORTED))  # fmt: skip
    found = [notice_event(n, session_key(rt.store, n), "statement") for n in found_only_at(channel, result)]
    await rt.submit([*found, run])
    return run
