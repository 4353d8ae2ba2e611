"""The sandbox provider and its channel over real sockets: signed notifications, retries, lost and doubled
notices, idempotent orders, refunds, the daily statement, and what the client makes of provider failures."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain.scenes.paylater.channels import (
    Channel,
    ChannelError,
    Notice,
    OrderAnswer,
    SandboxChannel,
    SignatureError,
    verify_notification,
)
from citybrain.scenes.paylater.reconcile import SHANGHAI, parse_statement
from citybrain.scenes.paylater.sandbox import Delivery, SandboxProvider

T = TypeVar("T")
MAY_1_10H = int(dt.datetime(2024, 5, 1, 10, tzinfo=SHANGHAI).timestamp()) * 1000  # 2024-05-01 10:00 +08:00
MINUTE = 60_000


class Clock:
    """A clock the test sets by hand: epoch ms."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def eventually(probe: Callable[[], T | None], timeout_s: float = 5.0) -> T:
    deadline = time.monotonic() + timeout_s
    while (value := probe()) is None:
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)
    return value


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on a slow answer is what the timeout test wants


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[_QuietServer, threading.Thread]:
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


class Receiver:
    """The merchant's notify endpoint: answers the first ``failures`` posts with 500, then verifies each
    notification and processes each movement once (keyed by the provider's id of the movement)."""

    def __init__(self, channel: SandboxChannel, clock: Clock, failures: int = 0) -> None:
        self.channel, self.clock, self.failures = channel, clock, failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.processed: dict[tuple[str, str], Notice] = {}
        self.rejected: list[str] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.take(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server, self.thread = _serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"

    def take(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        with self.cond:
            self.received.append((headers, body))
            self.cond.notify_all()
            if len(self.received) <= self.failures:
                return 500, b'{"code":"FAIL","message":"busy"}'
            try:
                notice = self.channel.verify(headers, body, self.clock())
            except ChannelError as exc:
                self.rejected.append(str(exc))
                return 400, b'{"code":"FAIL","message":"rejected"}'
            self.processed.setdefault((notice.kind, notice.channel_txn), notice)
            return 200, b'{"code":"SUCCESS"}'

    def wait(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, timeout_s), "timed out waiting for notifications"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@dataclass
class World:
    provider: SandboxProvider
    channel: SandboxChannel
    receiver: Receiver
    clock: Clock

    def pay(self, order_id: str, amount_fen: int, payer: str = "payer-1") -> Notice:
        """Create a payment and wait for its outcome (by query, so it works with lost notices too)."""
        answer = self.channel.create_payment(order_id, amount_fen, payer, "parking", self.receiver.url)
        assert answer == OrderAnswer(order_id, "accepted")
        return eventually(lambda: self.channel.query_payment(order_id))


@pytest.fixture
def make_world() -> Iterator[Callable[..., World]]:
    made: list[SandboxProvider | SandboxChannel | Receiver] = []

    def make(failures: int = 0, **options: Any) -> World:
        clock = Clock(MAY_1_10H)
        options = {"delay_ms": 5, "retry_ms": (20, 20, 20, 20), **options}
        provider = SandboxProvider(clock=clock, **options).start()
        made.append(provider)
        channel = SandboxChannel(provider.url, provider.public_key_pem, provider.serial, timeout_s=2.0)
        made.append(channel)
        as_channel: Channel = channel  # mypy checks that the sandbox's client is a Channel
        assert as_channel.name == "sandbox"
        receiver = Receiver(channel, clock, failures)
        made.append(receiver)
        return World(provider, channel, receiver, clock)

    yield make
    for thing in reversed(made):
        thing.close()


def test_a_payment_is_told_in_a_signed_notice_that_verifies_to_the_paid_amount(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    answer = world.channel.create_payment("P00000001", 1234, "payer-1", "parking", world.receiver.url)
    assert answer == OrderAnswer("P00000001", "accepted")
    world.receiver.wait(lambda: len(world.receiver.processed) == 1)
    (notice,) = world.receiver.processed.values()
    assert notice == Notice(
        "sandbox", "payment", "P00000001", "", notice.channel_txn, 1234, "success", MAY_1_10H, ""
    )
    assert notice.channel_txn.startswith("42") and len(notice.channel_txn) == 28
    assert world.channel.query_payment("P00000001") == notice
    assert world.receiver.rejected == []


def test_a_tampered_body_timestamp_or_serial_and_a_stale_or_foreign_signature_fail(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    world.pay("P00000002", 1234)
    world.receiver.wait(lambda: len(world.receiver.processed) == 1)
    headers, body = world.receiver.received[0]
    verify = world.channel.verify
    assert verify(headers, body, MAY_1_10H).amount_fen == 1234
    assert verify(headers, body, MAY_1_10H + 4 * MINUTE).amount_fen == 1234  # within the 5-minute window
    stamp = headers["Wechatpay-Timestamp"]
    forged: list[tuple[dict[str, str], bytes, int]] = [
        (headers, body.replace(b'"total":1234', b'"total":9234'), MAY_1_10H),
        ({**headers, "Wechatpay-Timestamp": str(int(stamp) + 1)}, body, MAY_1_10H),
        ({**headers, "Wechatpay-Serial": "0" * 40}, body, MAY_1_10H),
        ({k: v for k, v in headers.items() if k != "Wechatpay-Signature"}, body, MAY_1_10H),
        (headers, body, MAY_1_10H + 6 * MINUTE),  # a replay after the window
        (headers, body, MAY_1_10H - 6 * MINUTE),
    ]
    stranger = SandboxProvider(clock=Clock(MAY_1_10H))  # another key, never started
    forged.append(
        ({**stranger.signed_headers(body), "Wechatpay-Serial": world.provider.serial}, body, MAY_1_10H)
    )
    for forged_headers, forged_body, now in forged:
        with pytest.raises(SignatureError):
            verify(forged_headers, forged_body, now)


def test_creating_an_order_again_answers_the_same_and_another_amount_is_refused(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    first = world.channel.create_payment("P00000003", 800, "payer-1", "parking", world.receiver.url)
    again = world.channel.create_payment("P00000003", 800, "payer-1", "parking", world.receiver.url)
    assert first == again == OrderAnswer("P00000003", "accepted")
    with pytest.raises(ChannelError) as refused:
        world.channel.create_payment("P00000003", 900, "payer-1", "parking", world.receiver.url)
    assert (refused.value.code, refused.value.retryable) == ("OUT_TRADE_NO_USED", False)
    world.receiver.wait(lambda: len(world.receiver.processed) == 1)
    time.sleep(0.1)  # a second order would have been told by now
    assert len(world.receiver.received) == 1
    assert world.channel.query_payment("P00000003") == next(iter(world.receiver.processed.values()))


def test_a_declined_payer_gets_a_failed_notice_and_the_query_says_failed(
    make_world: Callable[..., World],
) -> None:
    world = make_world(declines={"payer-broke"})
    world.channel.create_payment("P00000004", 600, "payer-broke", "parking", world.receiver.url)
    world.receiver.wait(lambda: len(world.receiver.processed) == 1)
    (notice,) = world.receiver.processed.values()
    assert (notice.kind, notice.status, notice.amount_fen, notice.reason) == (
        "payment",
        "failed",
        600,
        "payer declined",
    )
    assert notice.ts == MAY_1_10H  # no success_time: the notification's create_time
    queried = world.channel.query_payment("P00000004")
    assert queried is not None and (queried.status, queried.reason, queried.ts) == (
        "failed",
        "payer declined",
        0,
    )


def test_a_receiver_failing_twice_gets_the_notice_three_times_and_processes_it_once(
    make_world: Callable[..., World],
) -> None:
    world = make_world(failures=2)
    world.channel.create_payment("P00000005", 700, "payer-1", "parking", world.receiver.url)
    world.receiver.wait(lambda: len(world.receiver.processed) == 1)
    deliveries = eventually(
        lambda: world.provider.deliveries() if len(world.provider.deliveries()) >= 3 else None
    )
    note_id = deliveries[0].notification_id
    assert deliveries == [
        Delivery(note_id, 0, "failed"),
        Delivery(note_id, 1, "failed"),
        Delivery(note_id, 2, "ok"),
    ]
    assert len(world.receiver.received) == 3
    assert len({body for _, body in world.receiver.received}) == 1  # the same notification each time
    assert [n.amount_fen for n in world.receiver.processed.values()] == [700]


def test_a_lost_notice_leaves_the_query_to_tell_the_result(make_world: Callable[..., World]) -> None:
    world = make_world(drop_rate=1.0)
    notice = world.pay("P00000006", 450)
    assert (notice.kind, notice.order_id, notice.amount_fen, notice.status) == (
        "payment",
        "P00000006",
        450,
        "success",
    )
    assert notice.ts == MAY_1_10H and notice.channel_txn.startswith("42")
    deliveries = eventually(lambda: world.provider.deliveries() or None)
    assert [d.outcome for d in deliveries] == ["dropped"]
    time.sleep(0.1)
    assert world.receiver.received == []


def test_a_doubled_notice_arrives_twice_and_is_processed_once(make_world: Callable[..., World]) -> None:
    world = make_world(dup_rate=1.0)
    world.channel.create_payment("P00000007", 300, "payer-1", "parking", world.receiver.url)
    world.receiver.wait(lambda: len(world.receiver.received) == 2)
    first, second = (msgspec.json.decode(body) for _, body in world.receiver.received)
    assert first == second  # the same notification id and content
    assert [n.amount_fen for n in world.receiver.processed.values()] == [300]


def test_an_order_still_open_and_an_unknown_order_query_as_none(make_world: Callable[..., World]) -> None:
    world = make_world(delay_ms=60_000)
    world.channel.create_payment("P00000008", 300, "payer-1", "parking", world.receiver.url)
    assert world.channel.query_payment("P00000008") is None
    assert world.channel.query_payment("P99999999") is None
    assert world.channel.query_refund("R99999999") is None


def test_refunds_are_told_queried_and_never_exceed_the_payment(make_world: Callable[..., World]) -> None:
    world = make_world()
    paid = world.pay("P00000009", 1000)
    url = world.receiver.url
    first = world.channel.refund("R00000001", "P00000009", 300, "overcharged", url)
    assert first.order_id == "R00000001" and first.status == "accepted" and first.channel_txn.startswith("50")
    assert world.channel.refund("R00000001", "P00000009", 300, "overcharged", url) == first  # a retry
    with pytest.raises(ChannelError) as too_much:
        world.channel.refund("R00000002", "P00000009", 800, "double charge", url)
    assert (too_much.value.code, too_much.value.retryable) == ("NOT_ENOUGH", False)
    assert world.channel.refund("R00000002", "P00000009", 700, "double charge", url).status == "accepted"
    with pytest.raises(ChannelError, match="NOT_ENOUGH"):
        world.channel.refund("R00000003", "P00000009", 1, "more", url)
    world.receiver.wait(lambda: len(world.receiver.processed) == 3)
    refunds = sorted(
        (n for n in world.receiver.processed.values() if n.kind == "refund"), key=lambda n: n.refund_id
    )
    assert [(n.order_id, n.refund_id, n.amount_fen, n.status, n.ts) for n in refunds] == [
        ("P00000009", "R00000001", 300, "success", MAY_1_10H),
        ("P00000009", "R00000002", 700, "success", MAY_1_10H),
    ]
    assert refunds[0].channel_txn == first.channel_txn
    assert world.channel.query_refund("R00000001") == refunds[0]
    assert world.channel.query_payment("P00000009") == paid  # refunded, the payment still stands


def test_refunding_an_unpaid_or_unknown_order_is_refused(make_world: Callable[..., World]) -> None:
    world = make_world(delay_ms=60_000)
    world.channel.create_payment("P00000010", 500, "payer-1", "parking", world.receiver.url)
    with pytest.raises(ChannelError) as unpaid:
        world.channel.refund("R00000004", "P00000010", 100, "", world.receiver.url)
    assert (unpaid.value.code, unpaid.value.retryable) == ("INVALID_REQUEST", False)
    with pytest.raises(ChannelError) as unknown:
        world.channel.refund("R00000005", "P99999998", 100, "", world.receiver.url)
    assert unknown.value.code == "RESOURCE_NOT_EXISTS" and not unknown.value.retryable


def test_the_statement_holds_exactly_the_successful_movements_of_its_shanghai_day(
    make_world: Callable[..., World],
) -> None:
    world = make_world(declines={"payer-broke"})
    day1_last_second = int(dt.datetime(2024, 5, 1, 23, 59, 59, tzinfo=SHANGHAI).timestamp()) * 1000
    day2_start = day1_last_second + 1000
    world.pay("P00000011", 500)  # 2024-05-01 10:00:00
    world.pay("P00000012", 650, payer="payer-broke")  # failed: on no statement
    world.clock.ms = day1_last_second  # 15:59:59 UTC: a UTC day would put it on the wrong day
    world.pay("P00000013", 700)
    world.clock.ms = day2_start
    world.channel.refund("R00000006", "P00000013", 200, "", world.receiver.url)
    eventually(lambda: world.channel.query_refund("R00000006"))
    world.pay("P00000014", 900)

    def rows(day: dt.date) -> list[tuple[int, str, str, str, int]]:
        parsed = parse_statement(world.channel.statement(day), f"sandbox {day}")
        return [(r.ts, r.kind, r.order_id, r.refund_id, r.amount_fen) for r in parsed]

    assert rows(dt.date(2024, 5, 1)) == [
        (MAY_1_10H, "payment", "P00000011", "", 500),
        (day1_last_second, "payment", "P00000013", "", 700),
    ]
    assert rows(dt.date(2024, 5, 2)) == [  # same second: by the provider's id, payments' 42... first
        (day2_start, "payment", "P00000014", "", 900),
        (day2_start, "refund", "P00000013", "R00000006", 200),
    ]
    assert rows(dt.date(2024, 5, 3)) == []


class _Unavailable(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        answer = b'{"code":"SYSTEM_ERROR","message":"try later"}'
        self.send_response(503)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Slow(_Unavailable):
    def do_GET(self) -> None:
        time.sleep(0.5)

    do_POST = do_GET


@pytest.mark.parametrize(("handler", "code"), [(_Unavailable, "SYSTEM_ERROR"), (_Slow, "TIMEOUT")])
def test_provider_errors_and_timeouts_are_retryable(handler: type[BaseHTTPRequestHandler], code: str) -> None:
    server, thread = _serve(handler)
    key = SandboxProvider()
    channel = SandboxChannel(
        f"http://127.0.0.1:{server.server_address[1]}", key.public_key_pem, key.serial, timeout_s=0.1
    )
    calls: list[Callable[[], object]] = [
        lambda: channel.create_payment("P00000015", 100, "payer-1", "parking", "http://127.0.0.1:9/"),
        lambda: channel.query_payment("P00000015"),
        lambda: channel.statement(dt.date(2024, 5, 1)),
    ]
    try:
        for call in calls:
            with pytest.raises(ChannelError) as failed:
                call()
            assert (failed.value.code, failed.value.retryable) == (code, True)
    finally:
        channel.close()
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_unreachable_provider_is_retryable_and_a_bad_request_is_not(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    with pytest.raises(ChannelError) as bad:
        world.channel.create_payment("P 1", 100, "payer-1", "parking", world.receiver.url)  # not a valid id
    assert (bad.value.code, bad.value.retryable) == ("PARAM_ERROR", False)
    server, thread = _serve(_Unavailable)
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()
    key = world.provider
    gone = SandboxChannel(f"http://127.0.0.1:{port}", key.public_key_pem, key.serial, timeout_s=1.0)
    with gone, pytest.raises(ChannelError) as refused:
        gone.query_payment("P00000016")
    assert (refused.value.code, refused.value.retryable) == ("NETWORK", True)


def test_the_sandbox_runs_as_a_process_printing_its_url_and_serial(tmp_path: Path) -> None:
    key_path = tmp_path / "sandbox.pem"
    command = [sys.executable, "-m", "citybrain.scenes.paylater.sandbox", "--port", "0", "--delay-ms", "5"]
    with subprocess.Popen(
        [*command, "--public-key", str(key_path)], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            url, serial = process.stdout.readline().strip(), process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:") and len(serial) == 40
            with SandboxChannel(url, key_path.read_bytes(), serial) as channel:
                channel.create_payment("P00000017", 250, "payer-1", "parking", "")
                notice = eventually(lambda: channel.query_payment("P00000017"))
                assert (notice.status, notice.amount_fen) == ("success", 250)
        finally:
            process.terminate()
            assert process.wait(timeout=20) == 0


# --- verify() against anything: only our own errors ---

_SIGNER = SandboxProvider(clock=Clock(MAY_1_10H))  # never started: a key pair only


def _ed25519(pem: bytes) -> Ed25519PublicKey:
    key = load_pem_public_key(pem)
    assert isinstance(key, Ed25519PublicKey)
    return key


_KEY = _ed25519(_SIGNER.public_key_pem)
_HEADER_NAMES = st.sampled_from(
    ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial", "X-Other"]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


def _valid_envelope() -> dict[str, Any]:
    return {
        "id": "EV-1",
        "create_time": "2024-05-01T10:00:00+08:00",
        "event_type": "TRANSACTION.SUCCESS",
        "resource_type": "plain-resource",
        "resource": {
            "out_trade_no": "P00000001",
            "transaction_id": "4200000000000000000000000001",
            "trade_state": "SUCCESS",
            "success_time": "2024-05-01T10:00:00+08:00",
            "amount": {"total": 100},
        },
    }


@given(headers=st.dictionaries(_HEADER_NAMES, st.text(max_size=60)), body=st.binary(max_size=200))
def test_verify_of_random_headers_and_bodies_raises_only_signature_errors(
    headers: dict[str, str], body: bytes
) -> None:
    with pytest.raises(SignatureError):
        verify_notification("sandbox", _KEY, _SIGNER.serial, headers, body, MAY_1_10H)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from([(), ("resource",), ("resource", "amount")]),
    field=st.sampled_from(
        [
            "id",
            "create_time",
            "event_type",
            "out_trade_no",
            "transaction_id",
            "trade_state",
            "success_time",
            "total",
        ]
    ),
    value=_JSON,
    raw=st.none() | st.binary(max_size=100),
)
def test_verify_of_signed_but_malformed_bodies_raises_only_channel_errors(
    path: tuple[str, ...], field: str, value: Any, raw: bytes | None
) -> None:
    envelope = _valid_envelope()
    target = envelope
    for step in path:
        target = target[step]
    target[field] = value
    body = raw if raw is not None else msgspec.json.encode(envelope)
    try:
        notice = verify_notification(
            "sandbox", _KEY, _SIGNER.serial, _SIGNER.signed_headers(body), body, MAY_1_10H
        )
    except SignatureError as exc:
        pytest.fail(f"a correctly signed body failed its signature: {exc}")
    except ChannelError:
        return
    assert notice.kind == "payment" and notice.amount_fen > 0 and notice.order_id


def test_a_signed_body_with_a_bad_field_is_refused_naming_the_field() -> None:
    cases: list[tuple[Callable[[dict[str, Any]], None], str]] = [
        (lambda e: e.update(event_type="TRANSACTION.MAYBE"), "event_type"),
        (lambda e: e["resource"]["amount"].update(total="100"), "amount.total"),
        (lambda e: e["resource"]["amount"].update(total=0), "amount.total"),
        (lambda e: e["resource"].pop("out_trade_no"), "out_trade_no"),
        (lambda e: e["resource"].update(success_time="yesterday"), "success_time"),
        (lambda e: e["resource"].update(trade_state="PAYERROR"), "disagrees with event_type"),
    ]
    for change, field in cases:
        envelope = _valid_envelope()
        change(envelope)
        body = msgspec.json.encode(envelope)
        with pytest.raises(ChannelError, match=field.replace(".", r"\.")) as refused:
            verify_notification(
                "sandbox", _KEY, _SIGNER.serial, _SIGNER.signed_headers(body), body, MAY_1_10H
            )
        assert not isinstance(refused.value, SignatureError)
    good = msgspec.json.encode(_valid_envelope())
    notice = verify_notification(
        "sandbox", _KEY, _SIGNER.serial, _SIGNER.signed_headers(good), good, MAY_1_10H
    )
    assert notice == Notice(
        "sandbox", "payment", "P00000001", "", "4200000000000000000000000001", 100, "success", MAY_1_10H, ""
    )
