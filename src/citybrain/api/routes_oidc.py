"""Sign-in with the city's identity provider (OpenID Connect), through Authlib's Starlette client.

``GET /api/v1/auth/oidc/login`` sends the browser to the provider's authorization endpoint: the
authorization code flow with PKCE (S256), a random ``state`` and ``nonce``. ``GET
/api/v1/auth/oidc/callback`` takes the provider's answer: Authlib checks the state, exchanges the
code (with the PKCE verifier and the client secret) and validates the ID token: its signature with
the provider's JWKS, issuer, audience, nonce and expiry. The person is then the local user named by
the ``identity.oidc_username_claim`` claim (``Directory.sign_in_external``): an enabled local
account must exist, and its roles, department and areas are citybrain's, never the provider's. The
session is the one password sign-in makes (cookie ``cb_session``, CSRF token); the browser goes on
to the dashboard.

Between the two requests the flow's secrets (state, nonce, PKCE verifier) live in a short-lived
cookie signed with HMAC-SHA256 under a key derived from the client secret (HttpOnly, SameSite=Lax
because the callback is a top-level navigation from the provider, scoped to /api/v1/auth/oidc,
used once). Authlib keeps them in ``request.session``; this module gives it that dict from the
cookie, so no session middleware is needed and any API process can take the callback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import is_secure_transport
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.types import DecoratedCallable
from joserfc.errors import JoseError

from citybrain.api.auth import SESSION_COOKIE, Who
from citybrain.api.documented import error_answer
from citybrain.core.config import IdentitySettings
from citybrain.core.errors import AuthError, ConfigError, NotFoundError
from citybrain.identity.directory import NOT_ADMITTED, Directory

try:  # Authlib's HTTP client is httpx2 when it is installed, else httpx
    from httpx2 import HTTPError as _Httpx2Error

    _HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, _Httpx2Error)
except ImportError:  # pragma: no cover - depends on the environment
    _HTTP_ERRORS = (httpx.HTTPError,)

log = logging.getLogger(__name__)
router = APIRouter(tags=["identity"])

PREFIX = "/api/v1/auth/oidc"
FLOW_COOKIE = "cb_oidc"  # the signed state of one sign-in, between login and callback
FLOW_TTL_S = 600  # a sign-in at the provider must finish within this
AFTER_SIGN_IN = "/"  # the dashboard
PROVISION_MODES = ("existing",)
# the provider could not be asked, or answered something that is not OIDC
_PROVIDER_ERRORS: tuple[type[Exception], ...] = (*_HTTP_ERRORS, ValueError, KeyError, RuntimeError)


class Oidc:
    """citybrain as one OIDC relying party (``identity.oidc_*`` settings)."""

    def __init__(self, ids: IdentitySettings) -> None:
        missing = [f"identity.oidc_{k}" for k in ("client_id", "client_secret", "redirect_url")
                   if not getattr(ids, f"oidc_{k}")]  # fmt: skip
        if missing:
            raise ConfigError(f"OIDC sign-in (identity.oidc_issuer is set) needs {', '.join(missing)}")
        for name in ("issuer", "redirect_url"):
            url = getattr(ids, f"oidc_{name}")
            if not is_secure_transport(url):
                raise ConfigError(f"identity.oidc_{name} {url!r}: an https URL (http only on loopback)")
        if "openid" not in ids.oidc_scopes.split():
            raise ConfigError(f"identity.oidc_scopes {ids.oidc_scopes!r} must include openid")
        if ids.oidc_provision not in PROVISION_MODES:
            raise ConfigError(f"identity.oidc_provision {ids.oidc_provision!r}: one of {PROVISION_MODES}")
        self.issuer = ids.oidc_issuer
        self.redirect_url = ids.oidc_redirect_url
        self.username_claim = ids.oidc_username_claim
        self.client: Any = OAuth().register(
            "citybrain",
            client_id=ids.oidc_client_id,
            client_secret=ids.oidc_client_secret,
            server_metadata_url=f"{self.issuer.rstrip('/')}/.well-known/openid-configuration",
            client_kwargs={"scope": ids.oidc_scopes, "code_challenge_method": "S256", "timeout": 10.0},
        )
        secret = ids.oidc_client_secret.encode()
        self._key = hmac.new(secret, b"citybrain oidc flow cookie", hashlib.sha256).digest()

    # -- the flow's cookie ----------------------------------------------------------------------
    def seal(self, data: dict[str, Any], now_s: float) -> str:
        body = _b64(json.dumps({"exp": int(now_s) + FLOW_TTL_S, "data": data}).encode())
        return f"{body}.{self._mac(body)}"

    def unseal(self, value: str | None, now_s: float) -> dict[str, Any]:
        """The flow's data, or ``{}`` when the cookie is missing, forged or expired."""
        body, _, mac = (value or "").partition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            return {}
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return {}
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            return {}
        exp = payload.get("exp")
        return payload["data"] if isinstance(exp, int) and exp >= now_s else {}

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def flow_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            FLOW_COOKIE, value, max_age=FLOW_TTL_S, path=PREFIX, httponly=True, samesite="lax",
            secure=self.redirect_url.startswith("https://"),
        )  # fmt: skip


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def from_settings(ids: IdentitySettings) -> Oidc | None:
    """The relying party, or None when ``identity.oidc_issuer`` is empty (OIDC off)."""
    return Oidc(ids) if ids.oidc_issuer else None


