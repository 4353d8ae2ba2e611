"""先诊疗后付费 (treat first, pay later): clinic credit on the scene's double-entry ledger.

A patient (the id the hospital's HIS and the credit platform share) gets a credit line from a
credit score (``CreditRating``: the score's band in ``ClinicSettings.bands``, like 厦门's 500-3,000
yuan by 白鹭分 band; below the lowest band, no credit). A hospital's bill (``ClinicBill``) has an
insured part (医保统筹, settled with the insurer: ``InsurerSettled``) and a self-pay part, which
goes on credit when the patient has a line, is not suspended, and the part fits what is left of
the line; it is then due ``settle_days`` after the visit, interest-free (杭州 医信付: 10 natural
days). Otherwise the patient pays it at the hospital's counter, outside the platform.

A bill's life (the processor ``paylater.clinic``, keyed by patient)::

    on credit ----------------------------> open --repaid in full--> paid
    open --settle_days pass (wall clock)--> overdue (a default; reminded every remind_every_days)
    overdue --repaid in full--------------> paid
    no line / suspended / over the line --> counter   (pays at the counter; only the insurer's part booked)
    no self-pay part ---------------------> covered   (the insurer pays it all)

A patient with ``suspend_after`` defaults or more and an overdue bill is suspended: no new credit
until every overdue bill is repaid (the defaults count stays: 厦门 lowers the score from 3). A
bill is overdue by the wall clock, since nothing else happens when a patient does not pay; a
repayment whose provider time is before the due time is on time even if its notice came after
(a provider retrying, a notice found at T+1 reconciliation): that default is taken back.

A bill is the hospital's: a HIS numbers its bills only within its hospital, so two hospitals may
both send bill ``MZ1``. Everywhere the platform names a bill it names the hospital too: the bill's
key is ``<hospital>/<bill>`` (``bill_key``; a bill id has no ``/``, a hospital id none either), and
its short ref in provider orders (``bill_ref``) is a hash of that key.

Ledger transactions (fen; debits positive; zero lines omitted, so a bill of 0 books nothing):

* ``clinic:<hospital>/<bill>``: ``insurer:<insurer>`` +insured, ``patient:<id>`` +the self-pay part
  on credit, ``hospital:<hospital>`` -(both): the bill (a self-pay part paid at the counter is not
  booked);
* ``insured:<hospital>/<bill>``: ``clearing:insurer`` +amount, ``insurer:<insurer>`` -amount: the
  insurer paid;
* ``repay:<movement>``: ``channel:<c>`` +amount, ``patient:<id>`` -what the bill owed of it,
  ``clearing:refunds`` -the rest: a repayment (a ``PaymentNotice`` of a ``CB-`` order), any channel;
* ``refund:<refund>``: ``clearing:refunds`` +amount, ``channel:<c>`` -amount: the provider confirmed
  a refund of a ``CB-`` order.

A repayment is applied once per provider movement; what exceeds what the bill still owes (or pays
a bill the patient does not owe, or no known bill) is booked to ``clearing:refunds``, alerted
(``paylater.clinic_overpaid``) and refunded at once, as parking refunds a duplicate payment: the
processor records the refund order ``CB-R<hash of the movement>`` (``clinic_refund_id``: one per
movement, however often its notice comes; named as a clinic order so paylater.sessions leaves its
answers here) of the excess, to the channel and the provider order that paid it, and the
dispatcher places it. The provider's refund notice names the order it refunds (``CB-``), so it
comes to the patient's partition as the repayment's did; ``refund:<refund>`` is booked once and
the alert resolves. A refund the provider refuses (when it is placed or in its notice) raises
``paylater.refund_failed``: the money stays in ``clearing:refunds``, and the overpayment's alert
stays open, until someone returns it by hand.

The cashier's repayment orders are recorded (``OrderAnswer``, ``requested``) before they are placed;
the processor keeps them until the provider's outcome comes and publishes them per partition as
``paylater.clinic_pending``: the cashier reuses an open one instead of placing a second, and the
payment gateway's dispatcher places one the platform died before placing and asks the provider
after one whose notice is late, as it does for parking's ``paylater.pending``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import msgspec

from citybrain import sdk
from citybrain.scenes.paylater import rules
from citybrain.scenes.paylater.events import Fen, Name, OrderAnswer, PaymentNotice
from citybrain.scenes.paylater.sessions import refund_id

DAY_MS = 86_400_000
BEIJING = ZoneInfo("Asia/Shanghai")
CLINIC_ORDER = "CB-"  # provider orders of clinic bills: CB-<bill ref>-<suffix> (32 characters at most)
SEEN_KEPT = 1_000  # bills, movements and insurer settlements remembered per patient (dedupe)
EARLY_KEPT = 100  # insurer settlements of bills not seen yet, kept per patient
OWING = ("open", "overdue")  # a bill on credit not repaid yet
UNKNOWN = "unknown"  # the key of a notice whose bill the platform does not know

Status = Literal["open", "overdue", "paid", "counter", "covered"]
EpochMs = Annotated[int, msgspec.Meta(ge=sdk.MIN_TS, le=sdk.MAX_TS, description="epoch milliseconds, UTC")]
BILL_ID = r"^[0-9A-Za-z_.\-]+$"
HOSPITAL_ID = r"^[^/]+$"  # no '/': a path segment (/clinic/hospitals/{hospital}/...), part of a bill's key
BillId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=BILL_ID, description="the HIS bill id")
]
HospitalId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=HOSPITAL_ID, description="the hospital (no '/')")
]
EVENT_ID_MAX = 128  # sdk: an event id's length at most


# -- settings --------------------------------------------------------------------------------------
def _bands() -> list[tuple[int, int]]:
    return [(550, 50_000), (600, 100_000), (650, 200_000), (700, 300_000)]


class ClinicSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[scenes.paylater.clinic]``: credit lines by score band, the interest-free window, the
    reminders and when a patient is suspended."""

    bands: list[tuple[int, int]] = msgspec.field(default_factory=_bands)  # [min score, line fen], ascending
    settle_days: int = 10  # a bill on credit is due this many days (24 h each) after the visit
    remind_every_days: int = 3  # an overdue bill is reminded again this often while unpaid
    suspend_after: int = 3  # defaults from which a patient with an overdue bill gets no new credit
    bills_kept: int = 20  # closed bills (paid, at the counter, covered) kept per patient in the state

    def __post_init__(self) -> None:
        scores = [s for s, _ in self.bands]
        if scores != sorted(set(scores)):
            raise ValueError(f"clinic.bands {self.bands}: scores must be distinct and ascending")
        if any(line < 0 for _, line in self.bands):
            raise ValueError(f"clinic.bands {self.bands}: a line is fen, 0 or more")
        for name in ("settle_days", "remind_every_days", "suspend_after"):
            if getattr(self, name) < 1:
                raise ValueError(f"clinic.{name} must be 1 or more")
        if self.bills_kept < 0:
            raise ValueError("clinic.bills_kept must be 0 or more")


