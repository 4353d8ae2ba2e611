"""``paylater.cases``: the operators' decisions, taken on cases, passed on to the sessions.

Cases are keyed by case id, sessions by plate: this processor reads ``cases.changed`` of the
scene's case types, remembers what each case is about from its opening (the held read, the
session), and turns each decision into the event the ``paylater.sessions`` processor reads,
keyed by the plate (a derived event whose id is the case change's, so a replay derives it
again and the store keeps it once). Confirm a held read -> ``GateConfirm``; bill or waive a
session in review, refund a disputed charge -> ``Review``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.scenes.paylater.events import GateConfirm, Review
from citybrain.scenes.paylater.plates import PlateError, parse_plate
from citybrain.scenes.paylater.settings import PaylaterSettings

log = logging.getLogger(__name__)
TYPES = ("paylater.held", "paylater.review", "paylater.dispute")
KEPT = ("key", "gate_event", "lot", "direction", "read_ts", "plate", "session")


class CasesState(msgspec.Struct):
    cases: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)  # open case -> what it is about


def _fen(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0


class Cases(sdk.Processor[CasesState, sdk.CaseChanged]):
    name = "paylater.cases"
    kinds = (sdk.CaseChanged,)
    state_type = CasesState

    def __init__(self, partition: int, settings: PaylaterSettings, _world: object = None) -> None:
        super().__init__(partition, settings)

    def process(self, batch: Sequence[tuple[int, sdk.CaseChanged]], out: sdk.Emitter) -> None:
        for _, ev in batch:
            if ev.type not in TYPES:
                continue
            if ev.action == "open":
                self.state.cases[ev.key] = {k: ev.fields[k] for k in KEPT if k in ev.fields}
            elif (about := self.state.cases.get(ev.key)) is not None:
                made = self._decision(ev, about)
                if made is not None:
                    out.event(made)
            if ev.final:
                self.state.cases.pop(ev.key, None)

    def _decision(self, ev: sdk.CaseChanged, about: dict[str, Any]) -> GateConfirm | Review | None:
        eid, by = f"{ev.id}>paylater", ev.actor
        if ev.type == "paylater.held" and ev.action in ("confirm", "dismiss"):
            plate, nev = "", False
            if ev.action == "confirm":
                try:
                    p = parse_plate(str(ev.fields.get("plate", "")))
                except PlateError as err:
                    log.warning("case %s: the confirmed plate is not a plate (%s); nothing done", ev.key, err)
                    return None
                plate, nev = p.text, p.new_energy
            return GateConfirm(key=about["key"], ts=ev.ts, id=eid, gate_event=about["gate_event"],
                               plate=plate, action="confirm" if plate else "dismiss", lot=about["lot"],
                               direction=about["direction"], read_ts=int(about["read_ts"]), new_energy=nev,
                               by=by)  # fmt: skip
        if ev.action in ("bill", "waive", "refund") and "plate" in about and "session" in about:
            amount = _fen(ev.fields.get("fee_fen" if ev.action == "bill" else "amount_fen", 0))
            if ev.action != "waive" and amount == 0:
                # not whole fen above 0 ("12.50", "50元"): never taken as a waiver or a refund of nothing
                log.warning("case %s: %s with %r is not an amount in fen; nothing done", ev.key, ev.action,
                            ev.fields.get("fee_fen") or ev.fields.get("amount_fen"))  # fmt: skip
                return None
            note = str(ev.fields.get("reply") or ev.fields.get("reason_note") or "")[:500]
            return Review(key=about["plate"], ts=ev.ts, id=eid, session=about["session"],
                          action=ev.action, fee_fen=amount, case=ev.key, by=by, note=note)  # type: ignore[arg-type]  # fmt: skip
        return None
