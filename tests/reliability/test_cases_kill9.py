"""kill -9 while people work cases, then restart (issue 14): every acknowledged transition is in
the case's log, none twice; a command retried after the crash is applied at most once; and every
logged change is on the bus as its cases.changed event (republished at start when the crash came
between the write and the publish)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from citybrain.core.store.duck import DuckStore
from citybrain.testing import free_port
from tests.support.server import Server

FLOW = [("dispatch", {"department": "nc-housing"}), ("sign", {}), ("reply", {"reply": "已处理"}),
        ("callback", {"satisfaction": 5})]  # fmt: skip


def _appeal(worker: int, n: int) -> dict[str, Any]:
    return {"type": "civic.hotline", "command_id": f"w{worker}-open-{n}", "category": "咨询",
            "area": "360102001001001", "fields": {"description": f"问题 {worker}-{n}"}}  # fmt: skip


def test_kill9_while_cases_move_loses_no_acknowledged_transition(tmp_path: Path) -> None:
    srv = Server(tmp_path / "var", free_port())
    srv.start()
    acked: list[tuple[str, int, str]] = []  # (case, version, command id) the server answered
    pending: list[tuple[str, str, dict[str, Any]]] = []  # (path, command id, body) sent, unanswered
    stop = threading.Event()

    def worker(w: int) -> None:
        with httpx.Client(
            base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=10
        ) as c:
            n = 0
            while not stop.is_set():
                body = _appeal(w, n)
                steps: list[tuple[str, dict[str, Any]]] = [("/api/v1/cases", body)]
                case: dict[str, Any] | None = None
                for action, fields in [("", {}), *FLOW]:
                    if action:
                        assert case is not None
                        cmd = f"w{w}-{n}-{action}"
                        path = f"/api/v1/cases/{case['id']}/actions/{action}"
                        body = {"version": case["version"], "command_id": cmd, "fields": fields}
                    else:
                        path, cmd = steps[0][0], body["command_id"]
                    try:
                        r = c.post(path, json=body)
                    except httpx.TransportError:
                        pending.append((path, cmd, body))
                        return
                    assert r.status_code in (200, 201), r.text
                    case = r.json()
                    acked.append((case["id"], case["version"], cmd))
                n += 1

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    while len(acked) < 300:
        time.sleep(0.05)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(30)

    srv.start()
    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=10) as c:
        # every acknowledged transition is in its case's log, at its version, once
        logs: dict[str, list[dict[str, Any]]] = {}
        for case_id in {a[0] for a in acked}:
            r = c.get(f"/api/v1/cases/{case_id}")
            assert r.status_code == 200, r.text
            logs[case_id] = r.json()["timeline"]
            assert [e["version"] for e in logs[case_id]] == list(range(1, len(logs[case_id]) + 1))
        for case_id, version, _cmd in acked:
            assert version <= len(logs[case_id])
        # the commands in flight at the crash, sent again: each applied at most once
        for path, _cmd, body in pending:
            r = c.post(path, json=body)
            assert r.status_code in (200, 201, 409), r.text
    srv.stop()

    store = DuckStore(tmp_path / "var" / "citybrain.duckdb", read_only=True)
    try:
        entries = store.case_entries_since(0, 100_000)
        commands = [e.command_id for e in entries]
        assert len(commands) == len(set(commands))  # no command applied twice
        assert {a[2] for a in acked} <= set(commands)
        on_bus = {e.id for e in store.find_events(["cases.changed"], limit=1_000_000)}
        assert {f"{e.case_id}:v{e.version}" for e in entries} <= on_bus  # nothing missed the bus
    finally:
        store.close()
