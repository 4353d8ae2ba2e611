"""The Done-when of issue 15 from a fresh ``citybrain run`` (what ``make run`` starts): the
departments' simulator delivers a synthetic population, a scripted illness in a village produces a
risk, the risk a case at that village with its deadlines, the simulated village takes it to 公示,
and the village's publicity list is there, masked for a role that masks names; the household page
explains its decision clause by clause with the source of every value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from citybrain.testing import free_port
from tests.support.server import Server, wait_for

BASE = "/api/v1/scenes/welfare"


def test_a_fresh_run_shows_an_illness_become_a_case_and_a_masked_notice(tmp_path: Path) -> None:
    run = Server(
        tmp_path / "var",
        free_port(),
        "run",
        CITYBRAIN_AGGREGATION__POLL_S="2",
        CITYBRAIN_SIMULATORS__WELFARE__HOUSEHOLDS="800",
        CITYBRAIN_SIMULATORS__WELFARE__SHOCK_AFTER_S="2",
        CITYBRAIN_SIMULATORS__WELFARE__START_AFTER_S="0",
        CITYBRAIN_SIMULATORS__WELFARE__TICK_S="0.5",
    )
    run.start(90)
    url = run.url
    try:
        h = {"Authorization": f"Bearer {run.token}"}

        shocked = re.compile(r"welfare sim: \{'kind': 'illness', 'household': '(\w+)'\}")

        def illness_case() -> Any:  # the case of the household the simulator made ill
            found = shocked.search(run.log_text)
            if found is None:
                return []
            cases = httpx.get(
                f"{url}/api/v1/cases",
                params={"type": "welfare.relapse", "limit": 1000},
                headers=h,
                timeout=10,
            ).json()
            return [c for c in cases if c["fields"].get("household") == found.group(1)]

        [case] = wait_for("a case of the scripted illness", illness_case, 240)
        assert len(case["area"]) == 12 and case["due_ts"] and case["fields"]["household"]
        assert case["fields"]["level"] == "high" and "ILLNESS" in case["fields"]["risk_types"]
        assert "name" not in case["fields"]
        page = httpx.get(
            f"{url}{BASE}/households/{case['fields']['household']}", headers=h, timeout=30
        ).json()
        assert page["village"] == case["area"] and "ILLNESS" in page["risk"]["types"]
        illness = next(d for d in page["decisions"] if d["policy"] == "risk_illness")
        assert illness["outcome"] == "eligible" and len(illness["clauses"]) == 2
        for clause in illness["clauses"]:
            assert clause["values"] and all(f in illness["sources"] for f in clause["values"])
        assert illness["sources"]["medical_12m"]["dataset"] == "medical.bills"
        assert illness["sources"]["medical_12m"]["as_of"]

        def notice() -> Any:
            got = httpx.get(f"{url}{BASE}/publicity", params={"village": case["area"]}, headers=h, timeout=10)
            items = got.json()["items"] if got.status_code == 200 else []
            return [i for i in items if i["household"] == case["fields"]["household"]]

        [row] = wait_for("the household in the village's publicity list", notice, 120)
        assert row["name"] and not {"id_number", "phone", "bank_account", "diagnosis"} & set(row)
        body = {
            "username": "kan",
            "name": "kan",
            "department": "nc-data",
            "roles": ["operator"],
            "password": "correct horse battery staple",
        }
        assert httpx.post(f"{url}/api/v1/users", json=body, headers=h, timeout=10).status_code == 200
        with httpx.Client(base_url=url, timeout=10) as op:
            assert op.post(
                "/api/v1/auth/login", json={"username": "kan", "password": body["password"]}
            ).is_success
            seen = op.get(f"{BASE}/publicity", params={"village": case["area"]}).json()["items"]
            [mine] = [i for i in seen if i["household"] == row["household"]]
            assert mine["name"] != row["name"] and "*" in mine["name"]
    finally:
        run.stop()