def clinic_settings(settings: object) -> ClinicSettings:
    """The clinic part of the scene's settings (the defaults until the scene's settings have it)."""
    found = getattr(settings, "clinic", None)
    return found if isinstance(found, ClinicSettings) else ClinicSettings()


def line_for(score: int, bands: Sequence[tuple[int, int]]) -> int:
    """The credit line (fen) of ``score``: the line of the highest band it reaches; 0 below all."""
    line = 0
    for floor, fen in bands:
        if score >= floor:
            line = fen
    return line


def credit_decision(line: int, used: int, suspended: bool, self_pay: int) -> tuple[Status, str]:
    """Whether a bill's self-pay part goes on credit: (status, reason). The processor decides so;
    the API tells the hospital the same from the patient's last published state."""
    if self_pay == 0:
        return "covered", "no_self_pay"
    if suspended:
        return "counter", "suspended"
    if line <= 0:
        return "counter", "no_line"
    if self_pay > line - used:
        return "counter", "over_line"
    return "open", "on_credit"


def beijing(ts: int) -> str:
    """An epoch-ms time as Beijing wall time, for people (a due date on a receipt)."""
    return dt.datetime.fromtimestamp(ts / 1000, BEIJING).strftime("%Y-%m-%d %H:%M")


# -- a bill's names --------------------------------------------------------------------------------
def bill_key(hospital: str, bill: str) -> str:
    """A bill's identity on the platform: ``<hospital>/<bill>`` (a HIS's bill ids are unique only
    within its hospital). A bill id has no ``/``, so the key splits back unambiguously."""
    return f"{hospital}/{bill}"


def split_key(key: str) -> tuple[str, str]:
    """(hospital, bill) of a bill's key."""
    hospital, _, bill = key.rpartition("/")
    return hospital, bill


