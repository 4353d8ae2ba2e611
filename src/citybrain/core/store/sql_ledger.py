"""Reading the double-entry ledger (core/ledger.py), the same SQL on both backends. Postings are
written only by processor commits (``SqlStore._commit_in``); nothing here or anywhere else
updates or deletes them."""

from __future__ import annotations

from typing import Any

from citybrain.core.ledger import Posting, TrialBalance
from citybrain.core.store.sql_primitives import SqlPrimitives

POSTING_COLUMNS = "txn, line, account, amount, ts, kind, ref, scene, memo"
LEDGER_MAX = 5_000_000  # postings one listing returns at most (a day's reconciliation of a big city)


class SqlLedger(SqlPrimitives):
    def ledger_postings(
        self,
        *,
        account: str | None = None,
        ref: str | None = None,
        txn: str | None = None,
        prefix: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 1_000,
    ) -> list[Posting]:
        conds: list[tuple[str, Any]] = [
            (f"{col} = ?", val) for col, val in (("account", account), ("ref", ref), ("txn", txn)) if val
        ]
        if prefix:
            conds.append(("starts_with(account, ?)", prefix))
        conds += [(f"ts {op} ?", ts) for op, ts in ((">=", since), ("<", until)) if ts is not None]
        where = " AND ".join(["1 = 1", *(c for c, _ in conds)])
        rows = self._rows(
            f"SELECT {POSTING_COLUMNS} FROM ledger WHERE {where} ORDER BY ts, txn, line LIMIT ?",
            [*(v for _, v in conds), max(0, min(limit, LEDGER_MAX))],
        )
        return [Posting(*r) for r in rows]

    def ledger_balances(self, prefix: str = "", until: int | None = None) -> dict[str, int]:
        rows = self._rows(
            "SELECT account, sum(amount) FROM ledger WHERE starts_with(account, ?) AND ts < ? "
            "GROUP BY account ORDER BY account",
            [prefix, until if until is not None else 2**62],
        )
        return {str(a): int(s) for a, s in rows}

    def ledger_summary(self, since: int, until: int, scene: str = "") -> list[tuple[str, str, int, int]]:
        rows = self._rows(
            "SELECT kind, split_part(account, ':', 1) AS kind_of_account, sum(amount), count(DISTINCT txn) "
            "FROM ledger WHERE ts >= ? AND ts < ? AND starts_with(scene, ?) GROUP BY 1, 2 ORDER BY 1, 2",
            [since, until, scene],
        )
        return [(str(k), str(a), int(s), int(n)) for k, a, s, n in rows]

    def trial_balance(self) -> TrialBalance:
        [(n, txns, debits, credits)] = self._rows(
            "SELECT count(*), count(DISTINCT txn), coalesce(sum(CASE WHEN amount > 0 THEN amount END), 0), "
            "coalesce(sum(CASE WHEN amount < 0 THEN amount END), 0) FROM ledger"
        )
        unbalanced = self._rows(
            "SELECT txn FROM ledger GROUP BY txn HAVING sum(amount) <> 0 ORDER BY txn LIMIT 100"
        )
        return TrialBalance(int(n), int(txns), int(debits), int(credits), [str(r[0]) for r in unbalanced])
