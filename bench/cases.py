"""Cases (issue 14): the KPI refresh of one month over a million cases, and transitions per second
through the HTTP API with a real server.

(a) KPI refresh: a temporary DuckDB (and PostgreSQL, when the machine's server answers) filled with
    1,000,000 civic cases and their logs by bulk SQL (not through the engine: that would take an
    hour), opened evenly over the twelve months 2025-12 .. 2026-11 in 20 departments and 12
    districts; each went open -> dispatch -> sign -> reply -> callback (5 log entries) but a third
    of the last half month's, still being handled (3 entries; 13,889 cases). Timed:
    ``month_kpis`` of 2026-11 by department (and by district), as the API answers it; target < 5 s.
(b) Transitions per second: the platform in a child process (uvicorn, DuckDB store, the civic case
    types), a client of ``CONCURRENCY`` connections opening cases and taking dispatch, sign, reply,
    callback on each over HTTP, one command per request; then the same story in batches
    (``POST /api/v1/cases/commands``, ``BATCHES``). Every answer comes after the change is
    committed (durable) and on the bus. Counted: the actions answered 200 per second of wall time;
    target >= 2,000/s on 2 cores. The client runs on the same machine and takes its share of the cores.
(c) Deadline computations per second: bench/workcal.py.

Prints numbers only; nothing asserts a time. ``python bench/cases.py [kpi|http]``; about 3 minutes.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine_facts, postgres_store
from citybrain.core.cases.kpi import month_kpis
from citybrain.core.cases.workcal import WorkCalendar
from citybrain.core.store.base import Store
from citybrain.core.store.duck import DuckStore
from citybrain.scenes.civic.casetypes import case_types
from citybrain.scenes.civic.settings import CivicSettings

BJT = timezone(timedelta(hours=8))
CASES = int(os.environ.get("BENCH_CASES", "1000000"))
FIRST = int(datetime(2025, 12, 1, tzinfo=BJT).timestamp() * 1000)
SPAN = int(datetime(2026, 12, 1, tzinfo=BJT).timestamp() * 1000) - FIRST  # twelve months
HOUR, DAY = 3_600_000, 86_400_000
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
HTTP_SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
BATCHES = [(4, 100), (4, 500)]  # (connections, commands per request) of the batch runs

# one row per case: i, its opening instant, department and area; some of the last stay open
CASES_SQL = """
INSERT INTO cases
SELECT id, 'civic.hotline', 'civic', CASE WHEN open THEN 'handling' ELSE 'closed' END,
       CASE WHEN open THEN 3 ELSE 5 END, opened, opened + 2 * {DAY}, dept, area, '咨询',
       opened + 10 * {DAY}, CASE WHEN open THEN NULL ELSE opened + 2 * {DAY} + {HOUR} END,
       CASE WHEN open THEN NULL ELSE opened + 2 * {DAY} + {HOUR} END,
       '{{"id":"' || id || '","lon":' || CAST(115.8 + (i % 97) / 1000.0 AS VARCHAR)
       || ',"lat":' || CAST(28.6 + (i % 89) / 1000.0 AS VARCHAR) || '}}'
FROM (SELECT i, 'C' || CAST(i AS VARCHAR) AS id, {FIRST} + CAST(i AS BIGINT) * {SPAN} // {N} AS opened,
             'dept-' || CAST(i % 20 AS VARCHAR) AS dept,
             '3601' || CAST(10 + i % 12 AS VARCHAR) || '00100' || CAST(i % 7 AS VARCHAR) AS area,
             i >= {N} - {N} // 24 AND i % 3 = 0 AS open
      FROM range({N}) t(i)) s
"""
# the log: (version, action, from, to, offset after opening); the open tenth stops after the sign
STEPS = [(1, "open", "", "registered", 0), (2, "dispatch", "registered", "dispatched", HOUR),
         (3, "sign", "dispatched", "handling", 3 * HOUR), (4, "reply", "handling", "replied", 2 * DAY),
         (5, "callback", "replied", "closed", 2 * DAY + HOUR)]  # fmt: skip
LOG_SQL = """
INSERT INTO case_log
SELECT id, {V}, opened + {OFF}, id || '-{V}',
       '{{"case_id":"' || id || '","version":{V},"ts":' || CAST(opened + {OFF} AS VARCHAR)
       || ',"action":"{A}","from_state":"{F}","to_state":"{T}","department":"' || dept
       || '","step_due_ts":' || CAST(opened + {OFF} + 30 * {HOUR} AS VARCHAR)
       || ',"fields":{{"satisfaction":' || CAST(1 + i % 5 AS VARCHAR) || '}}}}'
