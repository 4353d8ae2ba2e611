"""Payment channels behind one interface, and the client of the sandbox provider.

A channel takes a payment or a refund request, answers at once (accepted or failed) and tells the outcome
later in a signed asynchronous notification; when a notification is lost the platform asks with
``query_payment`` / ``query_refund``, and once a day it downloads the channel's statement for T+1
reconciliation (reconcile.py).

``SandboxChannel`` speaks the sandbox provider's HTTP API (sandbox.py), modelled on WeChat Pay API v3: the
same paths and JSON shapes, notifications signed over ``"{timestamp}\\n{nonce}\\n{body}\\n"`` with the headers
Wechatpay-Timestamp/-Nonce/-Signature/-Serial, a 5-minute window on the timestamp, and the trade bill fetched
in two steps (a download URL and a SHA1 of the file, then the file). Where the sandbox simplifies: Ed25519
instead of SHA256-with-RSA, the notification's ``resource`` in plain JSON instead of AEAD_AES_256_GCM
ciphertext, no merchant request signature (Authorization) and no response signatures.

All money is integer fen; times are epoch milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, Protocol
from urllib.parse import quote

import httpx
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

SKEW_MS = 5 * 60 * 1000  # a notification's timestamp may be this far from now (replay window)


class ChannelError(Exception):
    """A call that got no answer (retryable) or was refused (not retryable; ``code`` says why)."""

    def __init__(self, message: str, *, retryable: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class SignatureError(ChannelError):
    """A notification whose signature, serial or timestamp does not check out: never act on it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, code="SIGN_ERROR")


class OrderAnswer(msgspec.Struct, frozen=True):
    """The immediate answer to a request; ``order_id`` is the platform's id of the request (the order id, or
    the refund id for a refund), ``channel_txn`` the provider's id where it gives one at once."""

    order_id: str
    status: Literal["accepted", "failed"]
    reason: str = ""
    channel_txn: str = ""


class Notice(msgspec.Struct, frozen=True):
    """The outcome of one money movement, from a verified notification or a query. ``ts`` is the epoch ms of
    success_time (of the notification's create_time for a failure; 0 when the provider gives no time)."""

    channel: str
    kind: Literal["payment", "refund"]
    order_id: str
    refund_id: str
    channel_txn: str
    amount_fen: int
    status: Literal["success", "failed"]
    ts: int
    reason: str


class Channel(Protocol):
    """What the platform needs of a payment channel."""

    name: str

    def create_payment(
        self, order_id: str, amount_fen: int, payer: str, description: str, notify_url: str
    ) -> OrderAnswer: ...

    def query_payment(self, order_id: str) -> Notice | None: ...

    def refund(
        self, refund_id: str, order_id: str, amount_fen: int, reason: str, notify_url: str
    ) -> OrderAnswer: ...

    def query_refund(self, refund_id: str) -> Notice | None: ...

    def statement(self, day: dt.date) -> bytes: ...

    def verify(self, headers: Mapping[str, str], body: bytes, now_ms: int) -> Notice: ...


# --- wire shapes: the requests in full, of the answers only the fields we read (the real API adds fields) ---


class Amount(msgspec.Struct):
    total: int = 0
    refund: int = 0  # refunds only
    currency: str = "CNY"


class Payer(msgspec.Struct):
    id: str


class PaymentRequest(msgspec.Struct):
    """The body of POST /v3/pay/transactions/native."""

    out_trade_no: str
    description: str
    notify_url: str
    amount: Amount
    payer: Payer


class RefundRequest(msgspec.Struct):
    """The body of POST /v3/refund/domestic/refunds (``amount.total`` must repeat the order's total)."""

    out_refund_no: str
    out_trade_no: str
    amount: Amount
    reason: str = ""
    notify_url: str = ""


class _Trade(msgspec.Struct):
    out_trade_no: str
    trade_state: str
    amount: Amount
    transaction_id: str = ""
    trade_state_desc: str = ""
    success_time: str = ""


