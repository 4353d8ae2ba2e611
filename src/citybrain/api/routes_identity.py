"""Sign-in for people (the console and the big screen) and the directory of users.

``POST /api/v1/auth/login`` takes a username, password and (when enrolled) a TOTP code and sets
the session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS); the answer carries the CSRF
token the page sends back as ``X-CSRF-Token`` on every change. ``GET /api/v1/auth/me`` says who
is signed in and what each scene lets them do. Users are managed by admins (``/api/v1/users``).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from citybrain.api.auth import SESSION_COOKIE, Who, require
from citybrain.api.documented import error_answer
from citybrain.identity.directory import Directory, User
from citybrain.identity.org import ACTIONS

router = APIRouter(tags=["identity"])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def directory(request: Request) -> Directory:
    d: Directory = request.app.state.directory
    return d


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field("", max_length=10)  # TOTP, when the account has one


class Me(BaseModel):
    kind: str
    id: str
    name: str
    department: str
    roles: list[str]
    role_titles: dict[str, dict[str, str]]  # role -> its title by locale (organisation roles)
    areas: list[str]
    can: dict[str, list[str]]  # scene -> actions allowed somewhere
    masked: dict[str, list[str]]  # scene -> fields shown masked
    csrf: str = ""


class UserView(BaseModel):
    id: str
    username: str
    name: str
    department: str
    roles: list[str]
    areas: list[str]
    totp: bool
    disabled: bool
    created_ts: int
    updated_ts: int


def view(u: User) -> UserView:
    return UserView(
        id=u.id, username=u.username, name=u.name, department=u.department, roles=u.roles,
        areas=u.areas, totp=bool(u.totp_secret), disabled=u.disabled, created_ts=u.created_ts,
        updated_ts=u.updated_ts,
    )  # fmt: skip


def me_of(request: Request, who: Who, csrf: str = "") -> Me:
    policy = request.app.state.policy
    scenes = ["platform", *sorted(request.app.state.platform.scenes)]
    p = who.principal
    return Me(
        kind=p.kind, id=p.id, name=p.name, department=p.department, roles=list(p.roles),
        role_titles={r.name: dict(r.title) for r in policy.org.roles if r.name in p.roles},
        areas=list(p.areas),
        can={s: [a for a in ACTIONS if policy.allows(p, s, a)] for s in scenes},
        masked={s: sorted(m) for s in scenes if (m := policy.masked(p, s))},
        csrf=csrf or who.csrf,
    )  # fmt: skip


@router.post(
    "/api/v1/auth/login",
    summary="Sign in with a username, password and TOTP code",
    responses={401: error_answer("wrong username, password or code, or the account is locked for a while")},
)
def login(request: Request, response: Response, body: Login) -> Me:
    d = directory(request)
    secret, session, user = d.sign_in(body.username, body.password, body.code, now_ms())
    response.set_cookie(
        SESSION_COOKIE, secret, httponly=True, samesite="strict", secure=request.url.scheme == "https",
        max_age=d.limits.lifetime_s, path="/",
    )  # fmt: skip
    who = Who(d.principal(user), csrf=session.csrf)
    _audit(request, who, "auth.login", user.id, {"username": user.username})
    return me_of(request, who, session.csrf)


@router.post("/api/v1/auth/logout", summary="Sign out (ends the session)")
def logout(request: Request, response: Response, who: Who = Depends(require("read"))) -> dict[str, bool]:
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        directory(request).sign_out(secret)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"signed_out": True}


@router.get("/api/v1/auth/me", summary="Who is signed in and what they may do")
def me(request: Request, who: Who = Depends(require("read"))) -> Me:
    return me_of(request, who)


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    department: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(min_length=1, max_length=20)
    areas: list[str] = Field(default_factory=list, max_length=100)
    password: str = Field(min_length=12, max_length=1024)


class UserChange(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    department: str | None = Field(None, min_length=1, max_length=64)
    roles: list[str] | None = Field(None, min_length=1, max_length=20)
    areas: list[str] | None = Field(None, max_length=100)
    disabled: bool | None = None


class NewPassword(BaseModel):
    password: str = Field(min_length=12, max_length=1024)


def _audit(request: Request, who: Who, action: str, target: str, detail: dict[str, Any]) -> None:
    request.app.state.platform.store.audit(now_ms(), who.actor, action, target, detail)


@router.get("/api/v1/users", summary="Users (admin)")
def users(request: Request, _: Who = Depends(require("admin"))) -> list[UserView]:
    return [view(u) for u in directory(request).store.users()]


@router.post("/api/v1/users", summary="Create a user (admin)")
def new_user(request: Request, body: NewUser, who: Who = Depends(require("admin"))) -> UserView:
    u = directory(request).create_user(
        body.username, body.name, body.department, body.roles, body.password, now_ms(), body.areas
    )
    _audit(
        request,
        who,
        "user.create",
        u.id,
        {"username": u.username, "roles": u.roles, "department": u.department},
    )
    return view(u)


@router.patch(
    "/api/v1/users/{user_id}", summary="Change a user's name, department, roles, areas or status (admin)"
)
def change_user(
    request: Request, user_id: str, body: UserChange, who: Who = Depends(require("admin"))
) -> UserView:
    changes = body.model_dump(exclude_none=True)
    u = directory(request).update_user(user_id, now_ms(), **changes)
    request.app.state.token_cache.clear()  # their tokens are re-checked at once
    _audit(request, who, "user.change", user_id, changes)
    return view(u)


@router.put("/api/v1/users/{user_id}/password", summary="Set a user's password (admin); their sessions end")
def set_password(
    request: Request, user_id: str, body: NewPassword, who: Who = Depends(require("admin"))
) -> dict[str, bool]:
    directory(request).set_password(user_id, body.password, now_ms())
    _audit(request, who, "user.password", user_id, {})
    return {"changed": True}


@router.post("/api/v1/users/{user_id}/totp", summary="Enrol a user in TOTP (admin); the URI is shown once")
def enrol_totp(request: Request, user_id: str, who: Who = Depends(require("admin"))) -> dict[str, str]:
    uri = directory(request).enrol_totp(user_id, now_ms())
    _audit(request, who, "user.totp", user_id, {})
    return {"provisioning_uri": uri}