def bill_event_id(hospital: str, bill: str) -> str:
    """The id of a bill's event: ``clinic-bill:<hospital>/<bill>``, or, when that is longer than an
    event id may be, a 128-bit hash of the key (no ``/`` in it: the two forms never meet)."""
    readable = f"clinic-bill:{bill_key(hospital, bill)}"
    if len(readable) <= EVENT_ID_MAX:
        return readable
    return "clinic-bill:" + hashlib.blake2b(bill_key(hospital, bill).encode(), digest_size=16).hexdigest()


def repayment_subject(key: str) -> str:
    """What the payer's provider shows for a repayment of the bill ``key`` (127 characters at most)."""
    hospital, bill = split_key(key)
    return f"诊疗费 {hospital} {bill}"[:127]


# -- provider orders -------------------------------------------------------------------------------
def bill_ref(hospital: str, bill: str) -> str:
    """A bill's short id in provider orders (an order id is at most 32 of [0-9A-Za-z_-|*]; a HIS
    bill id may be longer): 16 hex characters of the bill's key, stable."""
    return hashlib.blake2b(bill_key(hospital, bill).encode(), digest_size=8).hexdigest()


def clinic_order(hospital: str, bill: str, suffix: str) -> str:
    """A repayment order of ``bill`` of ``hospital``: ``CB-<ref>-<suffix>`` (suffix: 12 characters
    at most)."""
    return f"{CLINIC_ORDER}{bill_ref(hospital, bill)}-{suffix}"


def clinic_refund_id(movement: str) -> str:
    """The refund of what the provider movement ``movement`` paid over its bill: ``CB-R<hash>`` (20
    characters), one per movement whatever repeats its notice. ``CB-`` as the cashier's orders:
    paylater.sessions leaves the answers to placing it to this processor."""
    return CLINIC_ORDER + refund_id(movement)


def ref_of_order(order: str) -> str:
    return order.removeprefix(CLINIC_ORDER).split("-", 1)[0]


def patient_of_order(store: sdk.ReadModel, order: str) -> str:
    """The patient (the partition key) a ``CB-`` order's notice goes to: the patient of the bill,
    as the processor published it (``paylater.clinic_bill``, keyed by the bill's ref); ``unknown``
    for a bill never seen (the processor books such money to clearing:refunds)."""
    rows = store.states("paylater.clinic_bill", ref_of_order(order))
    return str(rows[0]["data"]["patient"]) if rows else UNKNOWN


# -- events ----------------------------------------------------------------------------------------
class CreditRating(sdk.Event, tag="paylater.credit_rating"):
    """A patient's credit score from the credit platform (e.g. 杭州 公共信用信息平台, 厦门 白鹭分),
    keyed by the patient; the latest ``as_of`` wins, and gives the line by band."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # through its route (POST /clinic/...), which checks it
    score: Annotated[int, msgspec.Meta(ge=0, le=10_000)]
    source: Name
    as_of: EpochMs


class ClinicBill(sdk.Event, tag="paylater.clinic_bill"):
    """A hospital's bill of a visit (from its HIS), keyed by the patient: the insured part is
    settled with the insurer, the self-pay part is the patient's (on credit, or at the counter)."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # through its route (POST /clinic/...), which checks it
    hospital: HospitalId
    bill: BillId  # the HIS's id, unique within its hospital
    visit_ts: EpochMs
    total_fen: Fen
    insured_fen: Fen = 0  # 医保统筹: the insurer pays it
    self_pay_fen: Fen = 0  # the patient's part
    insurer: Annotated[str, msgspec.Meta(max_length=64)] = ""  # who pays the insured part

    def __post_init__(self) -> None:
        if self.total_fen != self.insured_fen + self.self_pay_fen:
            raise ValueError(
                f"total_fen {self.total_fen} is not insured_fen {self.insured_fen} + self_pay_fen "
                f"{self.self_pay_fen}"
            )
        if self.insured_fen and not self.insurer:
            raise ValueError("insurer: a bill with an insured part names its insurer")


class InsurerSettled(sdk.Event, tag="paylater.insurer_settled"):
    """The insurer paid its part of a bill (keyed by the patient of the bill; the bill is named by
    its hospital and its HIS id, as the hospital sent it)."""

    scene: ClassVar[str] = "paylater"
    insurer: Name
    hospital: HospitalId
    bill: BillId
    amount_fen: Fen