FROM (SELECT i, 'C' || CAST(i AS VARCHAR) AS id, {FIRST} + CAST(i AS BIGINT) * {SPAN} // {N} AS opened,
             'dept-' || CAST(i % 20 AS VARCHAR) AS dept
      FROM range({N}) t(i)) s
WHERE {V} <= 3 OR NOT (i >= {N} - {N} // 24 AND i % 3 = 0)
"""


def fill_duck(store: DuckStore) -> float:
    t0 = time.perf_counter()
    cur = store._cur()
    cur.execute(CASES_SQL.format(DAY=DAY, HOUR=HOUR, FIRST=FIRST, SPAN=SPAN, N=CASES))
    for v, a, f, t, off in STEPS:
        cur.execute(LOG_SQL.format(V=v, A=a, F=f, T=t, OFF=off, HOUR=HOUR, FIRST=FIRST, SPAN=SPAN, N=CASES))
    cur.execute("CHECKPOINT")
    return time.perf_counter() - t0


def fill_pg(store: Any) -> float:
    """The same rows on PostgreSQL: generate_series for range(), and text casts."""
    t0 = time.perf_counter()

    def pg(sql: str) -> str:
        return (sql.replace("FROM range(", "FROM generate_series(0, -1 + ").replace("AS VARCHAR", "AS TEXT")
                .replace(" t(i)) s", " AS t(i)) s").replace("//", "/"))  # fmt: skip

    with store._db.tx() as cur:
        cur.execute(pg(CASES_SQL.format(DAY=DAY, HOUR=HOUR, FIRST=FIRST, SPAN=SPAN, N=CASES)))
        for v, a, f, t, off in STEPS:
            cur.execute(
                pg(LOG_SQL.format(V=v, A=a, F=f, T=t, OFF=off, HOUR=HOUR, FIRST=FIRST, SPAN=SPAN, N=CASES))
            )
    with store._db.tx() as cur:
        cur.execute("ANALYZE")
    return time.perf_counter() - t0


def time_kpis(name: str, store: Store) -> None:
    types = {ct.name: ct for ct in case_types(CivicSettings())}
    cal = WorkCalendar.shipped()
    now = int(datetime(2026, 11, 30, 12, tzinfo=BJT).timestamp() * 1000)
    rows = store.count_cases()
    for by in ("department", "district", "department"):
        t0 = time.perf_counter()
        t = month_kpis(store, types, cal, "2026-11", by, now=now, scene="civic")  # type: ignore[arg-type]
        took = time.perf_counter() - t0
        print(f"  {name}: month_kpis 2026-11 by {by:<10} over {rows:,} cases: {took:.2f} s "
              f"({len(t.rows)} rows; due {t.total.due:,}, dispatched {t.total.dispatched:,}, "
              f"open {len(t.open_cases):,}, overdue {len(t.overdue):,})")  # fmt: skip


def bench_kpi() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckStore(Path(tmp) / "kpi.duckdb")
        try:
            print(f"  duckdb: {CASES:,} cases and their logs inserted in {fill_duck(store):.1f} s")
            time_kpis("duckdb", store)
        finally:
            store.close()
    with postgres_store() as pgs:
        if pgs is not None:
            print(f"  postgres: {CASES:,} cases and their logs inserted in {fill_pg(pgs):.1f} s")
            time_kpis("postgres", pgs)


# -- (b) transitions over HTTP ---------------------------------------------------------------------


def serve(data: str, port: str) -> None:
    """The child process: the platform with the civic scene, an admin token in DATA/bench.token."""
    import uvicorn

    from citybrain.api.app import create_app
    from citybrain.core.config import load_settings
    from citybrain.core.platform import Platform
    from citybrain.core.scenes import discover
    from citybrain.core.tokens import create_token
    from citybrain.scenes import civic
    from citybrain.testing import server_ports_env

    os.environ.update({"CITYBRAIN_DATA_DIR": data, "CITYBRAIN_SERVER__PORT": port, **server_ports_env()})
    settings = load_settings()
    platform = Platform(settings, scenes={**discover({"pulse"}), "civic": civic.scene})
    _, secret = create_token(platform.store, "bench", ["admin"])
    (Path(data) / "bench.token").write_text(secret)
    uvicorn.run(create_app(settings, platform), host="127.0.0.1", port=int(port), log_level="warning")


STORY = [("dispatch", {"department": "nc-housing"}), ("sign", {}), ("reply", {"reply": "ok"}),
         ("callback", {"satisfaction": 5})]  # fmt: skip


async def _client(url: str, token: str, seconds: float) -> tuple[int, int, int]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    done = [0, 0, 0]  # actions, opens, errors
    stop = time.perf_counter() + seconds

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        k = 0
        while time.perf_counter() < stop:
            k += 1
            tag = f"w{n}-{k}-{uuid.uuid4().hex[:6]}"
            body = {"type": "civic.hotline", "command_id": f"{tag}-o", "category": "咨询",
                    "area": "360102001001", "title": "bench"}  # fmt: skip
            r = await client.post(f"{url}/api/v1/cases", json=body, headers=headers)
            if r.status_code != 201:
                done[2] += 1
                continue
            done[1] += 1
            case = r.json()
            for action, fields in STORY:
                cmd = {"version": case["version"], "command_id": f"{tag}-{action}", "fields": fields}
                r = await client.post(f"{url}/api/v1/cases/{case['id']}/actions/{action}", json=cmd,
                                      headers=headers)  # fmt: skip
                if r.status_code != 200:
                    done[2] += 1
                    break
                done[0] += 1
                case = r.json()

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(n, client) for n in range(CONCURRENCY)))
    return done[0], done[1], done[2]


async def _batch_client(
    url: str, token: str, seconds: float, connections: int, size: int
) -> tuple[int, int, int]:
    """The same story by ``POST /api/v1/cases/commands``: ``size`` cases opened in one request,
    then each step of the story for all of them in one request."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    done = [0, 0, 0]  # actions, opens, errors
    stop = time.perf_counter() + seconds

    async def send(client: httpx.AsyncClient, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r = await client.post(f"{url}/api/v1/cases/commands", json={"commands": commands}, headers=headers)
        r.raise_for_status()
        answers: list[dict[str, Any]] = r.json()["answers"]
        done[2] += sum(1 for a in answers if a["status"] >= 300)
        return [a["case"] for a in answers if a["status"] < 300]

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        k = 0
        while time.perf_counter() < stop:
            k += 1
            tag = f"b{n}-{k}-{uuid.uuid4().hex[:6]}"
            opens = [{"op": "open", "type": "civic.hotline", "command_id": f"{tag}-{i}-o", "category": "咨询",
                      "area": "360102001001", "title": "bench"} for i in range(size)]  # fmt: skip
            cases = await send(client, opens)
            done[1] += len(cases)
            for action, fields in STORY:
                acts = [{"op": "act", "case_id": c["id"], "action": action, "version": c["version"],
                         "command_id": f"{tag}-{i}-{action}", "fields": fields}
                        for i, c in enumerate(cases)]  # fmt: skip
                cases = await send(client, acts)
                done[0] += len(cases)

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(n, client) for n in range(connections)))
    return done[0], done[1], done[2]


