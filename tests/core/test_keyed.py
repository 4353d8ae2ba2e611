"""Keyed processor state (core/keyed.py): entries committed one by one, only those a batch changed,
and the state after any interleaving of commit failures, poison events and restarts exactly the
state of processing every event once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain.core.bus.embedded import EmbeddedBus
from citybrain.core.events import REGISTRY, Event
from citybrain.core.keyed import StateKeeper, Tracked
from citybrain.core.outputs import Alert, Outputs
from citybrain.core.pipeline import Pipeline, ProcessorSpec
from citybrain.core.processor import Emitter, Processor, snapshot
from citybrain.core.store.duck import DuckStore

T0 = 1_765_000_000_000


class Deposit(Event, tag="test.deposit"):
    amount: int = 0
    poison: bool = False


class Account(msgspec.Struct):
    balance: int = 0
    moves: list[int] = msgspec.field(default_factory=list)


class BankState(msgspec.Struct):
    accounts: dict[str, Account] = msgspec.field(default_factory=dict)
    total: int = 0


class Bank(Processor[BankState, Deposit]):
    name = "test.bank"
    kinds = (Deposit,)
    state_type = BankState
    keyed: ClassVar[tuple[str, ...]] = ("accounts",)

    def process(self, batch: Sequence[tuple[int, Deposit]], out: Emitter) -> None:
        for _, ev in batch:
            if ev.amount == 0 and ev.key in self.state.accounts:
                _ = self.state.accounts[ev.key].balance  # a read: nothing to write
                continue
            acct = self.state.accounts.setdefault(ev.key, Account())
            acct.balance += ev.amount  # changed in place, reached through the dict
            acct.moves.append(ev.amount)
            self.state.total += ev.amount
            if ev.poison:
                raise RuntimeError("poison")  # after changing the state: the rollback must undo it
            if acct.balance < 0:
                del self.state.accounts[ev.key]  # closed


class OldBank(Bank):  # the same processor before ``accounts`` was keyed
    keyed: ClassVar[tuple[str, ...]] = ()


if Deposit.kind_name() not in REGISTRY.kinds():
    REGISTRY.register(Deposit)


def expected(events: Sequence[Deposit]) -> BankState:
    state = BankState()
    for ev in events:
        if ev.poison or (ev.amount == 0 and ev.key in state.accounts):
            continue
        acct = state.accounts.setdefault(ev.key, Account())
        acct.balance += ev.amount
        acct.moves.append(ev.amount)
        state.total += ev.amount
        if acct.balance < 0:
            del state.accounts[ev.key]
    return state


class Rig:
    """A real DuckDB store and embedded bus; pipelines made and dropped as a process would be."""

    def __init__(self, tmp: Path, proc: type[Bank] = Bank) -> None:
        self.store = DuckStore(tmp / "k.duckdb")
        self.bus = EmbeddedBus(self.store, partitions=1)
        self.written: list[dict[str, dict[str, bytes | None]]] = []
        self.fail_next = 0
        real = self.store.commit

        def commit(processor: str, partition: int, poff: int, state: bytes, out: Outputs,
                   entries: Any = None) -> list[Alert]:  # fmt: skip
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("connection lost")
            alerts = real(processor, partition, poff, state, out, entries)
            self.written.append({f: dict(d) for f, d in (entries or {}).items()})
            return alerts

        self.store.commit = commit  # type: ignore[method-assign]  # the test counts and fails commits
        self.pipeline = self.restart(proc)

    def restart(self, proc: type[Bank] = Bank) -> Pipeline:
        self.pipeline = Pipeline(self.bus, self.store, [ProcessorSpec(proc.name, lambda p: proc(p))])
        return self.pipeline

    def drain(self) -> None:
        while True:
            try:
                self.pipeline.drain()
                return
            except RuntimeError:
                continue  # a failed commit: the next round retries from the committed state

    def state(self) -> BankState:
        [task] = self.pipeline._tasks
        state: BankState = task.proc.state
        return state

    def close(self) -> None:
        self.store.close()


def test_tracked_remembers_every_key_reached_through_it() -> None:
    d = Tracked({"a": [1], "b": [2], "c": [3]})
    assert d.dirty == set()
    d["a"].append(9)
    d.get("zz")  # absent: nothing reached
    d.setdefault("n", [])
    d.pop("c")
    assert d.dirty == {"a", "n", "c"}
    d.dirty.clear()
    for _ in d.values():
        pass
    assert d.dirty == {"a", "b", "n"}  # values handed out may be changed in place


def test_a_commit_writes_only_the_entries_the_batch_changed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.bus.publish([Deposit(key=f"p{i}", ts=T0 + i, amount=10, id=f"a{i}") for i in range(200)])
    rig.drain()
    assert len(rig.written[-1]["accounts"]) == 200
    rig.bus.publish([Deposit(key="p7", ts=T0 + 500, amount=5, id="b1"),
                     Deposit(key="p8", ts=T0 + 501, amount=0, id="b2")])  # fmt: skip
    rig.drain()
    assert rig.written[-1] == {"accounts": {"p7": msgspec.msgpack.encode(Account(15, [10, 5]))}}
    rig.bus.publish([Deposit(key="p9", ts=T0 + 502, amount=-100, id="b3")])  # closes p9
    rig.drain()
    assert rig.written[-1] == {"accounts": {"p9": None}}
    blob = rig.store.load_checkpoint("test.bank", 0)
    assert blob is not None and len(blob[1]) < 100  # the accounts are not in the blob
    rig.restart()
    assert rig.state() == expected(
        [Deposit(key=f"p{i}", ts=0, amount=10) for i in range(200)]
        + [Deposit(key="p7", ts=0, amount=5), Deposit(key="p9", ts=0, amount=-100)]
    )
    rig.close()


deposits = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(-30, 30), st.booleans()), max_size=40
)
faults = st.lists(st.sampled_from(["fail", "restart", "none", "none"]), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deposits, faults, st.integers(1, 7))
def test_failures_poison_and_restarts_leave_the_state_of_processing_each_event_once(
    tmp_path_factory: pytest.TempPathFactory, spec: list[tuple[str, int, bool]], plan: list[str], step: int
) -> None:
    rig = Rig(tmp_path_factory.mktemp("keyed"))
    events = [Deposit(key=k, ts=T0 + i, amount=a, poison=(p and i % 3 == 0), id=f"e{i}")
              for i, (k, a, p) in enumerate(spec)]  # fmt: skip
    chunks = [events[i : i + step] for i in range(0, len(events), step)]
    for i, chunk in enumerate(chunks):
        rig.bus.publish(chunk)
        fault = plan[i] if i < len(plan) else "none"
        if fault == "fail":
            rig.fail_next = 1 + i % 3  # three failures in a row take the batch apart event by event
        elif fault == "restart":
            rig.restart()  # kill -9: what was not committed is gone, the rest is reloaded
        rig.drain()
    want = expected(events)
    assert rig.state() == want
    rig.restart()
    assert rig.state() == want
    rig.close()


def test_a_checkpoint_from_before_the_field_was_keyed_is_carried_over(tmp_path: Path) -> None:
    rig = Rig(tmp_path, OldBank)
    rig.bus.publish([Deposit(key=f"p{i}", ts=T0 + i, amount=i + 1, id=f"a{i}") for i in range(5)])
    rig.drain()
    assert rig.written[-1] == {} and rig.store.load_entries("test.bank", 0) == {}
    rig.restart(Bank)  # the upgrade
    rig.bus.publish([Deposit(key="p0", ts=T0 + 9, amount=1, id="b")])
    rig.drain()
    assert set(rig.written[-1]["accounts"]) == {f"p{i}" for i in range(5)}  # every entry written once
    rig.restart(Bank)
    assert rig.state().accounts["p0"] == Account(2, [1, 1]) and rig.state().total == 16
    rig.close()


def test_entries_that_no_longer_decode_are_dropped_with_the_fresh_state(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.store.commit("test.bank", 0, 0, snapshot(Bank(0), _book()), Outputs(),
                     {"accounts": {"old": msgspec.msgpack.encode("not an account")}})  # fmt: skip
    rig.restart()  # logs that the state no longer decodes and starts fresh
    rig.bus.publish([Deposit(key="n", ts=T0, amount=3, id="x"), Deposit(key="n", ts=T0, poison=True, id="y")])
    rig.fail_next = 1  # and its first commit fails: the rollback must not forget the old rows
    rig.drain()
    assert set(rig.store.load_entries("test.bank", 0)["accounts"]) == {"n"}
    rig.restart()
    assert rig.state() == expected([Deposit(key="n", ts=0, amount=3)])
    rig.close()


def test_entries_left_without_their_checkpoint_are_not_the_state(tmp_path: Path) -> None:
    """The checkpoint row deleted to replay a processor from the start: the entries it left are
    not brought back by a rollback, and the next commit deletes them."""
    rig = Rig(tmp_path)
    rig.bus.publish([Deposit(key="ghost", ts=T0, amount=7, id="g")])
    rig.drain()
    with rig.store._transaction("a test deleting a checkpoint") as tx:
        tx.execute("DELETE FROM checkpoints WHERE processor = ?", ["test.bank"])
    rig.restart()  # replays every event from the start, over the stored rows
    rig.bus.publish([Deposit(key="n", ts=T0 + 1, poison=True, id="p")])  # forces a rollback
    rig.drain()
    assert rig.state() == expected([Deposit(key="ghost", ts=0, amount=7)])  # counted once, by the replay
    rig.restart()
    assert rig.state() == expected([Deposit(key="ghost", ts=0, amount=7)])
    rig.close()


def test_a_keyed_field_must_be_a_dict_by_string() -> None:
    class Bad(Bank):
        keyed = ("total",)

    with pytest.raises(TypeError, match=r"BankState\.total is keyed"):
        StateKeeper(Bad(0))


def _book() -> Any:
    from citybrain.core.processor import AlertBook

    return AlertBook()
