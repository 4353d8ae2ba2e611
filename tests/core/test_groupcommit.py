"""Group commit: the items of concurrent callers committed together, each caller answered with its
own items' answers, in order, only after the commit; a failed commit fails every caller in it."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from citybrain.core.groupcommit import GroupCommit


def test_concurrent_callers_share_commits_and_get_their_own_answers() -> None:
    committed: list[list[int]] = []

    def commit(items: Sequence[int]) -> list[int]:
        time.sleep(0.01)  # a commit takes a while: callers arriving meanwhile wait for the next one
        committed.append(list(items))
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(commit)
    answers: dict[int, list[int]] = {}
    early: list[int] = []
    barrier = threading.Barrier(16)

    def caller(n: int) -> None:
        barrier.wait()
        answers[n] = group.submit([n * 100 + k for k in range(3)])
        # answered only once its items were committed
        early.extend([] if any(n * 100 in batch for batch in committed) else [n])

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert early == []
    assert answers == {n: [(n * 100 + k) * 10 for k in range(3)] for n in range(16)}
    assert sorted(i for batch in committed for i in batch) == sorted(
        n * 100 + k for n in range(16) for k in range(3)
    )
    assert group.batches == len(committed) < 16  # some callers were committed together
    for batch in committed:  # one caller's items stay together and in order
        for n in {i // 100 for i in batch}:
            assert [i for i in batch if i // 100 == n] == [n * 100, n * 100 + 1, n * 100 + 2]


def test_a_failed_commit_fails_every_caller_in_it_and_the_next_one_goes_on() -> None:
    calls = 0

    def commit(items: Sequence[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if "bad" in items:
            raise OSError("disk full")
        return [i.upper() for i in items]

    group: GroupCommit[str, str] = GroupCommit(commit)
    with pytest.raises(OSError, match="disk full"):
        group.submit(["a", "bad"])
    assert group.submit(["b"]) == ["B"] and calls == 2


def test_a_commit_must_answer_every_item() -> None:
    group: GroupCommit[int, int] = GroupCommit(lambda items: list(items)[:-1])
    with pytest.raises(RuntimeError, match="answered 1 of 2"):
        group.submit([1, 2])


def test_batches_are_at_most_the_given_size() -> None:
    sizes: list[int] = []

    def commit(items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(commit, most=4)
    assert group.submit(list(range(10))) == list(range(10))
    assert sizes == [4, 4, 2]
