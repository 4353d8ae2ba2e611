"""Roles, areas and masks of the demo organisation, decided by the Casbin policy."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citybrain.core.errors import ConfigError
from citybrain.identity import org
from citybrain.identity.policy import Policy, Principal, apply_mask, mask_value

ORG = org.load()
POLICY = Policy(ORG)


def person(*roles: str, areas: tuple[str, ...] = (), dept: str = "") -> Principal:
    return Principal("user", "u1", "张三", roles, dept, areas)


def test_a_caseworker_sees_welfare_of_their_own_district_only() -> None:
    donghu = person("caseworker", areas=("360102",), dept="donghu-civil")
    assert POLICY.allows(donghu, "welfare", "read", "360102")
    assert POLICY.allows(donghu, "welfare", "read", "360102001")  # a street inside Donghu
    assert not POLICY.allows(donghu, "welfare", "read", "360103")  # Xihu
    assert not POLICY.allows(donghu, "welfare", "admin", "360102")
    assert POLICY.areas(donghu, "welfare", "read") == ("360102",)
    assert not POLICY.allows(donghu, "traffic", "read")


def test_a_caseworker_without_areas_is_granted_nothing_of_own_area_scope() -> None:
    nobody = person("caseworker")
    assert not POLICY.allows(nobody, "welfare", "read")
    assert POLICY.areas(nobody, "welfare", "read") == ()
    assert POLICY.allows(nobody, "pulse", "read")  # city-wide grants still hold


def test_a_traffic_engineer_sees_no_welfare_data() -> None:
    eng = person("traffic_engineer", areas=("3601",))
    assert POLICY.allows(eng, "traffic", "operate", "360111")
    assert not POLICY.allows(eng, "welfare", "read")
    assert not POLICY.allows(eng, "welfare", "read", "360111")
    assert POLICY.areas(eng, "welfare", "read") == ()


def test_operator_reads_everything_with_personal_fields_masked() -> None:
    op = person("operator")
    assert POLICY.allows(op, "welfare", "read", "360124")
    assert POLICY.areas(op, "welfare", "read") is None
    hidden = {"name", "id_number", "phone", "address", "bank_account", "diagnosis"}
    assert POLICY.masked(op, "welfare") == hidden
    assert POLICY.masked(op, "traffic") == frozenset()
    assert not POLICY.allows(op, "platform", "admin")


def test_a_field_is_masked_only_when_every_reading_role_masks_it() -> None:
    assert POLICY.masked(person("viewer"), "nev") == {"plate"}
    # the caseworker role cannot read nev, so it does not lift the viewer's mask
    assert POLICY.masked(person("viewer", "caseworker", areas=("360102",)), "nev") == {"plate"}
    # the admin reads nev unmasked: together nothing is masked
    assert POLICY.masked(person("viewer", "admin"), "nev") == frozenset()


def test_roles_include_roles() -> None:
    op = person("operator")
    assert POLICY.allows(op, "safety", "read")  # through viewer and its own * grant


def test_token_scopes_keep_their_meaning() -> None:
    def token(*scopes: str) -> Principal:
        return Principal("token", "t1", "sim", tuple(f"scope:{s}" for s in scopes))

    assert POLICY.allows(token("ingest"), "nev", "ingest") and not POLICY.allows(
        token("ingest"), "nev", "read"
    )
    assert POLICY.allows(token("operate"), "traffic", "read")  # operate implies read
    assert not POLICY.allows(token("operate"), "platform", "admin")
    assert POLICY.allows(token("admin"), "platform", "admin") and POLICY.allows(token("admin"), "x", "ingest")
    assert POLICY.masked(token("read"), "welfare") == frozenset()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧**娜"),
        ("13812345678", "138****5678"),
        ("360102199001011234", "360102********1234"),
        ("", "*"),
        (42, None),
    ],
)
def test_masked_values(value: object, shown: object) -> None:
    assert mask_value(value) == shown


@given(st.text(min_size=2, max_size=40))
def test_a_masked_text_hides_at_least_a_third_of_itself(text: str) -> None:
    shown = mask_value(text)
    assert isinstance(shown, str) and len(shown) == len(text)
    hidden = sum(1 for a, b in zip(shown, text, strict=True) if a == "*" and b != "*")
    assert hidden >= max(1, len(text) // 3) or "*" in text


def test_apply_mask_touches_only_the_named_fields() -> None:
    rec = {"name": "张三", "district": "360102", "phone": "13812345678"}
    assert apply_mask(rec, {"name", "phone"}) == {"name": "张*", "district": "360102", "phone": "138****5678"}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "org.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[[areas]]\ncode="1"\nname={}\n[[areas]]\ncode="1"\nname={}', "area '1' is defined twice"),
        ('[[departments]]\nid="d"\nname={}\narea="9"', "serves area '9', which is not an area"),
        (
            '[[areas]]\ncode="1"\nname={}\n[[departments]]\nid="a"\nname={}\narea="1"\nparent="b"\n'
            '[[departments]]\nid="b"\nname={}\narea="1"\nparent="a"',
            "form a cycle",
        ),
        ('[[roles]]\nname="r"\ntitle={}\nincludes=["x"]', "includes 'x', which is not a role"),
        ('[[roles]]\nname="r"\ntitle={}\npermissions=[{scene="a", action="fly"}]', "action 'fly'"),
        (
            '[[roles]]\nname="r"\ntitle={}\npermissions=[{scene="a", action="read", area="44"}]',
            "covers no area",
        ),
        ("[[roles]]\nname=1", "identity: organisation file"),
    ],
)
def test_a_bad_organisation_file_names_its_problem(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("(", r"\(")):
        org.load(write(tmp_path, text))


def test_department_ancestry() -> None:
    assert [d.id for d in ORG.ancestry("donghu-civil")] == ["donghu-civil", "nc-civil", "nc-gov"]


def test_many_threads_may_ask_the_policy_at_once() -> None:
    # casbin parses its matcher with ast, which two threads of CPython 3.11 must not do at once
    # (it raised "AST constructor recursion depth mismatch" from the API's thread pool)
    policy = Policy(ORG)  # a fresh one: nothing cached yet
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def ask(t: int) -> None:
        start.wait()
        try:
            for i in range(150):
                who = person("caseworker", "viewer", areas=(f"3601{i:02d}",), dept="donghu-civil")
                policy.allows(who, "welfare", "read", f"3601{i:02d}{t}")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=ask, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
