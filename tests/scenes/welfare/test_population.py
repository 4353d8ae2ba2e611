"""The welfare scene's synthetic population (issue 15 item 7): every ID number is a valid resident
ID of its village's county, birth date and sex; every row of every dataset passes the platform's own
row checks; the rows hold together (members of the households, people of the members, unique keys);
the generator is deterministic; the distributions stay within their stated bounds; every village is
a real one; and the scripted shocks give rows of the household and village they name."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.aggregation.rows import check_row, id_check_digit, key_of
from citybrain.core.divisions import nanchang
from citybrain.scenes.welfare.population import (
    CHUNK,
    Population,
    credit_codes,
    default_datasets,
)

AS_OF = date(2026, 11, 30)
DATASETS = default_datasets()


@pytest.fixture(scope="module")
def pop() -> Population:
    return Population(3000, seed=15, as_of=AS_OF)


def table(p: Population, name: str) -> pa.Table:
    return pa.Table.from_batches(list(p.rows(name)), schema=next(p.rows(name)).schema)


def column(p: Population, name: str, col: str) -> list[Any]:
    return list(table(p, name).column(col).to_pylist())


def test_every_id_number_is_a_resident_id_of_its_county_birth_date_and_sex(pop: Population) -> None:
    members = table(pop, "civil.members").to_pylist()
    households = {h["household"]: h for h in table(pop, "civil.households").to_pylist()}
    assert len(members) == pop.people
    for m in members:
        n = m["id_number"]
        assert len(n) == 18 and n[17] == id_check_digit(n[:17])
        assert n[:6] == households[m["household"]]["village"][:6]  # the county of the village
        born = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
        assert date(1920, 1, 1) < born < AS_OF
    ids = [m["id_number"] for m in members]
    assert len(set(ids)) == len(ids)
    # the sequence's parity is the sex, the birth date the member's
    for h in list(households)[:200]:
        for person in pop.household(h).members:
            assert int(person.id_number[16]) % 2 == (person.sex == "男")
            assert person.id_number[6:14] == person.born.strftime("%Y%m%d")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_row_passes_the_platforms_row_checks(pop: Population, name: str) -> None:
    ds = DATASETS[name]
    headers = pop.headers(name)
    keys: set[str] = set()
    rows = 0
    for batch in pop.rows(name):
        assert batch.schema.names == [c.name for c in ds.columns]
        for no, row in enumerate(batch.to_pylist(), start=rows + 2):
            values, problems = check_row(ds, no, {headers[k]: v for k, v in row.items()})
            assert problems == [], (name, row)
            assert values is not None
            keys.add(key_of(ds, values))
        rows += batch.num_rows
    assert len(keys) == rows  # keys are unique: no row of the dataset stands in for another


def test_the_datasets_hold_together(pop: Population) -> None:
    households = table(pop, "civil.households").to_pylist()
    members = table(pop, "civil.members").to_pylist()
    by_household = Counter(m["household"] for m in members)
    assert [by_household[h["household"]] for h in households] == [h["members"] for h in households]
    heads = {m["household"]: m for m in members if m["relation"] == "户主"}
    assert len(heads) == len(households)
    for h in households:
        assert (heads[h["household"]]["id_number"], heads[h["household"]]["name"]) == (
            h["head_id"],
            h["head_name"],
        )
    people = {m["id_number"] for m in members}
    for name in (
        "hrss.wages",
        "hrss.unemployment",
        "medical.bills",
        "disability.records",
        "estate.properties",
        "police.vehicles",
        "market.businesses",
        "fund.accounts",
    ):
        assert set(column(pop, name, "id_number")) <= people, name
    ids = {h["household"] for h in households}
    for name in ("civil.authorisations", "emergency.disasters"):
        assert set(column(pop, name, "household")) <= ids, name
    # an owner of property, a vehicle or a business is an adult
    age = {
        m.id_number: (AS_OF - m.born).days / 365.25 for h in list(ids)[:300] for m in pop.household(h).members
    }
    for name in ("estate.properties", "police.vehicles", "market.businesses"):
        assert all(age[i] >= 18 for i in column(pop, name, "id_number") if i in age), name


def test_dates_are_relative_to_as_of(pop: Population) -> None:
    months = sorted(set(column(pop, "hrss.wages", "month")))
    # the 24 whole months before as_of's (the rules read the last 12 and the 12 before)
    assert months[0] == date(2024, 11, 1) and months[-1] == date(2026, 10, 1) and len(months) == 24
    assert all(d.day == 1 for d in months)
    assert all(u < "2026-11-30" for u in column(pop, "hrss.wages", "updated"))
    for name, col in (
        ("medical.bills", "settled"),
        ("hrss.unemployment", "registered"),
        ("emergency.disasters", "happened"),
    ):
        got = column(pop, name, col)
        assert all(AS_OF - timedelta(days=731) <= d <= AS_OF for d in got), name
    auth = table(pop, "civil.authorisations").to_pylist()  # valid one to three years, signed before today
    assert all(a["signed"] < a["expires"] <= a["signed"] + timedelta(days=3 * 366) for a in auth)
    assert all(AS_OF - timedelta(days=7 * 366) < a["signed"] <= AS_OF for a in auth)


def test_the_generator_is_deterministic_for_a_seed() -> None:
    a, b = Population(500, seed=7, as_of=AS_OF), Population(500, seed=7, as_of=AS_OF)
    other = Population(500, seed=8, as_of=AS_OF)
    for name in DATASETS:
        assert table(a, name).equals(table(b, name)), name
    assert not table(a, "civil.members").equals(table(other, "civil.members"))
    # a chunk is made alone: the second chunk of a big population is the same whichever came first
    big = Population(CHUNK + 50, seed=7, as_of=AS_OF)
    second = list(big.rows("hrss.wages"))[1]
    assert second.equals(list(Population(CHUNK + 50, seed=7, as_of=AS_OF).rows("hrss.wages"))[1])


def test_distributions_stay_within_their_bounds() -> None:
    p = Population(20_000, seed=3, as_of=AS_OF)
    n = p.households
    assert 2.6 <= p.people / n <= 2.95  # Nanchang: 2.81 a family household (七普)
    share = Counter(column(p, "civil.households", "status"))
    assert 0.015 <= share["低保户"] / n <= 0.025
    assert 0.002 <= share["特困户"] / n <= 0.005
    assert 0.003 <= share["监测对象"] / n <= 0.008
    assert 0.004 <= share["脱贫户"] / n <= 0.015
    rural_county = np.isin(p.villages.county[p.village], [360121, 360123, 360124]) & p.rural
    lifted = np.array(column(p, "civil.households", "status")) == "脱贫户"
    assert 0.025 <= lifted[rural_county].mean() <= 0.055  # a few percent in the counties' villages
    assert not lifted[~p.rural].any()  # none in urban communities
    assert 0.05 <= len(column(p, "disability.records", "id_number")) / p.people <= 0.07
    grades = Counter(column(p, "disability.records", "grade"))
    assert set(grades) == {1, 2, 3, 4} and grades[4] > grades[1]
    # insured wages: most urban working-age people have some, most rural ones none; lognormal around ~5,000
    wages = np.array(column(p, "hrss.wages", "wage"))
    assert 4000 <= np.median(wages) <= 6500 and wages.min() >= 2000 and wages.max() <= 32_000
    auth = set(column(p, "civil.authorisations", "household"))
    in_force = {
        a["household"]
        for a in table(p, "civil.authorisations").to_pylist()
        if a["signed"] <= AS_OF <= a["expires"]
    }
    assert auth >= in_force and 0.58 <= len(in_force) / n <= 0.68
    uses = Counter(column(p, "estate.properties", "use"))
    assert uses["住宅"] > 5 * sum(v for k, v in uses.items() if k != "住宅")
    kinds = Counter(column(p, "market.businesses", "kind"))
    assert kinds["个体工商户"] > kinds["企业"] > kinds["农民专业合作社"] > 0
    assert len(column(p, "emergency.disasters", "report")) < 0.01 * n
    medical = np.array(column(p, "medical.bills", "self_pay"))
    assert np.mean(medical) > 3 * np.median(medical)  # heavy-tailed


def test_every_village_is_a_real_one_and_households_are_numbered_in_it(pop: Population) -> None:
    div = nanchang()
    for h in table(pop, "civil.households").to_pylist():
        village = div.get(h["village"])
        assert village is not None and village.level == "village"
        assert h["household"].startswith(h["village"])
        township = div.get(village.parent)
        assert township is not None and h["address"].startswith(township.name)
        assert h["address"].endswith("号") if h["village"][9] == "2" else h["address"].endswith("室")
    counties = {h[:6] for h in column(pop, "civil.households", "village")}
    assert len(counties) == 9


def test_a_household_and_its_members(pop: Population) -> None:
    hid = column(pop, "civil.households", "household")[1234]
    h = pop.household(hid)
    rows = [m for m in table(pop, "civil.members").to_pylist() if m["household"] == hid]
    assert [(m.id_number, m.name, m.relation, m.labour) for m in h.members] == [
        (r["id_number"], r["name"], r["relation"], r["labour"]) for r in rows
    ]
    assert h.members[0].relation == "户主" and h.village == hid[:12]
    with pytest.raises(KeyError):
        pop.household("360121100202" + "99999")
    with pytest.raises(KeyError):
        pop.household("999999999999" + "00001")


def test_illness_bills_a_member_of_the_household() -> None:
    p = Population(3000, seed=15, as_of=AS_OF)
    hid = p.pick_household("illness")
    h = p.household(hid)
    assert h.rural and h.status in ("一般户", "脱贫户")
    before = p.count("medical.bills")
    (row,) = p.illness(hid, 40_000).to_pylist()
    assert row["id_number"] in {m.id_number for m in h.members}
    assert (row["self_pay"], row["settled"]) == (40_000, AS_OF) and row["total"] > row["self_pay"]
    assert p.count("medical.bills") == before + 1  # kept: a later load includes it
    again = p.illness(hid, 1_000, on=AS_OF - timedelta(days=3)).to_pylist()[0]
    assert again["bill"] != row["bill"] and again["settled"] == AS_OF - timedelta(days=3)
    # it is where a screening would now see the burden, and no other risk: authorised, income low
    # but steady, no severe disability, no disaster, no unemployment
    view = p.screening_view(p.index_of(hid) // CHUNK)
    i = p.index_of(hid) - view["household"][0]
    assert view["authorised"][i] and view["income_12m"][i] / len(h.members) < 9000
    assert view["income_12m"][i] >= 0.7 * view["income_prev_12m"][i]
    assert not (view["severe_disability"][i] or view["disaster_12m"][i] or view["unemployed"][i])
    assert all(m.disability not in (1, 2) for m in h.members)
    # the next shock goes to another household, and a flood to a village none hit
    assert p.pick_household("job_loss") != hid and p.pick_household("illness") != hid
    assert not p.pick_village(households=1).startswith(hid[:12])


def test_job_loss_registers_the_earner_and_stops_the_wages() -> None:
    p = Population(3000, seed=15, as_of=AS_OF)
    hid = p.pick_household("job_loss")
    members = {m.id_number for m in p.household(hid).members}
    wages = [w for w in table(p, "hrss.wages").to_pylist() if w["id_number"] in members]
    on = date(2026, 6, 10)
    (row,) = p.job_loss(hid, on=on).to_pylist()
    assert row["id_number"] in members and row["registered"] == on and row["ended"] is None
    earner = row["id_number"]
    assert any(w["id_number"] == earner and w["month"] >= date(2026, 6, 1) for w in wages)
    after = [w for w in table(p, "hrss.wages").to_pylist() if w["id_number"] == earner]
    assert after and all(w["month"] < date(2026, 6, 1) for w in after)  # paid until the month before
    assert row in table(p, "hrss.unemployment").to_pylist()


def test_a_flood_reports_households_of_the_village() -> None:
    p = Population(3000, seed=15, as_of=AS_OF)
    village = p.pick_village(households=4)
    assert village[9] == "2" and nanchang().get(village) is not None
    rows = p.flood(village, households=4).to_pylist()
    assert len(rows) == 4 and len({r["household"] for r in rows}) == 4
    assert all(
        r["household"].startswith(village) and r["kind"] == "洪涝" and r["happened"] == AS_OF for r in rows
    )
    assert all(5_000 < r["loss"] < 200_000 for r in rows)
    assert len({r["report"] for r in rows + p.flood(village, households=4).to_pylist()}) == 8
    with pytest.raises(KeyError):
        p.flood("360121100999")


CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def code_check(code: str) -> str:
    """GB 32100's check character (mod 31) of a 统一社会信用代码's first 17 characters."""
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    return CODE_CHARS[
        (31 - sum(CODE_CHARS.index(x) * w for x, w in zip(code[:17], weights, strict=True)) % 31) % 31
    ]


def org_check(org: str) -> str:
    """GB 11714's check character of an organisation code's first 8 characters (letters A=10 ...)."""
    total = sum(
        (int(ch) if ch.isdigit() else ord(ch) - 55) * w
        for ch, w in zip(org, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)
    )
    c = 11 - total % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def test_credit_codes_carry_their_check_characters() -> None:
    known = "91350100M000100Y43"  # a real code, the usual worked example: the checks above reproduce it
    assert code_check(known) == known[17] and org_check(known[8:16]) == known[16]
    codes = credit_codes(
        np.array([2, 1, 3]), np.array([360121, 360102, 360124]), np.array([1, 12_345_678, 99])
    )
    for c, start in zip(codes.to_pylist(), ["92360121", "91360102", "93360124"], strict=True):
        assert c.startswith(start) and len(c) == 18
        assert c[17] == code_check(c) and c[16] == org_check(c[8:16])
    for c in column(Population(2000, seed=1, as_of=AS_OF), "market.businesses", "credit_code"):
        assert c[17] == code_check(c) and c[16] == org_check(c[8:16])


@settings(max_examples=15, deadline=None)
@given(
    households=st.integers(min_value=1, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    days=st.integers(min_value=0, max_value=20_000),
)
def test_any_small_population_has_valid_unique_ids(households: int, seed: int, days: int) -> None:
    p = Population(households, seed=seed, as_of=date(2000, 1, 1) + timedelta(days=days))
    ids = column(p, "civil.members", "id_number")
    assert len(ids) == len(set(ids)) == p.people >= households
    ds = DATASETS["civil.members"]
    for no, row in enumerate(table(p, "civil.members").to_pylist(), start=2):
        assert check_row(ds, no, {c.header: row[c.name] for c in ds.columns})[1] == []