def bench_http() -> None:
    import subprocess

    import httpx

    from citybrain.testing import free_port

    with tempfile.TemporaryDirectory() as tmp:
        port = str(free_port())
        log = (Path(tmp) / "server.log").open("wb")
        proc = subprocess.Popen([sys.executable, __file__, "serve", tmp, port], stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if (
                        httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                        and (Path(tmp) / "bench.token").exists()
                    ):
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            token = (Path(tmp) / "bench.token").read_text().strip()
            asyncio.run(_client(url, token, 2.0))  # warm: the engine, the calendar, the connections
            runs = [(f"one command per request, {CONCURRENCY} connections",
                     lambda: _client(url, token, HTTP_SECONDS))]  # fmt: skip
            for connections, size in BATCHES:
                name = f"batches of {size} (POST /api/v1/cases/commands), {connections} connections"
                runs.append(
                    (name, lambda c=connections, n=size: _batch_client(url, token, HTTP_SECONDS, c, n))
                )
            for name, client in runs:
                t0 = time.perf_counter()
                actions, opens, errors = asyncio.run(client())
                wall = time.perf_counter() - t0
                print(f"  {name}, {wall:.1f} s: {actions:,} transitions ({actions / wall:,.0f}/s), "
                      f"{opens:,} cases opened ({opens / wall:,.0f}/s), together "
                      f"{(actions + opens) / wall:,.0f} commands/s, {errors} errors")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(60)
            log.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
        return
    wanted = sys.argv[1:] or ["kpi", "http"]
    print(machine_facts())
    if "kpi" in wanted:
        print("(a) KPI refresh of one month (target < 5 s)")
        bench_kpi()
    if "http" in wanted:
        print("(b) transitions through the HTTP API, real server, DuckDB store (target >= 2,000/s)")
        bench_http()
    print("(c) deadline computations per second: bench/workcal.py")


if __name__ == "__main__":
    main()