ClinicEvent = CreditRating | ClinicBill | InsurerSettled | PaymentNotice | OrderAnswer

# -- alert rules -----------------------------------------------------------------------------------
OVERDUE = sdk.rule(
    "paylater", "clinic_overdue", "就医欠款逾期 / clinic bill overdue", clear="0s", update_every="1h",
    doc="A bill on credit was not repaid within settle_days of the visit: a default of the patient. "
    "The alert (key <patient>:<hospital>/<bill>) reminds again every remind_every_days while unpaid and "
    "resolves when the bill is repaid in full.",
)  # fmt: skip
OVERPAID = sdk.rule(
    "paylater", "clinic_overpaid", "就医还款多付待退 / clinic overpayment to refund", severity="info",
    clear="0s",
    doc="A repayment paid more than its bill owed, a bill already paid, or a bill the platform does not "
    "know: the excess is held in clearing:refunds and refunded at once to the channel that took it "
    "(the refund order is in the alert's data). Key: the provider order; resolves when the provider "
    "confirms the refund. A refund the provider refuses raises paylater.refund_failed and this alert "
    "stays open: the money is still held, to return by hand.",
)  # fmt: skip
SUSPENDED = sdk.rule(
    "paylater", "clinic_suspended", "先诊疗后付费暂停 / clinic credit suspended", severity="info", clear="0s",
    doc="A patient with suspend_after defaults or more has an overdue bill: new bills are paid at the "
    "counter until every overdue bill is repaid (the defaults stay counted).",
)  # fmt: skip
RULES = (OVERDUE, OVERPAID, SUSPENDED)


# -- state -----------------------------------------------------------------------------------------
class Bill(msgspec.Struct):
    hospital: str
    visit_ts: int
    total: int
    insured: int
    self_pay: int
    insurer: str
    ref: str  # bill_ref(hospital, bill): how provider orders name it
    status: Status
    reason: str = ""  # on_credit, or why not: no_line, suspended, over_line, no_self_pay
    amount: int = 0  # fen on credit (the self-pay part of a bill on credit)
    paid: int = 0  # fen repaid
    due_ts: int = 0
    reminders: int = 0
    overdue_ts: int = 0  # when it was found overdue (wall clock)
    paid_ts: int = 0
    insured_paid: int = 0  # fen the insurer paid
    repayments: list[str] = msgspec.field(default_factory=list)  # provider movements applied

    @property
    def owed(self) -> int:
        return self.amount - self.paid if self.status in OWING else 0


class Patient(msgspec.Struct):
    score: int | None = None  # None: never rated (no credit)
    source: str = ""
    as_of: int = 0
    line: int = 0  # fen
    defaults: int = 0  # bills that went overdue, ever
    suspended: bool = False
    bills: dict[str, Bill] = msgspec.field(default_factory=dict)  # by the bill's key, <hospital>/<bill>
    early_insured: dict[str, int] = msgspec.field(default_factory=dict)  # bill (key) not seen yet -> fen
    seen: list[str] = msgspec.field(default_factory=list)  # bill:, insured:, movements, refund: applied

    def used(self) -> int:
        """Fen on credit not repaid yet."""
        return sum(b.owed for b in self.bills.values())

    def bill_of_ref(self, ref: str) -> tuple[str, Bill] | None:
        return next(((bid, b) for bid, b in self.bills.items() if b.ref == ref), None)


class ClinicOrder(msgspec.Struct):
    """A cashier's repayment order, or the refund of an overpayment, open at a provider until its
    outcome is known."""

    patient: str
    bill: str  # the bill's key, <hospital>/<bill> ("" for a refund of money of no known bill)
    amount: int
    channel: str
    status: str  # requested (recorded; placed, or about to be) | accepted (the provider took it)
    ts: int  # when it was recorded
    kind: str = "payment"  # payment (a repayment) | refund (of what a repayment paid over its bill)
    refund_of: str = ""  # a refund: the provider order whose money it returns


class ClinicState(msgspec.Struct):
    patients: dict[str, Patient] = msgspec.field(default_factory=dict)
    # a heap of (wall ms, patient, bill key): when a bill on credit is next looked at (its due
    # time, then each reminder); stale entries (bills repaid) are dropped when they surface
    due: list[tuple[int, str, str]] = msgspec.field(default_factory=list)
    orders: dict[str, ClinicOrder] = msgspec.field(default_factory=dict)  # open repayments and refunds


