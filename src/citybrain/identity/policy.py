"""Who may do what, where: a Casbin RBAC model over the organisation's roles.

A request is (role, scene, action, area, own areas); a policy line is (role, scene, action, area);
roles include roles (Casbin's ``g``). API tokens are principals too: each scope is a role of its
own (``scope:read`` ...), so one model decides for people and integrations alike. Field masks are
the organisation's, per role and scene: a field is masked when every role that lets the principal
read the scene masks it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import casbin
from casbin import model as casbin_model

from citybrain.identity.org import ANY, OWN, Organisation, Permission, Role, covers

MODEL = """
[request_definition]
r = sub, scene, act, area, own

[policy_definition]
p = sub, scene, act, area

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && (p.scene == "*" || r.scene == p.scene) && (p.act == "*" || r.act == p.act) \
&& areaIn(r.area, p.area, r.own)
"""

SELF = "self"  # the scene of one's own identity routes (/api/v1/auth/...)

# API token scopes as roles: what each scope has always meant (core.tokens.IMPLIES)
SCOPE_ROLES = [
    Role("scope:ingest", {"en": "ingest token"}, [Permission(ANY, "ingest")]),
    Role("scope:read", {"en": "read token"}, [Permission(ANY, "read")]),
    Role("scope:operate", {"en": "operate token"}, [Permission(ANY, "operate")], includes=["scope:read"]),
    Role("scope:admin", {"en": "admin token"}, [Permission(ANY, ANY)]),
]


@dataclass(frozen=True)
class Principal:
    """Who a request is: a person (``user``) or an integration's token (``token``)."""

    kind: str  # "user" or "token"
    id: str
    name: str
    roles: tuple[str, ...]
    department: str = ""
    areas: tuple[str, ...] = ()  # their own areas (@own)


def _area_in(requested: str, granted: str, own: str) -> bool:
    """``requested`` empty: any grant of the scene and action will do (the route filters by area)."""
    if granted == OWN:
        mine = [a for a in own.split(",") if a]
        return bool(mine) and (not requested or any(covers(a, requested) for a in mine))
    return not requested or covers(granted, requested)


class Policy:
    def __init__(self, org: Organisation) -> None:
        self.org = org
        m = casbin_model.Model()
        m.load_model_from_text(MODEL)
        self._e = casbin.Enforcer(m)
        self._e.add_function("areaIn", _area_in)
        self._masks: dict[str, dict[str, frozenset[str]]] = {}
        for role in [*org.roles, *SCOPE_ROLES]:
            for p in role.permissions:
                self._e.add_policy(role.name, p.scene, p.action, p.area)
            for inc in role.includes:
                self._e.add_grouping_policy(role.name, inc)
            self._masks[role.name] = {scene: frozenset(f) for scene, f in role.mask.items()}
        # casbin evaluates its matcher with Python's ast, which CPython 3.11 does not let two threads
        # run at once ("AST constructor recursion depth mismatch"): one enforcement at a time, and
        # each answer kept (the policy does not change while it runs)
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str, str, str, str], bool] = {}

    def _enforce(self, role: str, scene: str, action: str, area: str, own: str) -> bool:
        key = (role, scene, action, area, own)
        hit = self._answers.get(key)
        if hit is None:
            with self._lock:
                hit = bool(self._e.enforce(role, scene, action, area, own))
                if len(self._answers) > 100_000:
                    self._answers.clear()
                self._answers[key] = hit
        return hit

    def allows(self, who: Principal, scene: str, action: str, area: str = "") -> bool:
        """May ``who`` take ``action`` in ``scene`` (for ``area``, or anywhere it has a grant)?
        Everyone may read the pseudo-scene ``self`` (who they are, their own session)."""
        if scene == SELF and action == "read":
            return True
        own = ",".join(who.areas)
        return any(self._enforce(role, scene, action, area, own) for role in who.roles)

    def areas(self, who: Principal, scene: str, action: str) -> tuple[str, ...] | None:
        """The areas ``who`` may act in: None for everywhere, else area codes (each covering what
        it prefixes); empty when none."""
        out: list[str] = []
        for role in who.roles:
            with self._lock:
                grants = self._e.get_implicit_permissions_for_user(role)
            for _sub, p_scene, p_act, p_area in grants:
                if p_scene not in (ANY, scene) or p_act not in (ANY, action):
                    continue
                if p_area == ANY:
                    return None
                out.extend(who.areas if p_area == OWN else [p_area])
        return tuple(sorted(set(out)))

    def sensitive(self, scene: str) -> frozenset[str]:
        """The fields of ``scene`` some role sees masked: reading them unmasked is audited."""
        out: set[str] = set()
        for masks in self._masks.values():
            out |= masks.get(scene, frozenset())
        return frozenset(out)

    def masked(self, who: Principal, scene: str) -> frozenset[str]:
        """Fields of ``scene``'s records shown masked to ``who``."""
        own = ",".join(who.areas)
        sets = [
            self._masks.get(role, {}).get(scene, frozenset())
            for role in who.roles
            if self._enforce(role, scene, "read", "", own)
        ]
        return frozenset.intersection(*sets) if sets else frozenset()


def mask_value(value: object) -> object:
    """A personal value shown masked: 张*三, 138****5678, 360102********1234 (an 18-character GB 11643
    number keeps its region and last four, 11 and more characters their first three and last four,
    shorter text its first and last character). Non-text is hidden whole."""
    if not isinstance(value, str):
        return None
    n = len(value)
    keep = (6, 4) if n == 18 else (3, 4) if n >= 11 else (1, 1) if n >= 3 else (1, 0) if n == 2 else (0, 0)
    head, tail = keep
    return value[:head] + "*" * max(n - head - tail, 1 if n <= 1 else 0) + (value[n - tail :] if tail else "")


def apply_mask(record: Mapping[str, object], fields: Collection[str]) -> dict[str, object]:
    return {k: (mask_value(v) if k in fields else v) for k, v in record.items()}
