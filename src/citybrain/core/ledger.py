"""The double-entry ledger: every money movement as balanced postings in integer fen.

A ledger transaction is two or more postings whose amounts sum to zero: a positive amount is a
debit, a negative one a credit. A processor posts through its ``Emitter``; the store writes the
postings in the same database transaction as the processor's state and checkpoint, so a movement
exists exactly when the state change that caused it does. Postings are never updated or deleted
(the store has no way to): a correction is a new transaction that reverses the first.

The transaction id is the idempotency key of the movement (``settle:<session>``): ``(txn, line)``
is the table's primary key, so not even a faulty processor can write a movement twice.

Accounts are names with a type prefix (``payer:...``, ``lot:...``, ``channel:...``,
``clearing:...``); the balance of an account is the sum of its postings, and the sum of every
posting (the trial balance) is zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citybrain.core.errors import Problem, ValidationError

MAX_FEN = 10**15  # a bound no single movement reaches; refuses garbage before it is summed


class Posting(msgspec.Struct, frozen=True):
    """One line of a ledger transaction."""

    txn: str  # the transaction (idempotency key of the movement)
    line: int  # its position in the transaction, from 0
    account: str
    amount: int  # fen; debit > 0, credit < 0
    ts: int  # when the movement happened (event time, epoch ms)
    kind: str  # what moved: accrual, payment, refund, write-off ...
    ref: str  # what it is about: a session, a bill, an order
    scene: str
    memo: str = ""  # what identifies it elsewhere, e.g. the provider's order and movement ids


class TrialBalance(msgspec.Struct, frozen=True):
    """The ledger checked as a whole: the sums of debits and credits, and the transactions whose
    postings do not sum to zero (none, unless the table was written around this module)."""

    postings: int
    transactions: int
    debits: int
    credits: int
    unbalanced: list[str]

    @property
    def balanced(self) -> bool:
        return self.debits + self.credits == 0 and not self.unbalanced


def transaction(
    txn: str, ts: int, kind: str, ref: str, scene: str, lines: Sequence[tuple[str, int]], memo: str = ""
) -> list[Posting]:
    """The postings of one movement, checked: at least two lines, amounts whole fen and never zero,
    accounts named, and the sum zero. Raises ``ValidationError`` naming the transaction and line."""
    problems: list[Problem] = []
    where = f"ledger transaction {txn!r}"
    if not txn:
        problems.append(Problem(0, "txn", "a ledger transaction needs an id"))
    if len(lines) < 2:
        problems.append(Problem(0, "lines", f"{where} has {len(lines)} line(s); it needs two or more"))
    for i, (account, amount) in enumerate(lines):
        if not account:
            problems.append(Problem(i, "account", f"{where}, line {i}: no account"))
        if type(amount) is not int:
            problems.append(Problem(i, "amount", f"{where}, line {i}: {amount!r} is not whole fen"))
        elif amount == 0 or abs(amount) > MAX_FEN:
            problems.append(Problem(i, "amount", f"{where}, line {i}: amount {amount} fen is out of range"))
    if not problems and sum(a for _, a in lines) != 0:
        total = sum(a for _, a in lines)
        problems.append(Problem(0, "amount", f"{where} does not balance: its lines sum to {total} fen"))
    if problems:
        raise ValidationError(problems)
    return [Posting(txn, i, acc, amt, ts, kind, ref, scene, memo) for i, (acc, amt) in enumerate(lines)]