class BillView(msgspec.Struct):
    bill: str
    patient: str
    hospital: str
    ref: str
    status: str
    reason: str
    visit_ts: int
    total_fen: int
    insured_fen: int
    self_pay_fen: int
    insurer: str
    credit_fen: int  # on credit
    paid_fen: int
    owed_fen: int
    due_ts: int
    due: str  # Beijing time; empty when not on credit
    reminders: int
    insured_paid_fen: int
    key: str = ""  # <hospital>/<bill>: the bill's name on the platform


class PatientView(msgspec.Struct):
    """A patient as the hospital's desk sees it (entity state ``paylater.patient``)."""

    patient: str
    score: int | None = None
    source: str = ""
    rated_as_of: int = 0
    line_fen: int = 0
    used_fen: int = 0
    available_fen: int = 0
    suspended: bool = False
    defaults: int = 0
    overdue: int = 0  # bills overdue now
    open_bills: list[str] = msgspec.field(default_factory=list)  # open or overdue (bill keys)
    bills: dict[str, BillView] = msgspec.field(default_factory=dict)  # every bill kept, by key


def bill_view(patient: str, key: str, b: Bill) -> BillView:
    return BillView(
        split_key(key)[1], patient, b.hospital, b.ref, b.status, b.reason, b.visit_ts, b.total, b.insured,
        b.self_pay, b.insurer, b.amount, b.paid, b.owed, b.due_ts, beijing(b.due_ts) if b.due_ts else "",
        b.reminders, b.insured_paid, key,
    )  # fmt: skip


def patient_view(key: str, p: Patient) -> PatientView:
    used = p.used()
    bills = {bid: bill_view(key, bid, b) for bid, b in sorted(p.bills.items(), key=lambda x: x[1].visit_ts)}
    return PatientView(
        key, p.score, p.source, p.as_of, p.line, used, max(0, p.line - used), p.suspended, p.defaults,
        sum(b.status == "overdue" for b in p.bills.values()),
        [bid for bid, b in bills.items() if b.status in OWING], bills,
    )  # fmt: skip


def _builtins(obj: object) -> dict[str, Any]:
    built = msgspec.to_builtins(obj)
    assert isinstance(built, dict)
    return built


