"""The statement parser and T+1 reconciliation: hand-written statements, every fault named by line and field,
random input only ever a StatementError, hand-computed buckets, the sandbox's statement with injected faults,
and 100,000 rows for correctness (timing lives in the benchmarks)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citybrain.scenes.paylater.channels import Notice, SandboxChannel
from citybrain.scenes.paylater.reconcile import (
    SHANGHAI,
    Mismatch,
    PlatformRow,
    StatementError,
    StatementRow,
    parse_statement,
    reconcile,
    write_statement,
)
from citybrain.scenes.paylater.sandbox import SandboxProvider

MAY_1_08H = 1714521600000  # 2024-05-01 08:00:00 +08:00 = 00:00:00 UTC, worked out by hand
HOUR = 3_600_000
TXN_P = "4200000000000000000000000001"
TXN_R = "5000000000000000000000000002"
STATEMENT = (
    "交易时间,支付单号,商户订单号,商户退款单号,交易类型,金额(分)\n"
    f"`2024-05-01 08:00:00,`{TXN_P},`P000001,`,`PAYMENT,`500\n"
    f"`2024-05-01 09:30:05,`{TXN_R},`P000001,`R000001,`REFUND,`200\n"
    "总笔数,支付总金额(分),退款总金额(分)\n"
    "`2,`500,`200\n"
)


def test_a_hand_written_statement_parses_to_its_rows() -> None:
    rows = parse_statement(STATEMENT.encode(), "wechat 2024-05-01")
    assert rows == [
        StatementRow(MAY_1_08H, TXN_P, "P000001", "", "payment", 500),
        StatementRow(MAY_1_08H + HOUR + 30 * 60_000 + 5_000, TXN_R, "P000001", "R000001", "refund", 200),
    ]


def test_crlf_a_byte_order_mark_and_missing_backticks_change_nothing() -> None:
    variant = "\ufeff" + STATEMENT.replace("`", "").replace("\n", "\r\n")
    assert parse_statement(variant.encode(), "x") == parse_statement(STATEMENT.encode(), "x")


def test_write_statement_writes_what_parse_statement_reads() -> None:
    rows = parse_statement(STATEMENT.encode(), "x")
    assert write_statement(rows) == STATEMENT.encode()
    assert parse_statement(write_statement([]), "empty") == []


def _broken(old: str, new: str) -> bytes:
    assert old in STATEMENT
    return STATEMENT.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("data", "line", "field"),
    [
        (_broken("`500\n", "`5x0\n"), 2, "amount_fen"),
        (_broken("`500\n", "`0\n"), 2, "amount_fen"),
        (_broken("`500\n", "`-500\n"), 2, "amount_fen"),
        (_broken("`PAYMENT", "`CHARGE"), 2, "type"),
        (_broken("`P000001,`R000001", "`P000001,`"), 3, "refund_id"),
        (_broken("`P000001,`,", "`P000001,`R9,"), 2, "refund_id"),
        (_broken("2024-05-01 08:00:00", "2024-02-30 08:00:00"), 2, "time"),
        (_broken("2024-05-01 09:30:05", "2024-05-01 24:00:00"), 3, "time"),
        (_broken("2024-05-01 09:30:05", "2024-05-01T09:30:05"), 3, "time"),
        (_broken(f"`{TXN_P},", "`,"), 2, "channel_txn"),
        (_broken("`P000001,`R000001", "`,`R000001"), 3, "order_id"),
        (_broken("`PAYMENT,`500", "`PAYMENT,`500,`1"), 2, "columns"),
        (_broken("`2,`500,`200", "`3,`500,`200"), 5, "count"),
        (_broken("`2,`500,`200", "`2,`501,`200"), 5, "payments_fen"),
        (_broken("`2,`500,`200", "`2,`500,`20"), 5, "refunds_fen"),
        (_broken("`2,`500,`200", "`2,`500"), 5, "summary"),
        (_broken("交易时间", "时间"), 1, "header"),
        (_broken("总笔数", "笔数"), 4, "summary"),
        (_broken("`P000001,`R000001", "`P\xff"), 3, "columns"),
        (STATEMENT.encode().replace(b"P000001,`R", b"P\xff,`R"), 3, "encoding"),
        (b"", 1, "header"),
    ],
)
def test_a_broken_statement_is_refused_naming_source_line_and_field(
    data: bytes, line: int, field: str
) -> None:
    with pytest.raises(StatementError) as refused:
        parse_statement(data, "wechat 2024-05-01")
    assert (refused.value.source, refused.value.line, refused.value.field) == (
        "wechat 2024-05-01",
        line,
        field,
    )
    assert str(refused.value).startswith(f"wechat 2024-05-01 line {line}, {field}:")


_TOKENS = st.sampled_from(
    [
        "`",
        ",",
        "\n",
        "PAYMENT",
        "REFUND",
        "2024-05-01 08:00:00",
        "0",
        "5",
        "500",
        "P1",
        "R1",
        "-",
        " ",
        "\r",
        "é",
    ]
)
_ROW = st.builds(
    StatementRow,
    ts=st.integers(694_224_000, 4_000_000_000).map(lambda s: s * 1000),  # since 1992: no summer time
    channel_txn=st.from_regex(r"[0-9A-Za-z]{1,28}", fullmatch=True),
    order_id=st.from_regex(r"[0-9A-Za-z_\-|*]{6,32}", fullmatch=True),
    refund_id=st.just(""),
    kind=st.just("payment"),
    amount_fen=st.integers(1, 10**12),
)


@given(st.binary(max_size=300))
def test_random_bytes_parse_or_raise_only_statement_errors(data: bytes) -> None:
    with contextlib.suppress(StatementError):
        parse_statement(data, "fuzz")


@given(st.lists(st.lists(_TOKENS, max_size=12).map("".join), max_size=6), st.booleans())
def test_random_lines_between_a_real_header_and_summary_raise_only_statement_errors(
    lines: list[str], summary: bool
) -> None:
    text = "\n".join(["交易时间,支付单号,商户订单号,商户退款单号,交易类型,金额(分)", *lines])
    if summary:
        text += "\n总笔数,支付总金额(分),退款总金额(分)\n`1,`500,`0"
    try:
        rows = parse_statement(text.encode(), "fuzz")
    except StatementError:
        return
    assert len(rows) == 1 and rows[0].amount_fen == 500  # only a statement that adds up gets through


@given(st.lists(_ROW, max_size=20), st.data())
def test_written_statements_read_back_and_any_one_byte_change_parses_or_is_refused(
    rows: list[StatementRow], data: st.DataObject
) -> None:
    refunded = [
        StatementRow(row.ts, f"R{row.channel_txn}", row.order_id, f"R{index}", "refund", row.amount_fen)
        for index, row in enumerate(rows[::3])
    ]
    written = write_statement(rows + refunded)
    assert parse_statement(written, "fuzz") == rows + refunded
    position = data.draw(st.integers(0, len(written) - 1))
    changed = written[:position] + bytes([data.draw(st.integers(0, 255))]) + written[position + 1 :]
    with contextlib.suppress(StatementError):
        parse_statement(changed, "fuzz")


def _pay(order_id: str, amount_fen: int) -> tuple[PlatformRow, StatementRow]:
    txn = f"42{order_id}"
    return (
        PlatformRow(order_id, "", "payment", amount_fen, txn),
        StatementRow(MAY_1_08H, txn, order_id, "", "payment", amount_fen),
    )


def test_reconciliation_puts_every_movement_in_its_bucket_with_hand_computed_totals() -> None:
    p1, s1 = _pay("P000001", 500)
    p2, s2 = _pay("P000002", 700)
    p3, _ = _pay("P000003", 300)  # the channel never charged it
    _, ghost = _pay("G000001", 999)  # the channel charged what the platform never asked for
    p4, s4 = _pay("P000004", 100)
    r1 = PlatformRow("P000001", "R000001", "refund", 200, "50R1")
    sr1 = StatementRow(MAY_1_08H, "50R1", "P000001", "R000001", "refund", 200)
    s2_changed = StatementRow(s2.ts, s2.channel_txn, s2.order_id, "", "payment", 750)
    result = reconcile([p1, p2, p3, p4, r1, p1], [s1, sr1, s2_changed, ghost, s4, s4])
    assert result.matched == [s1, sr1, s4]
    assert result.platform_only == [p3]
    assert result.channel_only == [ghost]
    assert result.amount_mismatch == [Mismatch(p2, s2_changed)]
    assert result.platform_duplicates == [p1]
    assert result.channel_duplicates == [s4]
    assert not result.clean
    assert result.totals() == {
        "matched": 500 - 200 + 100,
        "platform_only": 300,
        "channel_only": 999,
        "amount_mismatch_platform": 700,
        "amount_mismatch_channel": 750,
        "platform_duplicates": 500,
        "channel_duplicates": 100,
    }
    report = json.loads(json.dumps(result.report()))
    assert report["counts"] == {
        "matched": 3,
        "platform_only": 1,
        "channel_only": 1,
        "amount_mismatch": 1,
        "platform_duplicates": 1,
        "channel_duplicates": 1,
    }
    assert report["amount_mismatch"] == [
        {
            "kind": "payment",
            "order_id": "P000002",
            "refund_id": "",
            "channel_txn": "42P000002",
            "platform_fen": 700,
            "channel_fen": 750,
        }
    ]
    assert report["channel_only"][0]["order_id"] == "G000001" and report["truncated"] is False
    assert result.report(limit=0)["truncated"] is True and result.report(limit=0)["channel_only"] == []


def test_matching_sides_reconcile_clean() -> None:
    pairs = [_pay(f"P{i:06d}", 100 + i) for i in range(5)]
    result = reconcile([p for p, _ in pairs], [s for _, s in pairs])
    assert result.clean and len(result.matched) == 5 and result.totals()["matched"] == 5 * 100 + 10


def test_a_hundred_thousand_rows_reconcile_with_exactly_the_injected_faults() -> None:
    n = 100_000
    platform = [PlatformRow(f"P{i:07d}", "", "payment", 100 + i % 5000, f"42{i:026d}") for i in range(n)]
    platform += [PlatformRow(f"P{i:07d}", f"R{i:07d}", "refund", 50, f"50{i:026d}") for i in range(0, n, 10)]
    hidden = {"P0000007", "P0054321"}
    changed = {"P0000100": 1, "P0099999": 99_999}
    rows = [
        StatementRow(MAY_1_08H + i, row.channel_txn, row.order_id, row.refund_id, row.kind, row.amount_fen)
        for i, row in enumerate(platform)
        if not (row.kind == "payment" and row.order_id in hidden)
    ]
    rows = [
        r if r.kind == "refund" or r.order_id not in changed else _amount(r, changed[r.order_id])
        for r in rows
    ]
    ghosts = [StatementRow(MAY_1_08H, f"42GHOST{i}", f"GHOST{i:04d}", "", "payment", 777) for i in range(3)]
    statement = parse_statement(write_statement(rows + ghosts), "bulk")
    result = reconcile(platform, statement)
    assert {row.order_id for row in result.platform_only} == hidden
    assert {row.order_id for row in result.channel_only} == {"GHOST0000", "GHOST0001", "GHOST0002"}
    assert {(m.platform.order_id, m.channel.amount_fen) for m in result.amount_mismatch} == set(
        changed.items()
    )
    assert len(result.matched) == len(platform) - len(hidden) - len(changed)
    assert result.platform_duplicates == [] and result.channel_duplicates == []


def _amount(row: StatementRow, amount_fen: int) -> StatementRow:
    return StatementRow(row.ts, row.channel_txn, row.order_id, row.refund_id, row.kind, amount_fen)


# --- the sandbox's own statement, with its chaos ---


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxProvider, SandboxChannel]]:
    at = MAY_1_08H + 2 * HOUR
    provider = SandboxProvider(clock=lambda: at, delay_ms=1, declines={"payer-broke"}).start()
    channel = SandboxChannel(provider.url, provider.public_key_pem, provider.serial)
    yield provider, channel
    channel.close()
    provider.close()


def _outcome(probe: Callable[[], Notice | None]) -> Notice:
    deadline = time.monotonic() + 5
    while (notice := probe()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return notice


def test_the_sandbox_statement_reconciles_clean_then_shows_every_injected_fault_and_no_other(
    sandbox: tuple[SandboxProvider, SandboxChannel],
) -> None:
    provider, channel = sandbox
    platform: list[PlatformRow] = []
    for index, (amount, payer) in enumerate(
        [(500, "a"), (600, "b"), (700, "c"), (800, "payer-broke"), (900, "d")]
    ):
        order_id = f"P{index:06d}"
        channel.create_payment(order_id, amount, payer, "parking", "")
        notice = _outcome(functools.partial(channel.query_payment, order_id))
        if notice.status == "success":
            platform.append(PlatformRow(order_id, "", "payment", amount, notice.channel_txn))
    channel.refund("R000001", "P000000", 150, "overcharged", "")
    refund = _outcome(lambda: channel.query_refund("R000001"))
    platform.append(PlatformRow("P000000", "R000001", "refund", 150, refund.channel_txn))
    day = dt.date(2024, 5, 1)
    clean = reconcile(platform, parse_statement(channel.statement(day), "sandbox"))
    assert clean.clean and len(clean.matched) == 5  # 4 payments (one declined) and a refund

    ghost = provider.inject_ghost(4321, MAY_1_08H + 3 * HOUR)
    provider.inject_ghost(1234, MAY_1_08H + 24 * HOUR)  # another day's: not on this statement
    provider.hide_from_statement("P000001")
    provider.alter_statement_amount("P000002", 7000)
    result = reconcile(platform, parse_statement(channel.statement(day), "sandbox"))
    assert [row.order_id for row in result.channel_only] == [ghost.order_id]
    assert result.channel_only[0].amount_fen == 4321
    assert [(row.order_id, row.amount_fen) for row in result.platform_only] == [("P000001", 600)]
    assert [(m.platform.amount_fen, m.channel.amount_fen) for m in result.amount_mismatch] == [(700, 7000)]
    assert sorted((row.order_id, row.refund_id) for row in result.matched) == [
        ("P000000", ""),
        ("P000000", "R000001"),
        ("P000004", ""),
    ]
    assert result.platform_duplicates == [] and result.channel_duplicates == []
    assert dt.datetime.fromtimestamp(ghost.ts / 1000, SHANGHAI).date() == day
