"""The double-entry ledger: a movement is accepted only when it balances, is written in the same
transaction as the processor checkpoint that caused it (on both stores), exists once whatever
happens, and sums to zero as a whole."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citybrain.core.errors import StoreError, ValidationError
from citybrain.core.ledger import transaction
from citybrain.core.outputs import Outputs, StateUpdate
from citybrain.core.store.base import Store

T = 1_780_000_000_000


def test_a_balanced_movement_becomes_numbered_postings() -> None:
    ps = transaction("settle:s1", T, "payment", "s1", "paylater", [("channel:wx", 500), ("payer:p1", -500)])
    assert [(p.line, p.account, p.amount) for p in ps] == [(0, "channel:wx", 500), (1, "payer:p1", -500)]
    assert {(p.txn, p.ts, p.kind, p.ref, p.scene) for p in ps} == {
        ("settle:s1", T, "payment", "s1", "paylater")
    }


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ([("a", 500), ("b", -499)], "does not balance: its lines sum to 1 fen"),
        ([("a", 500)], "has 1 line(s); it needs two or more"),
        ([("a", 5.0), ("b", -5)], "line 0: 5.0 is not whole fen"),
        ([("a", True), ("b", -1)], "line 0: True is not whole fen"),
        ([("a", 0), ("b", 0)], "line 0: amount 0 fen is out of range"),
        ([("", 3), ("b", -3)], "line 0: no account"),
    ],
)
def test_an_unbalanced_or_malformed_movement_is_refused_naming_the_line(
    lines: list[tuple[str, int]], says: str
) -> None:
    with pytest.raises(ValidationError, match="settle:x") as err:
        transaction("settle:x", T, "payment", "x", "paylater", lines)
    assert says in str(err.value)


@given(st.lists(st.integers(-(10**9), 10**9).filter(bool), min_size=1, max_size=8), st.integers(0, 8))
def test_any_lines_are_accepted_exactly_when_they_sum_to_zero(amounts: list[int], skew: int) -> None:
    lines = [(f"acc:{i}", a) for i, a in enumerate(amounts)]
    if sum(amounts):
        lines.append(("acc:balance", -sum(amounts)))
    if skew and len(lines) >= 2:
        lines[0] = (lines[0][0], lines[0][1] + skew if lines[0][1] + skew else lines[0][1] + 2 * skew)
    balanced = sum(a for _, a in lines) == 0
    if balanced and len(lines) >= 2:
        assert sum(p.amount for p in transaction("t", T, "k", "r", "s", lines)) == 0
    else:
        with pytest.raises(ValidationError):
            transaction("t", T, "k", "r", "s", lines)


def _commit(store: Store, poff: int, txn: str, fen: int, state_key: str) -> None:
    out = Outputs(
        states=[StateUpdate("paylater", state_key, T, {"paid": fen})],
        postings=transaction(txn, T + poff, "payment", state_key, "paylater",
                             [("channel:wx", fen), (f"payer:{state_key}", -fen)], memo=f"order-{state_key}"),
    )  # fmt: skip
    store.commit("paylater.sessions", 0, poff, b"state", out)


def test_postings_commit_with_the_checkpoint_and_read_back(store: Store) -> None:
    _commit(store, 1, "pay:a", 500, "a")
    _commit(store, 2, "pay:b", 1_200, "b")
    assert store.load_checkpoint("paylater.sessions", 0) == (2, b"state")
    assert store.ledger_balances() == {"channel:wx": 1_700, "payer:a": -500, "payer:b": -1_200}
    assert store.ledger_balances("payer:") == {"payer:a": -500, "payer:b": -1_200}
    assert store.ledger_balances(until=T + 2) == {"channel:wx": 500, "payer:a": -500}
    assert [(p.txn, p.memo) for p in store.ledger_postings(account="channel:wx")] == [
        ("pay:a", "order-a"), ("pay:b", "order-b")]  # fmt: skip
    assert [(p.account, p.amount) for p in store.ledger_postings(ref="b")] == [("channel:wx", 1_200),
                                                                             ("payer:b", -1_200)]  # fmt: skip
    assert [p.txn for p in store.ledger_postings(prefix="payer:", since=T + 2)] == ["pay:b"]
    assert store.ledger_summary(T, T + 3) == [
        ("payment", "channel", 1_700, 2),
        ("payment", "payer", -1_700, 2),
    ]
    later = store.ledger_summary(T + 2, T + 3, scene="paylater")
    assert later == [("payment", "channel", 1_200, 1), ("payment", "payer", -1_200, 1)]
    assert store.ledger_summary(T, T + 3, scene="other") == []
    tb = store.trial_balance()
    assert (tb.postings, tb.transactions, tb.debits, tb.credits, tb.unbalanced) == (4, 2, 1_700, -1_700, [])
    assert tb.balanced


def test_a_movement_written_twice_fails_the_whole_commit(store: Store) -> None:
    _commit(store, 1, "pay:a", 500, "a")
    with pytest.raises(StoreError):
        _commit(store, 2, "pay:a", 500, "again")
    # nothing of the failed batch is kept: neither its state, its checkpoint nor its postings
    assert store.load_checkpoint("paylater.sessions", 0) == (1, b"state")
    assert store.states("paylater", "again") == []
    assert store.ledger_balances() == {"channel:wx": 500, "payer:a": -500}