# -- the processor ---------------------------------------------------------------------------------
class Clinic(sdk.Processor[ClinicState, ClinicEvent]):
    """``paylater.clinic``: every patient's line, bills and repayments, and the cashier's open
    orders, in event order; overdue bills found by the wall clock (``tick``), since nothing else
    happens when a patient does not pay. The state, the ledger postings and the checkpoint are
    committed together."""

    name = "paylater.clinic"
    kinds = (CreditRating, ClinicBill, InsurerSettled, PaymentNotice, OrderAnswer)
    state_type = ClinicState
    keyed = ("patients", "orders")  # a commit writes only the patients and orders its batch touched

    def __init__(self, partition: int, settings: Any, _world: object = None) -> None:
        super().__init__(partition, settings)
        self.cfg = clinic_settings(settings)
        self._touched: dict[str, set[str]] = {}  # patient -> bills (keys) changed in this batch or tick
        self._orders = False  # the open orders changed since they were last published
        self._ts = 0  # the batch's latest event time (the time of the states it writes)

    def process(self, batch: Sequence[tuple[int, ClinicEvent]], out: sdk.Emitter) -> None:
        self._touched = {}
        for _, ev in batch:
            self._ts = max(self._ts, ev.ts)
            self._handlers[type(ev)](self, ev, out)
        self._publish(self._ts, out)

    def forget(self, key: str) -> bool:
        """The patient's entry, and the patient's open orders (kept by order id)."""
        found = super().forget(key)
        mine = [oid for oid, o in self.state.orders.items() if o.patient == key]
        for oid in mine:
            del self.state.orders[oid]
        self._orders = self._orders or bool(mine)
        return found or bool(mine)

    def _patient(self, key: str, bill: str = "") -> Patient:
        bills = self._touched.setdefault(key, set())
        if bill:
            bills.add(bill)
        return self.state.patients.setdefault(key, Patient())

    @staticmethod
    def _seen(p: Patient, mark: str) -> bool:
        """Whether ``mark`` was applied already; remembers it when not."""
        if mark in p.seen:
            return True
        p.seen.append(mark)
        del p.seen[:-SEEN_KEPT]
        return False

    # -- events ----------------------------------------------------------------------------------
    def _rating(self, ev: CreditRating, out: sdk.Emitter) -> None:
        p = self._patient(ev.key)
        if p.score is not None and ev.as_of < p.as_of:
            return  # an older rating arriving late
        p.score, p.source, p.as_of = ev.score, ev.source, ev.as_of
        p.line = line_for(ev.score, self.cfg.bands)

    def _bill(self, ev: ClinicBill, out: sdk.Emitter) -> None:
        key = bill_key(ev.hospital, ev.bill)
        p = self._patient(ev.key, key)
        if key in p.bills or self._seen(p, f"bill:{key}"):
            return  # a bill is booked once (the HIS may post it again)
        status, reason = credit_decision(p.line, p.used(), p.suspended, ev.self_pay_fen)
        credit = ev.self_pay_fen if status == "open" else 0
        b = Bill(ev.hospital, ev.visit_ts, ev.total_fen, ev.insured_fen, ev.self_pay_fen, ev.insurer,
                 bill_ref(ev.hospital, ev.bill), status, reason, amount=credit,
                 insured_paid=p.early_insured.pop(key, 0))  # fmt: skip
        if credit:
            b.due_ts = ev.visit_ts + self.cfg.settle_days * DAY_MS
            heapq.heappush(self.state.due, (b.due_ts, ev.key, key))
        p.bills[key] = b
        # the self-pay part paid at the counter never passes through the platform: not booked
        lines = [(f"insurer:{ev.insurer}", ev.insured_fen), (f"patient:{ev.key}", credit),
                 (f"hospital:{ev.hospital}", -(ev.insured_fen + credit))]  # fmt: skip
        lines = [(account, fen) for account, fen in lines if fen]
        if lines:
            out.post(f"clinic:{key}", ev.ts, "clinic_bill", key, lines, f"{ev.hospital}|{status}")

    def _insurer(self, ev: InsurerSettled, out: sdk.Emitter) -> None:
        key = bill_key(ev.hospital, ev.bill)
        p = self._patient(ev.key, key)
        if ev.amount_fen == 0 or self._seen(p, f"insured:{key}"):
            return
        lines = [("clearing:insurer", ev.amount_fen), (f"insurer:{ev.insurer}", -ev.amount_fen)]
        out.post(f"insured:{key}", ev.ts, "insurer_settlement", key, lines, ev.insurer)
        b = p.bills.get(key)
        if b is not None:
            b.insured_paid += ev.amount_fen
        elif f"bill:{key}" not in p.seen:  # settled before the bill came: it takes it on arrival
            p.early_insured[key] = ev.amount_fen
            for old in list(p.early_insured)[:-EARLY_KEPT]:
                del p.early_insured[old]

    def _answer(self, ev: OrderAnswer, out: sdk.Emitter) -> None:
        """The cashier's order recorded (``requested``, before it is placed) or a provider's answer
        to placing it: an order is followed from its record until its outcome is known (a notice,
        a query's answer, or the provider refusing it)."""
        if not ev.order.startswith(CLINIC_ORDER):
            return  # parking's (paylater.sessions)
        held = self.state.orders.get(ev.order)
        if ev.movement == "refund":
            self._refund_answer(ev, held, out)
            return
        if ev.status == "requested":
            p = self.state.patients.get(ev.key)
            found = p.bill_of_ref(ref_of_order(ev.order)) if p is not None else None
            if held is None and found is not None and found[1].owed > 0:
                self.state.orders[ev.order] = ClinicOrder(ev.key, found[0], ev.amount_fen, ev.channel,
                                                          "requested", ev.ts)  # fmt: skip
                self._orders = True
        elif held is not None:
            if ev.status == "accepted":
                held.status = "accepted"
            else:  # the provider refused it: nothing was paid, the bill stays owed
                del self.state.orders[ev.order]
            self._orders = True

    def _refund_answer(self, ev: OrderAnswer, held: ClinicOrder | None, out: sdk.Emitter) -> None:
        """The provider's answer to placing a refund: taken (its notice follows), or refused."""
        if held is None or held.kind != "refund" or ev.status == "requested":
            return
        if ev.status == "accepted":
            held.status = "accepted"
        else:  # refused: the money stays in clearing:refunds
            del self.state.orders[ev.order]
            self._refund_failed(ev.key, ev.order, held.refund_of, held.amount, ev.reason, ev.ts, out)
        self._orders = True

    def _refund_failed(
        self, key: str, refund: str, order: str, amount: int, reason: str, ts: int, out: sdk.Emitter
    ) -> None:
        about = {"patient": key, "order": order, "refund": refund, "amount_fen": amount}
        out.signal(rules.REFUND_FAILED, refund, ts, True, data=about,
                   message=f"refund {refund} of {order} ({amount} fen) failed: {reason or 'refused'}; "
                   "still held in clearing:refunds")  # fmt: skip

    def _notice(self, ev: PaymentNotice, out: sdk.Emitter) -> None:
        if not ev.order.startswith(CLINIC_ORDER):
            return  # parking's (paylater.sessions)
        followed = ev.order if ev.movement == "payment" else ev.refund
        if followed and self.state.orders.pop(followed, None) is not None:
            self._orders = True  # its outcome is known: no longer followed
        if ev.movement == "refund" and ev.status == "failed":
            self._refund_failed(ev.key, ev.refund, ev.order, ev.amount_fen, ev.reason, ev.ts, out)
            return
        if ev.status != "success" or ev.amount_fen == 0:
            return  # a failed repayment (the bill stays owed), or nothing moved
        if ev.movement == "refund":
            self._refunded(ev, out)
        else:
            self._repay(ev, out)

    def _repay(self, ev: PaymentNotice, out: sdk.Emitter) -> None:
        p = self._patient(ev.key)
        movement = f"{ev.channel}:{ev.channel_txn or ev.order}"
        if self._seen(p, movement):
            return  # the provider repeated its notice, or a query or the statement found it again
        found = p.bill_of_ref(ref_of_order(ev.order))
        key, b = found if found is not None else ("", None)
        applied = min(b.owed, ev.amount_fen) if b is not None else 0
        extra = ev.amount_fen - applied
        lines = [(f"channel:{ev.channel}", ev.amount_fen), (f"patient:{ev.key}", -applied),
                 ("clearing:refunds", -extra)]  # fmt: skip
        memo = f"{ev.order}|{ev.refund}|{ev.channel_txn}"  # what T+1 reconciliation matches by
        out.post(f"repay:{movement}", ev.ts, "clinic_repayment", key or ev.order,
                 [(account, fen) for account, fen in lines if fen], memo)  # fmt: skip
        if b is not None and applied:
            self._touched[ev.key].add(key)
            b.paid += applied
            b.repayments.append(movement)
            if b.owed == 0:
                if b.status == "overdue" and ev.ts <= b.due_ts:
                    # paid in time (the provider's time), its notice late: not a default after all
                    p.defaults, b.overdue_ts = p.defaults - 1, 0
                b.status, b.paid_ts = "paid", ev.ts
                out.signal(OVERDUE, f"{ev.key}:{key}", ev.ts, False, message=f"repaid by {ev.channel}")
                self._standing(ev.key, p, ev.ts, out)
                self._withdraw(key)
        if extra:  # refunded at once to the channel that took it (the dispatcher places the order)
            refund = clinic_refund_id(movement)
            self.state.orders[refund] = ClinicOrder(ev.key, key, extra, ev.channel, "requested", ev.ts,
                                                    "refund", ev.order)  # fmt: skip
            self._orders = True
            hospital, bill = split_key(key) if key else ("", "")
            about = {"patient": ev.key, "hospital": hospital, "bill": bill, "order": ev.order,
                     "channel": ev.channel, "movement": movement, "amount_fen": ev.amount_fen,
                     "excess_fen": extra, "refund": refund}  # fmt: skip
            out.signal(OVERPAID, ev.order, ev.ts, True, data=about,
                       message=f"{extra} fen paid over what {key or 'no known bill'} owed, by {ev.channel}: "
                       f"held in clearing:refunds, refunding ({refund})")  # fmt: skip

    def _withdraw(self, key: str) -> None:
        """A bill repaid in full: its orders recorded and not yet taken by a provider are not
        followed any more (one the provider took is, until its outcome: any money it brings is
        refunded). A refund stays, whatever its bill."""
        orders = self.state.orders
        for oid in [oid for oid, o in orders.items() if o.bill == key and o.kind == "payment"
                    and o.status == "requested"]:  # fmt: skip
            del self.state.orders[oid]
            self._orders = True

    def _refunded(self, ev: PaymentNotice, out: sdk.Emitter) -> None:
        p = self._patient(ev.key)
        refund = ev.refund or ev.channel_txn or ev.order
        if self._seen(p, f"refund:{ev.channel}:{refund}"):
            return
        lines = [("clearing:refunds", ev.amount_fen), (f"channel:{ev.channel}", -ev.amount_fen)]
        out.post(
            f"refund:{refund}", ev.ts, "refund", ev.order, lines, f"{ev.order}|{ev.refund}|{ev.channel_txn}"
        )
        out.signal(OVERPAID, ev.order, ev.ts, False, message=f"{ev.amount_fen} fen refunded by {ev.channel}")

    # -- the clock -------------------------------------------------------------------------------
    def tick(self, now_ms: int, out: sdk.Emitter) -> None:
        """Bills past due become overdue (a default, the first reminder); overdue bills are
        reminded every ``remind_every_days`` from the last reminder (a platform that was down for
        a week reminds once, not once per missed period). O(bills due) per tick."""
        heap = self.state.due
        if not heap or heap[0][0] > now_ms:
            return
        self._touched = {}
        every = self.cfg.remind_every_days * DAY_MS
        while heap and heap[0][0] <= now_ms:
            _, key, bid = heapq.heappop(heap)
            p = self.state.patients.get(key)
            b = p.bills.get(bid) if p is not None else None
            if p is None or b is None or b.status not in OWING:
                continue  # repaid (or forgotten) since
            if b.status == "open":
                b.status, b.overdue_ts = "overdue", now_ms
                p.defaults += 1
                self._standing(key, p, now_ms, out)
            b.reminders += 1
            heapq.heappush(heap, (now_ms + every, key, bid))
            self._patient(key, bid)
            bill = split_key(bid)[1]
            about = {"patient": key, "hospital": b.hospital, "bill": bill, "amount_fen": b.owed,
                     "due_ts": b.due_ts, "due": beijing(b.due_ts), "reminders": b.reminders,
                     "defaults": p.defaults}  # fmt: skip
            out.signal(OVERDUE, f"{key}:{bid}", now_ms, True, data=about,
                       message=f"{b.hospital} bill {bill}: {b.owed} fen due {beijing(b.due_ts)} unpaid "
                       f"(reminder {b.reminders})")  # fmt: skip
        self._publish(now_ms, out)

    # -- outputs ---------------------------------------------------------------------------------
    def _standing(self, key: str, p: Patient, ts: int, out: sdk.Emitter) -> None:
        """Suspended while the patient has ``suspend_after`` defaults or more and a bill overdue
        (decided at once, not at the end of a batch: a bill after a repayment in the same batch
        sees it, so the batch boundaries change nothing)."""
        overdue = sum(b.status == "overdue" for b in p.bills.values())
        now = p.defaults >= self.cfg.suspend_after and overdue > 0
        if now != p.suspended:
            p.suspended = now
            message = (f"{p.defaults} defaults, {overdue} bill(s) overdue: no new credit" if now
                       else "every overdue bill repaid: credit again")  # fmt: skip
            out.signal(SUSPENDED, key, ts, now, message=message,
                       data={"patient": key, "defaults": p.defaults, "overdue": overdue})  # fmt: skip

    def _prune(self, p: Patient) -> None:
        closed = sorted((b.visit_ts, bid) for bid, b in p.bills.items() if b.status not in OWING)
        for _, bid in closed[: max(0, len(closed) - self.cfg.bills_kept)]:
            del p.bills[bid]

    def _publish(self, ts: int, out: sdk.Emitter) -> None:
        for key, bills in self._touched.items():
            p = self.state.patients[key]
            if p.score is None and not p.bills:
                continue  # money of no known bill (key ``unknown``): nothing to show of a patient
            for bid in bills:
                if (b := p.bills.get(bid)) is not None:
                    out.state("paylater.clinic_bill", b.ref, ts, _builtins(bill_view(key, bid, b)))
            self._prune(p)
            out.state("paylater.patient", key, ts, _builtins(patient_view(key, p)))
        self._touched = {}
        if self._orders:  # the partition's open orders: what the cashier reuses, the dispatcher follows
            pending = {oid: _builtins(o) for oid, o in self.state.orders.items()}
            out.state("paylater.clinic_pending", f"p{self.partition}", ts, pending)
            self._orders = False

    _handlers: ClassVar[dict[type, Callable[[Clinic, Any, sdk.Emitter], None]]] = {
        CreditRating: _rating,
        ClinicBill: _bill,
        InsurerSettled: _insurer,
        PaymentNotice: _notice,
        OrderAnswer: _answer,
    }
