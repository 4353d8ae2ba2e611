"""A pay-later platform behind FastAPI's TestClient: the gate, bindings, reviews and confirmations
through the HTTP API, provider notices published as the notify route would, the pipeline drained
between steps so each read sees what the processor committed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.config import load_settings
from citybrain.core.ledger import Posting
from citybrain.core.platform import Platform
from citybrain.core.tokens import create_token
from citybrain.scenes.paylater import scene
from citybrain.scenes.paylater.events import PaymentNotice

BASE = "/api/v1/scenes/paylater"
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_780_279_200_000  # 2026-06-01 10:00 Beijing time (a Monday, the 2026 city-core tariff)
LOT = "bayi-square"  # city-core 2026: 15 min free; day: first hour 600 fen, then 150 per 30 min


def platform(tmp_path: Path, **scene_settings: Any) -> Platform:
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var")})
    s.scenes["paylater"] = dict(scene_settings)
    return Platform(s, scenes={"paylater": scene})


class Lot:
    """A platform and a client with a token per scope."""

    def __init__(self, client: TestClient, p: Platform) -> None:
        self.c, self.p = client, p
        self.h = {s: {"Authorization": f"Bearer {create_token(p.store, s, [s])[1]}"}
                  for s in ("read", "ingest", "operate", "admin")}  # fmt: skip
        self._ids = itertools.count(1)
        self.last_ts = T0  # the latest gate read: a notice comes a minute after it

    def drain(self) -> None:
        self.p.pipeline.drain()

    def post(self, path: str, body: dict[str, Any], scope: str = "ingest", status: int = 200) -> Any:
        r = self.c.post(BASE + path, json=body, headers=self.h[scope])
        assert r.status_code == status, r.text
        return r.json()

    def get(self, path: str, **params: Any) -> Any:
        r = self.c.get(BASE + path, params=params, headers=self.h["read"])
        assert r.status_code == 200, r.text
        return r.json()

    def gate(self, plate: str, direction: str, ts: int, *, lot: str = LOT, confidence: float = 0.98,
             colour: str = "", read_id: str = "") -> dict[str, Any]:  # fmt: skip
        """A gate read answered, then processed."""
        body = {"id": read_id or f"r{next(self._ids)}", "lot": lot, "gate": f"{direction}-1",
                "direction": direction, "plate": plate, "confidence": confidence, "colour": colour,
                "ts": ts}  # fmt: skip
        self.last_ts = max(self.last_ts, ts)
        answer: dict[str, Any] = self.post("/gate", body)
        self.drain()
        return answer

    def bind(self, plate: str, payer: str = "wx-openid-1", channel: str = "wechat") -> None:
        self.post("/bindings", {"plate": plate, "action": "bind", "payer": payer, "channel": channel,
                                "consent": f"agreement-{payer}"})  # fmt: skip
        self.drain()

    def notice(self, plate: str, order: str, amount: int, *, channel: str = "wechat", txn: str = "",
               status: str = "success", movement: str = "payment", refund: str = "",
               ts: int = 0) -> None:  # fmt: skip
        """A provider's verified notice, published as the notify route publishes it."""
        txn = txn or f"{channel}-{order}-{status}"
        ev = PaymentNotice(key=plate, ts=ts or self.last_ts + MIN, id=f"{channel}:{movement}:{txn}:{status}",
                           channel=channel, movement=movement, order=order, refund=refund,  # type: ignore[arg-type]
                           channel_txn=txn, amount_fen=amount, status=status)  # type: ignore[arg-type]  # fmt: skip
        self.p.publish([ev])
        self.drain()

    def session(self, sid: str) -> dict[str, Any]:
        got: dict[str, Any] = self.get(f"/sessions/{sid}")
        return got

    def pending(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for row in self.p.store.states("paylater.pending"):
            out.update(row["data"])
        return out

    def balances(self) -> dict[str, int]:
        return {k: v for k, v in self.p.store.ledger_balances().items() if v}


@contextmanager
def running(tmp_path: Path, **scene_settings: Any) -> Iterator[Lot]:
    scene_settings.setdefault("dispatcher", False)  # orders wait: the test plays the provider
    p = platform(tmp_path, **scene_settings)
    with TestClient(create_app(p.settings, platform=p)) as client:
        yield Lot(client, p)


def commit_once(ledger: dict[str, list[Posting]], postings: list[Posting]) -> None:
    """Add a batch's postings to a test's committed ledger as the store would: a transaction
    already there fails (the table's primary key), which these tests turn into an assertion."""
    txns: dict[str, list[Posting]] = {}
    for p in postings:
        txns.setdefault(p.txn, []).append(p)
    again = set(txns) & set(ledger)
    assert not again, f"transactions committed twice: {sorted(again)}"
    ledger.update(txns)
