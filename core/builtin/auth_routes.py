"""Login, logout, users, API keys and the audit log."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from sigmavault import hookimpl
from sigmavault.api import Page, PageQuery
from sigmavault.app import get_app
from sigmavault.audit import AuditRecord, AuditVerify
from sigmavault.auth import CSRF_COOKIE, SESSION_COOKIE, identity
from sigmavault.device_cookies import DEVICE_COOKIE
from sigmavault.errors import APIError
from sigmavault.validation import Name



class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class User(BaseModel):
    id: int
    username: str
    role: str
    created_at: str
    password_changed_at: str


class LoginOut(BaseModel):
    user: User
    csrf_token: str
    expires_in: int


class Me(BaseModel):
    username: str
    role: str
    via: str
    csrf_token: str | None = None


class UserCreate(BaseModel):
    username: Name
    password: str = Field(min_length=8, max_length=1024)
    role: str = Field("readonly", pattern="^(admin|readonly)$")


class PasswordBody(BaseModel):
    password: str = Field(min_length=8, max_length=1024)
    current_password: str | None = Field(
        None, min_length=1, max_length=1024,
        description="required to change your own password; not to reset another user's")


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: str | None = Field(None, pattern="^(admin|readonly)$")
    expires_days: int | None = Field(None, ge=1, le=3650)


class ApiKey(BaseModel):
    id: str
    name: str
    role: str
    username: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked: bool


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the secret; shown only in this response")


class AuditQuery(PageQuery):
    actor: str | None = Field(None, max_length=64)
    action: str | None = Field(None, max_length=128, description="LIKE pattern, '*' as wildcard")


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto") == "https"


@hookimpl
def register_routes(app: Any) -> None:
    api = app.api

    @api.post("/auth/login", body=LoginBody, response=LoginOut, status=200, public=True,
              tags=["auth"], errors=[401, 429])
    async def login(request: web.Request, body: LoginBody) -> web.Response:
        """Sign in; sets an HttpOnly session cookie and returns the CSRF token for writes.

        Also sets a long-lived device cookie: failed logins from elsewhere do not lock out a
        browser that presents it for the same user (it has its own failure budget)."""
        sv = get_app(request)
        address = request.remote or "-"
        try:
            login = sv.auth.login(body.username, body.password, address,
                                  request.cookies.get(DEVICE_COOKIE))
        except APIError as exc:
            sv.audit_log.record(body.username, address, "auth.login", body.username, f"error {exc.status}")
            raise
        sv.audit_log.record(body.username, address, "auth.login", body.username, "ok")
        out = LoginOut(user=login.user, csrf_token=login.csrf, expires_in=sv.auth.idle)
        response = web.json_response(out.model_dump(mode="json"))
        secure = _secure(request)
        response.set_cookie(SESSION_COOKIE, login.session, httponly=True, samesite="Strict",
                            secure=secure, path="/", max_age=sv.auth.absolute)
        response.set_cookie(CSRF_COOKIE, login.csrf, httponly=False, samesite="Strict",
                            secure=secure, path="/", max_age=sv.auth.absolute)
        response.set_cookie(DEVICE_COOKIE, login.device_cookie, httponly=True, samesite="Strict",
                            secure=secure, path="/",
                            max_age=sv.config.auth.device_cookie_days * 86400)
        return response

    @api.post("/auth/logout", role="readonly", tags=["auth"])
    async def logout(request: web.Request) -> web.Response:
        """End this session."""
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            get_app(request).auth.logout(token)
        response = web.Response(status=204)
        response.del_cookie(SESSION_COOKIE, path="/")
        response.del_cookie(CSRF_COOKIE, path="/")
        return response

    @api.get("/auth/me", response=Me, tags=["auth"])
    async def me(request: web.Request) -> dict:
        """Who is calling, with which role, and the CSRF token of a session."""
        ident = identity(request)
        return {"username": ident.user, "role": ident.role, "via": ident.via, "csrf_token": ident.csrf}

    @api.get("/auth/users", response=list[User], role="admin", tags=["auth"])
    async def list_users(request: web.Request) -> list:
        """All local users."""
        return get_app(request).auth.list_users()

    @api.post("/auth/users", body=UserCreate, response=User, tags=["auth"],
              errors=[409])  # the user exists
    async def create_user(request: web.Request, body: UserCreate) -> dict:
        """Create a local user (password hashed with argon2id)."""
        return get_app(request).auth.create_user(body.username, body.password, body.role)

    @api.put("/auth/users/{username}/password", body=PasswordBody, role="readonly",
             tags=["auth"], errors=[429])
    async def set_password(request: web.Request, username: str, body: PasswordBody) -> None:
        """Change a password: your own with your current one, or anyone's as admin.

        Ends every session of that user (the caller's own included); their API keys stay valid."""
        ident = identity(request)
        auth = get_app(request).auth
        if ident.user == username:
            if body.current_password is None:
                raise APIError(422, "validation_error", "invalid body: current_password: required "
                               "to change your own password",
                               {"errors": [{"loc": ["body", "current_password"],
                                            "msg": "Field required", "type": "missing"}]})
            auth.check_password(username, body.current_password, request.remote or "-",
                                request.cookies.get(DEVICE_COOKIE))
        elif ident.role != "admin":
            raise APIError(403, "forbidden", "only an admin can change another user's password")
        auth.set_password(username, body.password)

    @api.delete("/auth/users/{username}", tags=["auth"])
    async def delete_user(request: web.Request, username: str) -> None:
        """Delete a user with their sessions and API keys (never the last admin)."""
        get_app(request).auth.delete_user(username)

    @api.get("/auth/keys", response=list[ApiKey], role="admin", tags=["auth"])
    async def list_keys(request: web.Request) -> list:
        """API keys (never their secrets) with last use and expiry."""
        return get_app(request).auth.list_keys()

    @api.post("/auth/keys", body=KeyCreate, response=ApiKeyCreated, tags=["auth"])
    async def create_key(request: web.Request, body: KeyCreate) -> dict:
        """Create an API key for scripts; the secret is in this response only."""
        secret, key = get_app(request).auth.create_key(identity(request).user, body.name, body.role,
                                                       body.expires_days)
        return {**key, "key": secret}

    @api.delete("/auth/keys/{key_id}", response=ApiKey, status=200, tags=["auth"])
    async def revoke_key(request: web.Request, key_id: str) -> dict:
        """Revoke an API key; it stops working at once."""
        return get_app(request).auth.revoke_key(key_id)

    @api.get("/audit", query=AuditQuery, response=Page[AuditRecord], role="admin", tags=["audit"])
    async def audit(request: web.Request, query: AuditQuery) -> dict:
        """The audit log, newest first."""
        items, total = get_app(request).audit_log.list(query.limit, query.offset, query.actor, query.action)
        return {"items": items, "total": total, "limit": query.limit, "offset": query.offset}

    @api.get("/audit/verify", response=AuditVerify, role="admin", tags=["audit"])
    async def audit_verify(request: web.Request) -> dict:
        """Check the audit log's hash chain; names the first record that was changed."""
        return get_app(request).audit_log.verify()