def _oidc(request: Request) -> Oidc:
    oidc: Oidc | None = getattr(request.app.state, "oidc", None)
    if oidc is None:
        raise NotFoundError("OIDC sign-in is not configured (identity.oidc_issuer)")
    return oidc


def _provider_failed(err: Exception) -> JSONResponse:
    log.warning("OIDC: the identity provider failed: %s: %s", type(err).__name__, err)
    return JSONResponse(
        {"error": "IdentityProviderError", "message": f"the identity provider failed: {type(err).__name__}"},
        status_code=502,
    )


async def _username(oidc: Oidc, token: dict[str, Any], claims: dict[str, Any]) -> object:
    """The username claim of the ID token, else of the userinfo endpoint's answer for the same
    subject (providers such as oidc-provider put profile claims only there when an access token
    is issued)."""
    if oidc.username_claim in claims or "access_token" not in token:
        return claims.get(oidc.username_claim)
    info = await oidc.client.userinfo(token=token)
    if info.get("sub") != claims.get("sub"):
        raise AuthError("OIDC sign-in refused: the userinfo answer is about another subject")
    return info.get(oidc.username_claim)


def redirect_answer(description: str) -> dict[str, Any]:
    """A documented redirect: no body, the next URL in ``Location``."""
    return {"description": description, "headers": {"Location": {"schema": {"type": "string"}}}}


PROVIDER_FAILED = error_answer("the identity provider cannot be reached or did not answer as OIDC says")


def redirecting(
    path: str, summary: str, status: int, description: str, errors: dict[int | str, dict[str, Any]]
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A GET route whose success is a redirect (``status``: ``description``), and its error answers."""
    answers = {status: redirect_answer(description), **errors}
    return router.get(f"{PREFIX}/{path}", summary=summary, response_class=RedirectResponse,
                      status_code=status, responses=answers)  # fmt: skip


@redirecting(
    "login",
    "Sign in with the city's identity provider (redirects there)",
    302,
    "a redirect to the provider's authorization endpoint",
    {502: PROVIDER_FAILED},
)
async def oidc_login(request: Request) -> Response:
    oidc = _oidc(request)
    request.scope["session"] = {}  # Authlib puts the flow's state, nonce and PKCE verifier here
    try:
        redirect: Response = await oidc.client.authorize_redirect(request, oidc.redirect_url)
    except _PROVIDER_ERRORS as err:
        return _provider_failed(err)
    oidc.flow_cookie(redirect, oidc.seal(request.scope["session"], time.time()))
    return redirect


@redirecting(
    "callback",
    "Where the identity provider sends the browser back; signs in and goes to the dashboard",
    303,
    "signed in (the session cookie is set): a redirect to the dashboard",
    {
        401: error_answer(
            "the sign-in was refused: by the provider, a state or ID token that does not check out, "
            "or no enabled local account for the identity"
        ),
        502: PROVIDER_FAILED,
    },
)
async def oidc_callback(
    request: Request,
    code: str | None = Query(None, max_length=4096, description="the authorization code"),
    state: str | None = Query(None, max_length=1024, description="the state sent at login"),
    iss: str | None = Query(None, max_length=1024, description="the provider that answers (RFC 9207)"),
    error: str | None = Query(None, max_length=256, description="the provider's refusal"),
    error_description: str | None = Query(None, max_length=1024),
) -> Response:
    oidc = _oidc(request)
    request.scope["session"] = oidc.unseal(request.cookies.get(FLOW_COOKIE), time.time())
    if iss is not None and iss != oidc.issuer:
        raise AuthError(f"OIDC sign-in refused: the answer comes from {iss!r}, not {oidc.issuer!r}")
    try:
        token = await oidc.client.authorize_access_token(
            request, claims_options={"iss": {"essential": True, "values": [oidc.issuer]}}
        )
    except (AuthlibBaseError, JoseError) as err:
        why = getattr(err, "description", None) or getattr(err, "error", None) or type(err).__name__
        raise AuthError(f"OIDC sign-in refused: {why}") from err
    except _PROVIDER_ERRORS as err:
        return _provider_failed(err)
    claims = token.get("userinfo")  # set only when an ID token came and was validated
    if not claims:
        raise AuthError("OIDC sign-in refused: the provider sent no ID token")
    try:
        username = await _username(oidc, token, claims)
    except AuthlibBaseError as err:
        raise AuthError(f"OIDC sign-in refused by the userinfo endpoint: {err}") from err
    except _PROVIDER_ERRORS as err:
        return _provider_failed(err)
    directory: Directory = request.app.state.directory
    now = time.time_ns() // 1_000_000
    try:
        secret, session, user = directory.sign_in_external(username if isinstance(username, str) else "", now)
    except AuthError:
        log.info("OIDC: %s=%r (sub %r) has no enabled local account", oidc.username_claim, username,
                 claims.get("sub"))  # fmt: skip
        raise AuthError(NOT_ADMITTED) from None
    who = Who(directory.principal(user), csrf=session.csrf)
    detail = {"username": user.username, "via": "oidc", "issuer": oidc.issuer}
    request.app.state.platform.store.audit(now, who.actor, "auth.login", user.id, detail)
    out = RedirectResponse(AFTER_SIGN_IN, status_code=303)
    out.set_cookie(
        SESSION_COOKIE, secret, httponly=True, samesite="strict", secure=request.url.scheme == "https",
        max_age=directory.limits.lifetime_s, path="/",
    )  # fmt: skip
    out.delete_cookie(FLOW_COOKIE, path=PREFIX)  # used once
    return out