class _Refund(msgspec.Struct):
    out_refund_no: str
    out_trade_no: str
    refund_id: str
    amount: Amount
    status: str = ""  # the query's and the refund request's name for it
    refund_status: str = ""  # the notification's name for it
    success_time: str = ""


class _Envelope(msgspec.Struct):
    id: str
    create_time: str
    event_type: str
    resource_type: str
    resource: msgspec.Raw


class _CodeUrl(msgspec.Struct):
    code_url: str


class _Bill(msgspec.Struct):
    hash_type: str
    hash_value: str
    download_url: str


class _Error(msgspec.Struct):
    code: str = ""
    message: str = ""


# state name -> our status; None while the movement is still open
_TRADE_STATES: dict[str, Literal["success", "failed"] | None] = {
    "SUCCESS": "success",
    "REFUND": "success",  # paid, then (partly) refunded: the payment itself stands
    "PAYERROR": "failed",
    "CLOSED": "failed",
    "REVOKED": "failed",
    "NOTPAY": None,
    "USERPAYING": None,
}
_REFUND_STATES: dict[str, Literal["success", "failed"] | None] = {
    "SUCCESS": "success",
    "ABNORMAL": "failed",
    "CLOSED": "failed",
    "PROCESSING": None,
}
# event_type -> (kind, status) it announces
_EVENTS: dict[str, tuple[Literal["payment", "refund"], Literal["success", "failed"]]] = {
    "TRANSACTION.SUCCESS": ("payment", "success"),
    "TRANSACTION.FAIL": ("payment", "failed"),
    "REFUND.SUCCESS": ("refund", "success"),
    "REFUND.ABNORMAL": ("refund", "failed"),
    "REFUND.CLOSED": ("refund", "failed"),
}
_NOT_FOUND = frozenset({"ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"})


def _epoch_ms(value: str, field: str) -> int:
    """An RFC 3339 time with its offset (2024-05-01T08:00:00+08:00) as epoch ms."""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ChannelError(f"{field}: not an RFC 3339 time: {value[:40]!r}") from None
    if when.tzinfo is None:
        raise ChannelError(f"{field}: time without an offset: {value[:40]!r}")
    return int(when.timestamp() * 1000)


def _positive(value: int, field: str) -> int:
    if value <= 0:
        raise ChannelError(f"{field}: amount must be positive fen, got {value}")
    return value


