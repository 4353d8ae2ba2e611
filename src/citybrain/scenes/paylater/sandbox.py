"""A sandbox payment provider: a real HTTP server that behaves like WeChat Pay API v3, for tests, the
simulator and demos, so the platform's channel code meets the asynchrony and failures a real provider has.

What it does like the real API: the v3 paths and JSON shapes (native order, query by out_trade_no, domestic
refunds, trade bill), idempotent order creation (the same out_trade_no and amount answers the same; another
amount is OUT_TRADE_NO_USED), the outcome decided later and told in a signed notification (headers
Wechatpay-Timestamp, -Nonce, -Signature over ``"{timestamp}\\n{nonce}\\n{body}\\n"``, -Serial) that is retried
until the receiver answers 2xx with ``{"code": "SUCCESS"}``, then given up (the platform must query), and the
trade bill in two steps: ``/v3/bill/tradebill`` gives a download URL and the file's SHA1.

Where it differs, on purpose: Ed25519 instead of SHA256-with-RSA; the notification's resource is plain JSON
(``resource_type`` "plain-resource") where the real one is AEAD_AES_256_GCM ciphertext; no merchant request
signatures; retries after ``retry_ms`` (milliseconds) instead of 15 s ... 6 h; a TRANSACTION.FAIL notification
for a declined payment (the real API only notifies success); statement amounts in fen, not yuan; any day's
bill can be fetched at once. Chaos for tests: ``fail_rate``, ``declines``, ``drop_rate`` (a notification
lost), ``dup_rate`` (sent twice), and statement faults (``inject_ghost``, ``hide_from_statement``,
``alter_statement_amount``). Randomness comes from one seeded ``random.Random``; all state sits in memory
behind one lock.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import heapq
import http.client
import itertools
import logging
import random
import re
import secrets
import signal
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, NamedTuple

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from citybrain.scenes.paylater.channels import PaymentRequest, RefundRequest
from citybrain.scenes.paylater.reconcile import SHANGHAI, StatementRow, write_statement

log = logging.getLogger(__name__)
_ID = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")  # the real API's rule for out_trade_no / out_refund_no
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TRADE_DESC = {"NOTPAY": "未支付", "SUCCESS": "支付成功", "REFUND": "转入退款", "PAYERROR": "支付失败"}
Answer = tuple[int, bytes, str]  # status, body, content type
_EVENTS = {  # (resource, succeeded) -> event_type, summary
    ("transaction", True): ("TRANSACTION.SUCCESS", "支付成功"),
    ("transaction", False): ("TRANSACTION.FAIL", "支付失败"),
    ("refund", True): ("REFUND.SUCCESS", "退款成功"),
    ("refund", False): ("REFUND.ABNORMAL", "退款异常"),
}


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _rfc3339(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms // 1000, SHANGHAI).isoformat()


class Delivery(NamedTuple):
    """One try at delivering a notification: ``outcome`` is "ok", "failed" or "dropped"."""

    notification_id: str
    attempt: int
    outcome: str


class _Reply(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Trade:
    out_trade_no: str
    total: int
    payer: str
    notify_url: str
    transaction_id: str
    code_url: str
    ok: bool  # the outcome, drawn when the order is made so a seed replays the same story
    fail_desc: str
    state: str = "NOTPAY"
    success_ms: int = 0
    reserved: int = 0  # refunds processing or done


@dataclass
class _Refund:
    out_refund_no: str
    out_trade_no: str
    refund_id: str
    amount: int
    notify_url: str
    ok: bool
    created_ms: int
    status: str = "PROCESSING"
    success_ms: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() then joins every handler thread: nothing outlives close()
    block_on_close = True
    provider: SandboxProvider


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.provider._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.provider._handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox %s", format % args)


_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/v3/pay/transactions/native"), "_create_order"),
    ("GET", re.compile(r"/v3/pay/transactions/out-trade-no/([^/]+)"), "_query_order"),
    ("POST", re.compile(r"/v3/refund/domestic/refunds"), "_create_refund"),
    ("GET", re.compile(r"/v3/refund/domestic/refunds/([^/]+)"), "_query_refund"),
    ("GET", re.compile(r"/v3/bill/tradebill"), "_trade_bill"),
    ("GET", re.compile(r"/v3/billdownload/file"), "_download_bill"),
)


def _json(status: int, value: Any) -> Answer:
    return status, msgspec.json.encode(value), "application/json"


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.MsgspecError as exc:
        raise _Reply(400, "PARAM_ERROR", str(exc)) from None


def _check_id(value: str, field: str) -> None:
    if not _ID.fullmatch(value):
        raise _Reply(400, "PARAM_ERROR", f"{field} must be 6-32 of [0-9A-Za-z_-|*]")


class SandboxProvider:
    """The provider; ``start()`` binds (port 0: any free port, see ``url``), ``close()`` stops and joins."""

    def __init__(
        self,
        *,
        seed: int = 0,
        delay_ms: int = 20,
        fail_rate: float = 0.0,
        refund_fail_rate: float = 0.0,
        declines: Iterable[str] = (),
        drop_rate: float = 0.0,
        dup_rate: float = 0.0,
        retry_ms: Sequence[int] = (50, 100, 200, 400, 800),
        notify_timeout_s: float = 2.0,
        clock: Callable[[], int] = wall_ms,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 4,
    ) -> None:
        self.delay_ms, self.fail_rate, self.refund_fail_rate = delay_ms, fail_rate, refund_fail_rate
        self.declines = set(declines)
        self.drop_rate, self.dup_rate, self.retry_ms = drop_rate, dup_rate, tuple(retry_ms)
        self.notify_timeout_s = notify_timeout_s
        self._clock, self._host, self._port, self._workers = clock, host, port, workers
        self._rng = random.Random(seed)
        self._key = Ed25519PrivateKey.generate()
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.serial = hashlib.sha1(raw).hexdigest().upper()  # 40 hex digits, like a certificate serial
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._tasks: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._closed = False
        self._trades: dict[str, _Trade] = {}
        self._refunds: dict[str, _Refund] = {}
        self._bills: dict[str, bytes] = {}
        self._ghosts: list[StatementRow] = []
        self._hidden: set[tuple[str, str]] = set()
        self._altered: dict[tuple[str, str], int] = {}
        self._deliveries: list[Delivery] = []
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self.url = ""

    # --- life cycle ---

    def start(self) -> SandboxProvider:
        server = _Server((self._host, self._port), _Handler)
        server.provider = self
        self._server = server
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host
        self.url = f"http://{host}:{server.server_address[1]}"
        serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._threads = [serve] + [
            threading.Thread(target=self._work, daemon=True) for _ in range(self._workers)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join()
        self._threads = []

    def __enter__(self) -> SandboxProvider:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the scheduler: due tasks (outcomes, deliveries) run on a few worker threads ---

    def _schedule(self, delay_ms: int, task: Callable[[], None]) -> None:
        """Run ``task`` after ``delay_ms``; the caller holds the lock."""
        heapq.heappush(self._tasks, (time.monotonic() + delay_ms / 1000, next(self._seq), task))
        self._wake.notify()

    def _next_task(self) -> Callable[[], None] | None:
        with self._wake:
            while not self._closed:
                if self._tasks and self._tasks[0][0] <= time.monotonic():
                    task = heapq.heappop(self._tasks)[2]
                    if self._tasks:
                        self._wake.notify()  # another worker may take the next one
                    return task
                self._wake.wait(self._tasks[0][0] - time.monotonic() if self._tasks else None)
        return None

    def _work(self) -> None:
        while (task := self._next_task()) is not None:
            try:
                task()
            except Exception:  # one bad task must not stop the provider
                log.exception("sandbox task failed")

    # --- HTTP ---

    def _handle(self, handler: _Handler, method: str) -> None:
        try:
            status, payload, content_type = self._route(handler, method)
        except _Reply as reply:
            status, payload, content_type = _json(
                reply.status, {"code": reply.code, "message": reply.message}
            )
        except Exception:  # a bug here must look like a provider's outage, not a dropped connection
            log.exception("sandbox request failed")
            status, payload, content_type = _json(500, {"code": "SYSTEM_ERROR", "message": "internal error"})
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _route(self, handler: _Handler, method: str) -> Answer:
        parts = urllib.parse.urlsplit(handler.path)
        path, query = urllib.parse.unquote(parts.path), dict(urllib.parse.parse_qsl(parts.query))
        length = handler.headers.get("Content-Length") or "0"
        if not length.isdigit():
            raise _Reply(400, "PARAM_ERROR", "bad Content-Length")
        body = handler.rfile.read(int(length))
        for verb, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match is not None and verb == method:
                answer: Answer = getattr(self, name)(match.groups(), query, body)
                return answer
        raise _Reply(404, "NOT_FOUND", f"no such API: {method} {path}")

    def _create_order(self, groups: Sequence[str], query: dict[str, str], body: bytes) -> Answer:
        order: PaymentRequest = _decode(body, PaymentRequest)
        _check_id(order.out_trade_no, "out_trade_no")
        if order.amount.total <= 0:
            raise _Reply(400, "PARAM_ERROR", "amount.total must be positive fen")
        with self._lock:
            trade = self._trades.get(order.out_trade_no)
            if trade is None:
                trade = self._new_trade(order)
            elif trade.total != order.amount.total:
                raise _Reply(400, "OUT_TRADE_NO_USED", "out_trade_no already used with another amount")
            return _json(200, {"code_url": trade.code_url})

    def _new_trade(self, order: PaymentRequest) -> _Trade:
        ok, desc = True, ""
        if order.payer.id in self.declines:
            ok, desc = False, "payer declined"
        elif self._rng.random() < self.fail_rate:
            ok, desc = False, "payment failed"
        txn = f"42{self._rng.randrange(10**26):026d}"
        code_url = f"weixin://wxpay/bizpayurl?pr={self._rng.getrandbits(40):010x}"
        trade = _Trade(
            order.out_trade_no, order.amount.total, order.payer.id, order.notify_url, txn, code_url, ok, desc
        )
        self._trades[trade.out_trade_no] = trade
        self._schedule(self.delay_ms, lambda: self._settle_trade(trade))
        return trade

    def _trade_json(self, trade: _Trade) -> dict[str, Any]:
        paid = trade.state in ("SUCCESS", "REFUND")
        out: dict[str, Any] = {
            "out_trade_no": trade.out_trade_no,
            "trade_type": "NATIVE",
            "trade_state": trade.state,
            "trade_state_desc": trade.fail_desc or _TRADE_DESC[trade.state],
            "amount": {"total": trade.total, "payer_total": trade.total if paid else 0, "currency": "CNY"},
            "payer": {"openid": trade.payer},
        }
        if trade.state != "NOTPAY":
            out["transaction_id"] = trade.transaction_id
        if paid:
            out["success_time"] = _rfc3339(trade.success_ms)
        return out

    def _settle_trade(self, trade: _Trade) -> None:
        with self._lock:
            trade.state = "SUCCESS" if trade.ok else "PAYERROR"
            trade.success_ms = self._clock() if trade.ok else 0
            self._notify(trade.notify_url, "transaction", trade.ok, self._trade_json(trade))

    def _query_order(self, groups: Sequence[str], query: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            trade = self._trades.get(groups[0])
            if trade is None:
                raise _Reply(404, "ORDER_NOT_EXIST", "order not found")
            return _json(200, self._trade_json(trade))

    def _create_refund(self, groups: Sequence[str], query: dict[str, str], body: bytes) -> Answer:
        ask: RefundRequest = _decode(body, RefundRequest)
        _check_id(ask.out_refund_no, "out_refund_no")
        with self._lock:
            known = self._refunds.get(ask.out_refund_no)
            if known is not None:  # a retried request answers the same; a different one is refused
                if (known.out_trade_no, known.amount) != (ask.out_trade_no, ask.amount.refund):
                    raise _Reply(400, "INVALID_REQUEST", "out_refund_no already used for another refund")
                return _json(200, self._refund_json(known, "status"))
            trade = self._trades.get(ask.out_trade_no)
            if trade is None:
                raise _Reply(404, "RESOURCE_NOT_EXISTS", "order not found")
            if trade.state not in ("SUCCESS", "REFUND"):
                raise _Reply(400, "INVALID_REQUEST", f"order not paid (trade_state {trade.state})")
            if ask.amount.total != trade.total or ask.amount.refund <= 0:
                raise _Reply(400, "PARAM_ERROR", "amount.total must be the order's, amount.refund positive")
            if ask.amount.refund > trade.total - trade.reserved:
                raise _Reply(400, "NOT_ENOUGH", f"only {trade.total - trade.reserved} fen left to refund")
            ok = self._rng.random() >= self.refund_fail_rate
            refund_id = f"50{self._rng.randrange(10**26):026d}"
            refund = _Refund(
                ask.out_refund_no,
                trade.out_trade_no,
                refund_id,
                ask.amount.refund,
                ask.notify_url,
                ok,
                self._clock(),
            )
            trade.reserved += refund.amount
            self._refunds[refund.out_refund_no] = refund
            self._schedule(self.delay_ms, lambda: self._settle_refund(refund))
            return _json(200, self._refund_json(refund, "status"))

    def _refund_json(self, refund: _Refund, state_field: str) -> dict[str, Any]:
        """The refund object; the query calls its state ``status``, the notification ``refund_status``."""
        trade = self._trades[refund.out_trade_no]
        out: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": trade.transaction_id,
            "out_trade_no": refund.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": _rfc3339(refund.created_ms),
            state_field: refund.status,
            "amount": {
                "total": trade.total,
                "refund": refund.amount,
                "payer_total": trade.total,
                "payer_refund": refund.amount,
                "currency": "CNY",
            },
        }
        if refund.status == "SUCCESS":
            out["success_time"] = _rfc3339(refund.success_ms)
        return out

    def _settle_refund(self, refund: _Refund) -> None:
        with self._lock:
            trade = self._trades[refund.out_trade_no]
            if refund.ok:
                refund.status, refund.success_ms, trade.state = "SUCCESS", self._clock(), "REFUND"
            else:
                refund.status = "ABNORMAL"
                trade.reserved -= refund.amount  # the money never left: it may be refunded again
            self._notify(refund.notify_url, "refund", refund.ok, self._refund_json(refund, "refund_status"))

    def _query_refund(self, groups: Sequence[str], query: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            refund = self._refunds.get(groups[0])
            if refund is None:
                raise _Reply(404, "RESOURCE_NOT_EXISTS", "refund not found")
            return _json(200, self._refund_json(refund, "status"))

    def _trade_bill(self, groups: Sequence[str], query: dict[str, str], body: bytes) -> Answer:
        text = query.get("bill_date", "")
        try:
            day = dt.date.fromisoformat(text) if _DATE.fullmatch(text) else None
        except ValueError:
            day = None
        if day is None:
            raise _Reply(400, "PARAM_ERROR", "bill_date must be YYYY-MM-DD")
        data = self.statement(day)
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._bills[token] = data
        url = f"{self.url}/v3/billdownload/file?token={token}"
        return _json(
            200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(data).hexdigest(), "download_url": url}
        )

    def _download_bill(self, groups: Sequence[str], query: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            data = self._bills.pop(query.get("token", ""), None)  # one download per link
        if data is None:
            raise _Reply(404, "RESOURCE_NOT_EXISTS", "download link unknown or used")
        return 200, data, "text/csv; charset=utf-8"

    # --- notifications ---

    def signed_headers(self, body: bytes) -> dict[str, str]:
        """The signature headers the provider sends with ``body`` (also for tests that forge or tamper)."""
        stamp, nonce = str(self._clock() // 1000), secrets.token_hex(16)
        signature = self._key.sign(b"%s\n%s\n%s\n" % (stamp.encode(), nonce.encode(), body))
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": base64.b64encode(signature).decode(),
            "Wechatpay-Serial": self.serial,
        }

    def _notify(self, url: str, original_type: str, ok: bool, resource: dict[str, Any]) -> None:
        """Queue the notification of an outcome (lost or doubled as the chaos settings say); lock held."""
        if not url:
            return
        event, summary = _EVENTS[original_type, ok]
        note_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        envelope = {
            "id": note_id,
            "create_time": _rfc3339(self._clock()),
            "resource_type": "plain-resource",
            "event_type": event,
            "summary": summary,
            "resource": {"original_type": original_type, **resource},
        }
        body = msgspec.json.encode(envelope)
        dropped, doubled = self._rng.random() < self.drop_rate, self._rng.random() < self.dup_rate
        if dropped:
            self._deliveries.append(Delivery(note_id, 0, "dropped"))
            return
        for _ in range(2 if doubled else 1):
            self._schedule(0, lambda: self._deliver(url, body, note_id, 0))

    def _deliver(self, url: str, body: bytes, note_id: str, attempt: int) -> None:
        ok = self._post(url, body, self.signed_headers(body))
        with self._lock:
            self._deliveries.append(Delivery(note_id, attempt, "ok" if ok else "failed"))
            if not ok and attempt < len(self.retry_ms) and not self._closed:
                self._schedule(self.retry_ms[attempt], lambda: self._deliver(url, body, note_id, attempt + 1))

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> bool:
        """True when the receiver took it: 2xx and ``{"code": "SUCCESS"}``."""
        parts = urllib.parse.urlsplit(url)
        connection_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = None
        try:
            connection = connection_type(parts.hostname or "", parts.port, timeout=self.notify_timeout_s)
            connection.request(
                "POST", target, body=body, headers={**headers, "Content-Type": "application/json"}
            )
            response = connection.getresponse()
            answer = response.read()
            if not 200 <= response.status < 300:
                return False
            decoded = msgspec.json.decode(answer)
            return isinstance(decoded, dict) and decoded.get("code") == "SUCCESS"
        except (OSError, ValueError, http.client.HTTPException, msgspec.DecodeError):
            return False
        finally:
            if connection is not None:
                connection.close()

    def deliveries(self) -> list[Delivery]:
        """Every delivery try so far, in order."""
        with self._lock:
            return list(self._deliveries)

    # --- the statement and its chaos ---

    def statement(self, day: dt.date) -> bytes:
        """The trade bill of ``day`` (Asia/Shanghai): the day's successful payments and refunds, by time."""
        start = int(dt.datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).timestamp()) * 1000
        end = start + 86_400_000
        with self._lock:
            rows = [
                StatementRow(t.success_ms, t.transaction_id, t.out_trade_no, "", "payment", t.total)
                for t in self._trades.values()
                if t.success_ms and start <= t.success_ms < end
            ]
            rows += [
                StatementRow(r.success_ms, r.refund_id, r.out_trade_no, r.out_refund_no, "refund", r.amount)
                for r in self._refunds.values()
                if r.status == "SUCCESS" and start <= r.success_ms < end
            ]
            rows += [row for row in self._ghosts if start <= row.ts < end]
            rows = [
                msgspec.structs.replace(
                    row, amount_fen=self._altered.get((row.order_id, row.refund_id), row.amount_fen)
                )
                for row in rows
                if (row.order_id, row.refund_id) not in self._hidden
            ]
        rows.sort(key=lambda row: (row.ts, row.channel_txn))
        return write_statement(rows)

    def inject_ghost(self, amount_fen: int, ts: int) -> StatementRow:
        """A debit only the channel knows (no order of the platform's), on the statement of its day."""
        with self._lock:
            order_id = f"GHOST{self._rng.getrandbits(40):010x}"
            row = StatementRow(
                ts, f"42{self._rng.randrange(10**26):026d}", order_id, "", "payment", amount_fen
            )
            self._ghosts.append(row)
        return row

    def hide_from_statement(self, order_id: str, refund_id: str = "") -> None:
        """Leave a movement off the statement (the payment of ``order_id``, or its refund ``refund_id``)."""
        with self._lock:
            self._hidden.add((order_id, refund_id))

    def alter_statement_amount(self, order_id: str, amount_fen: int, refund_id: str = "") -> None:
        """Show a movement on the statement with another amount."""
        with self._lock:
            self._altered[(order_id, refund_id)] = amount_fen


_FLAGS: tuple[tuple[str, type, Any], ...] = (  # main()'s options: flag, type, default
    ("--host", str, "127.0.0.1"),
    ("--port", int, 0),
    ("--seed", int, 0),
    ("--delay-ms", int, 200),
    ("--fail-rate", float, 0.0),
    ("--refund-fail-rate", float, 0.0),
    ("--drop-rate", float, 0.0),
    ("--dup-rate", float, 0.0),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the provider as a process: prints its URL, then its key serial, one a line; stops on SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m citybrain.scenes.paylater.sandbox", description=__doc__)
    parser.add_argument("--public-key", type=Path, required=True, help="where to write the public key (PEM)")
    parser.add_argument("--decline", action="append", default=[], help="a payer id whose payments fail")
    for flag, kind, default in _FLAGS:
        parser.add_argument(flag, type=kind, default=default)
    options = vars(parser.parse_args(argv))
    key_path: Path = options.pop("public_key")
    options["declines"] = options.pop("decline")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with SandboxProvider(**options) as provider:
        key_path.write_bytes(provider.public_key_pem)
        print(provider.url, flush=True)
        print(provider.serial, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
