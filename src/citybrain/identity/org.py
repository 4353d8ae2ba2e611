"""The organisation: areas (administrative division codes; a code covers every code it prefixes:
``3601`` Nanchang covers ``360102`` Donghu and its streets ``360102001``...), departments as a tree,
each serving an area, and roles with their permissions. Read from a TOML file
(``identity.org_file``; the default is the Nanchang demo organisation shipped in the package).

A permission is ``scene`` (or ``*``), ``action`` (``read``, ``operate``, ``ingest``, ``admin``,
or ``*``) and ``area``: ``*`` (everywhere), an area code (that area and everything inside it) or
``@own`` (the areas of the person's own assignment: their department's area unless they have
areas of their own). ``mask`` lists, per scene, the fields shown masked to the role.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from citybrain import data
from citybrain.core.documents import read_document
from citybrain.core.errors import ConfigError

Names = dict[str, str]  # by locale
ANY = "*"
OWN = "@own"
ACTIONS = ("read", "operate", "ingest", "admin")


class Area(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    name: Names


class Department(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: Names
    area: str  # the area it serves
    parent: str = ""  # the department above it; empty at the top


class Permission(msgspec.Struct, forbid_unknown_fields=True):
    scene: str
    action: str
    area: str = ANY


class Role(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    title: Names
    permissions: list[Permission] = msgspec.field(default_factory=list)
    includes: list[str] = msgspec.field(default_factory=list)  # roles whose permissions it has too
    mask: dict[str, list[str]] = msgspec.field(default_factory=dict)  # scene -> fields shown masked


class Organisation(msgspec.Struct, forbid_unknown_fields=True):
    areas: list[Area] = msgspec.field(default_factory=list)
    departments: list[Department] = msgspec.field(default_factory=list)
    roles: list[Role] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        check(self)

    def role(self, name: str) -> Role:
        for r in self.roles:
            if r.name == name:
                return r
        raise ConfigError(f"no role {name!r}; roles: {', '.join(r.name for r in self.roles)}")

    def department(self, dept_id: str) -> Department:
        for d in self.departments:
            if d.id == dept_id:
                return d
        raise ConfigError(f"no department {dept_id!r}")

    def ancestry(self, dept_id: str) -> list[Department]:
        """The department and those above it, nearest first."""
        out, seen = [], set()
        d: Department | None = self.department(dept_id)
        while d is not None and d.id not in seen:
            out.append(d)
            seen.add(d.id)
            d = self.department(d.parent) if d.parent else None
        return out


def covers(area: str, code: str) -> bool:
    """Whether ``area`` (``*`` or a code) covers ``code``."""
    return area == ANY or code.startswith(area)


def check(org: Organisation) -> None:
    """Names unique, references resolvable, no cycles: a ConfigError naming the first problem."""
    for what, ids in (
        ("area", [a.code for a in org.areas]),
        ("department", [d.id for d in org.departments]),
        ("role", [r.name for r in org.roles]),
    ):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ConfigError(f"identity: {what} {dup[0]!r} is defined twice")
    codes = {a.code for a in org.areas}
    depts = {d.id: d for d in org.departments}
    roles = {r.name: r for r in org.roles}
    for d in org.departments:
        if d.area not in codes:
            raise ConfigError(f"identity: department {d.id!r} serves area {d.area!r}, which is not an area")
        if d.parent and d.parent not in depts:
            raise ConfigError(
                f"identity: department {d.id!r} has parent {d.parent!r}, which is not a department"
            )
    for d in org.departments:  # a parent chain must end
        seen, cur = {d.id}, d
        while cur.parent:
            cur = depts[cur.parent]
            if cur.id in seen:
                raise ConfigError(f"identity: departments {sorted(seen)} form a cycle")
            seen.add(cur.id)
    for r in org.roles:
        for inc in r.includes:
            if inc not in roles:
                raise ConfigError(f"identity: role {r.name!r} includes {inc!r}, which is not a role")
        for p in r.permissions:
            if p.action != ANY and p.action not in ACTIONS:
                raise ConfigError(f"identity: role {r.name!r}: action {p.action!r} is not one of {ACTIONS}")
            if p.area not in (ANY, OWN) and not any(c.startswith(p.area) for c in codes):
                raise ConfigError(f"identity: role {r.name!r}: area {p.area!r} covers no area")


DEFAULT_FILE = "identity/org.toml"


def load(path: str | Path = "") -> Organisation:
    """The organisation of ``path`` (TOML); empty: the demo organisation shipped in the package."""
    return read_document(path or data.path(DEFAULT_FILE), "identity: organisation", Organisation)