def _decode(data: bytes, kind: type[Any], where: str) -> Any:
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:  # its message names the path, e.g. `$.amount.total`
        raise ChannelError(f"{where}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ChannelError(f"{where}: not JSON ({exc})") from None


def _trade_notice(channel: str, trade: _Trade, fallback_ts: int, where: str) -> Notice | None:
    """A payment's Notice from the provider's trade object, None while it is open."""
    if trade.trade_state not in _TRADE_STATES:
        raise ChannelError(f"{where}.trade_state: unknown state {trade.trade_state[:40]!r}")
    status = _TRADE_STATES[trade.trade_state]
    if status is None:
        return None
    if not trade.out_trade_no:
        raise ChannelError(f"{where}.out_trade_no: empty")
    if status == "success" and not trade.transaction_id:
        raise ChannelError(f"{where}.transaction_id: empty on a paid trade")
    ts = _epoch_ms(trade.success_time, f"{where}.success_time") if trade.success_time else fallback_ts
    amount = _positive(trade.amount.total, f"{where}.amount.total")
    reason = "" if status == "success" else trade.trade_state_desc or trade.trade_state
    return Notice(
        channel, "payment", trade.out_trade_no, "", trade.transaction_id, amount, status, ts, reason
    )


def _refund_notice(channel: str, refund: _Refund, fallback_ts: int, where: str) -> Notice | None:
    """A refund's Notice from the provider's refund object, None while it is processing."""
    state = refund.refund_status or refund.status
    if state not in _REFUND_STATES:
        raise ChannelError(f"{where}.status: unknown refund state {state[:40]!r}")
    status = _REFUND_STATES[state]
    if status is None:
        return None
    for field in ("out_refund_no", "out_trade_no", "refund_id"):
        if not getattr(refund, field):
            raise ChannelError(f"{where}.{field}: empty")
    ts = _epoch_ms(refund.success_time, f"{where}.success_time") if refund.success_time else fallback_ts
    amount = _positive(refund.amount.refund, f"{where}.amount.refund")
    reason = "" if status == "success" else state
    return Notice(
        channel,
        "refund",
        refund.out_trade_no,
        refund.out_refund_no,
        refund.refund_id,
        amount,
        status,
        ts,
        reason,
    )


def verify_notification(
    channel: str, key: Ed25519PublicKey, serial: str, headers: Mapping[str, str], body: bytes, now_ms: int
) -> Notice:
    """Check a notification's signature headers, then read its body: the signature covers the raw bytes, so
    nothing is parsed before it verifies."""
    lower = {name.lower(): value for name, value in headers.items()}
    wanted: dict[str, str] = {}
    for name in ("timestamp", "nonce", "signature", "serial"):
        value = lower.get(f"wechatpay-{name}")
        if not value:
            raise SignatureError(f"missing header Wechatpay-{name.capitalize()}")
        wanted[name] = value
    if wanted["serial"] != serial:
        raise SignatureError(f"unknown key serial {wanted['serial'][:64]!r}")
    stamp = wanted["timestamp"]
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureError(f"Wechatpay-Timestamp is not epoch seconds: {stamp[:40]!r}")
    if abs(int(stamp) * 1000 - now_ms) > SKEW_MS:
        raise SignatureError(f"Wechatpay-Timestamp {stamp} is more than 5 minutes from now")
    try:
        signature = base64.b64decode(wanted["signature"], validate=True)
        message = b"%s\n%s\n%s\n" % (stamp.encode(), wanted["nonce"].encode(), body)
        key.verify(signature, message)
    except (binascii.Error, ValueError, InvalidSignature):  # UnicodeEncodeError is a ValueError
        raise SignatureError("Wechatpay-Signature does not verify") from None
    envelope: _Envelope = _decode(body, _Envelope, "body")
    if envelope.event_type not in _EVENTS:
        raise ChannelError(f"body.event_type: unknown event {envelope.event_type[:40]!r}")
    kind, status = _EVENTS[envelope.event_type]
    created = _epoch_ms(envelope.create_time, "body.create_time")
    notice: Notice | None
    if kind == "payment":
        notice = _trade_notice(
            channel, _decode(envelope.resource, _Trade, "body.resource"), created, "resource"
        )
    else:
        notice = _refund_notice(
            channel, _decode(envelope.resource, _Refund, "body.resource"), created, "resource"
        )
    if notice is None or notice.status != status:
        raise ChannelError(f"body.resource: state disagrees with event_type {envelope.event_type}")
    return notice


class SandboxChannel:
    """The sandbox provider's client; one ``httpx.Client`` with a timeout, closed by ``close()``."""

    def __init__(
        self,
        base_url: str,
        public_key_pem: bytes,
        serial: str,
        *,
        name: str = "sandbox",
        timeout_s: float = 5.0,
    ) -> None:
        key = load_pem_public_key(public_key_pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the provider's public key must be an Ed25519 key")
        self.name = name
        self._key = key
        self._serial = serial
        self._client = httpx.Client(base_url=base_url, timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SandboxChannel:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(
        self,
        method: str,
        url: str,
        *,
        body: msgspec.Struct | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """One request; None when the provider says the thing asked about does not exist."""
        content = None if body is None else msgspec.json.encode(body)
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        try:
            resp = self._client.request(method, url, content=content, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise ChannelError(f"{method} {url}: timed out ({exc})", retryable=True, code="TIMEOUT") from None
        except httpx.TransportError as exc:
            raise ChannelError(f"{method} {url}: {exc}", retryable=True, code="NETWORK") from None
        if resp.status_code < 400:
            return resp
        try:
            error = msgspec.json.decode(resp.content, type=_Error)
        except msgspec.MsgspecError:
            error = _Error(code=f"HTTP_{resp.status_code}")
        if resp.status_code == 404 and error.code in _NOT_FOUND:
            return None
        retryable = resp.status_code >= 500 or resp.status_code == 429
        raise ChannelError(
            f"{method} {url}: {resp.status_code} {error.code} {error.message}".rstrip(),
            retryable=retryable,
            code=error.code,
        )

    def _read(self, resp: httpx.Response, kind: type[Any], where: str) -> Any:
        try:
            return _decode(resp.content, kind, where)
        except ChannelError as exc:  # a garbled answer: the request may have landed, asking again is safe
            raise ChannelError(str(exc), retryable=True, code="BAD_RESPONSE") from None

    def create_payment(
        self, order_id: str, amount_fen: int, payer: str, description: str, notify_url: str
    ) -> OrderAnswer:
        body = PaymentRequest(order_id, description, notify_url, Amount(total=amount_fen), Payer(payer))
        resp = self._call("POST", "/v3/pay/transactions/native", body=body)
        if resp is None:
            raise ChannelError("create payment: provider answered not found", code="NOT_FOUND")
        self._read(resp, _CodeUrl, "create payment")
        return OrderAnswer(order_id, "accepted")

    def query_payment(self, order_id: str) -> Notice | None:
        resp = self._call("GET", f"/v3/pay/transactions/out-trade-no/{quote(order_id, safe='')}")
        if resp is None:
            return None
        trade: _Trade = self._read(resp, _Trade, "query payment")
        return _trade_notice(self.name, trade, 0, "trade")

    def refund(
        self, refund_id: str, order_id: str, amount_fen: int, reason: str, notify_url: str
    ) -> OrderAnswer:
        amount = Amount(total=self._paid_total(order_id), refund=amount_fen)
        body = RefundRequest(refund_id, order_id, amount, reason, notify_url)
        resp = self._call("POST", "/v3/refund/domestic/refunds", body=body)
        if resp is None:
            raise ChannelError(f"refund {refund_id}: order {order_id} not found", code="RESOURCE_NOT_EXISTS")
        answer: _Refund = self._read(resp, _Refund, "refund")
        if _REFUND_STATES.get(answer.status) == "failed":
            return OrderAnswer(refund_id, "failed", answer.status, answer.refund_id)
        return OrderAnswer(refund_id, "accepted", "", answer.refund_id)

    def _paid_total(self, order_id: str) -> int:
        """The order's total, which the refund request must repeat (the provider checks it)."""
        resp = self._call("GET", f"/v3/pay/transactions/out-trade-no/{quote(order_id, safe='')}")
        if resp is None:
            raise ChannelError(f"refund: order {order_id} not found", code="RESOURCE_NOT_EXISTS")
        trade: _Trade = self._read(resp, _Trade, "query payment")
        return trade.amount.total

    def query_refund(self, refund_id: str) -> Notice | None:
        resp = self._call("GET", f"/v3/refund/domestic/refunds/{quote(refund_id, safe='')}")
        if resp is None:
            return None
        refund: _Refund = self._read(resp, _Refund, "query refund")
        return _refund_notice(self.name, refund, 0, "refund")

    def statement(self, day: dt.date) -> bytes:
        resp = self._call("GET", "/v3/bill/tradebill", params={"bill_date": day.isoformat()})
        if resp is None:
            raise ChannelError(f"no statement for {day}", code="NO_STATEMENT_EXIST")
        bill: _Bill = self._read(resp, _Bill, "trade bill")
        if bill.hash_type != "SHA1":
            raise ChannelError(f"trade bill: unknown hash_type {bill.hash_type[:20]!r}", code="BAD_RESPONSE")
        download = self._call("GET", bill.download_url)
        if download is None:
            raise ChannelError(f"statement of {day}: download link expired", retryable=True, code="EXPIRED")
        if hashlib.sha1(download.content).hexdigest() != bill.hash_value.lower():
            raise ChannelError(f"statement of {day}: SHA1 mismatch", retryable=True, code="HASH_MISMATCH")
        return download.content

    def verify(self, headers: Mapping[str, str], body: bytes, now_ms: int) -> Notice:
        return verify_notification(self.name, self._key, self._serial, headers, body, now_ms)
