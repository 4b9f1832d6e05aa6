"""Users, sessions, API keys and login rate limiting (roles are enforced by ``sigmavault.pipeline``)."""

from __future__ import annotations

import contextvars
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .device_cookies import DeviceCookies
from .errors import APIError
from .login_limits import RateLimiter

if TYPE_CHECKING:  # pragma: no cover
    from .app import SigmaVault

ROLES = ("admin", "readonly")
SESSION_COOKIE = "sigmavault_session"
CSRF_COOKIE = "sigmavault_csrf"
CSRF_HEADER = "X-CSRF-Token"
KEY_PREFIX = "svk_"
KEY_CACHE_SECONDS = 10.0  # a checked API key is trusted this long without a database lookup

MIGRATIONS = ["""
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
""", """
CREATE TABLE auth_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
"""]

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps unknown-user logins as slow as wrong-password ones."""
    return _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class Identity:
    user: str
    role: str
    via: str  # session | api_key
    csrf: str | None = None
    session: str | None = None


IDENTITY = web.RequestKey("identity", Identity)
current_user: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_user", default=None)


def identity(request: web.Request) -> Identity:
    """Who made ``request`` (set by the request pipeline on every authenticated route)."""
    return request[IDENTITY]


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _now() -> datetime:
    """The wall clock API key expiry is judged by."""
    return datetime.now(timezone.utc)


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="seconds")


class Login(NamedTuple):
    session: str
    csrf: str
    user: dict[str, Any]
    device_cookie: str  # a fresh one for the browser after each successful login


class Auth:
    def __init__(self, app: "SigmaVault"):
        self.app = app
        cfg = app.config.auth
        self.idle = cfg.session_idle_seconds
        self.absolute = cfg.session_max_seconds
        self.limiter = RateLimiter(cfg.login_max_failures, cfg.login_lockout_seconds,
                                   max_lockout=cfg.login_max_lockout_seconds)
        self.devices = DeviceCookies(self._secret("device_cookie"))
        # secret hash → (who, key id, trusted until (monotonic), the key's expiry)
        self._key_cache: dict[str, tuple[Identity, str, float, datetime | None]] = {}

    @property
    def db(self):
        return self.app.db

    def _secret(self, name: str) -> bytes:
        """A random key kept in the database, made on first use."""
        self.db.execute("INSERT OR IGNORE INTO auth_secrets(name, value) VALUES(?, ?)",
                        (name, secrets.token_bytes(32)))
        return self.db.one("SELECT value FROM auth_secrets WHERE name=?", (name,))["value"]

    # --- users -----------------------------------------------------------------------------------

    def create_user(self, username: str, password: str, role: str = "readonly") -> dict[str, Any]:
        if role not in ROLES:
            raise APIError(422, "invalid_role", f"role must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise APIError(422, "weak_password", "password must have at least 8 characters")
        if self.db.one("SELECT 1 FROM users WHERE username=?", (username,)):
            raise APIError(409, "user_exists", f"user {username!r} already exists")
        stamp = _iso(datetime.now(timezone.utc))
        self.db.execute("INSERT INTO users(username, password_hash, role, created_at, "
                        "password_changed_at) VALUES(?,?,?,?,?)",
                        (username, _hasher.hash(password), role, stamp, stamp))
        return self.get_user(username)

    def get_user(self, username: str) -> dict[str, Any]:
        row = self.db.one("SELECT id, username, role, created_at, password_changed_at FROM users "
                          "WHERE username=?", (username,))
        if row is None:
            raise APIError(404, "not_found", f"user {username!r} does not exist", {"kind": "user"})
        return row

    def list_users(self) -> list[dict[str, Any]]:
        return self.db.all("SELECT id, username, role, created_at, password_changed_at FROM users "
                           "ORDER BY username")

    def set_password(self, username: str, password: str) -> None:
        if len(password) < 8:
            raise APIError(422, "weak_password", "password must have at least 8 characters")
        user = self.get_user(username)
        self.db.execute("UPDATE users SET password_hash=?, password_changed_at=? WHERE id=?",
                        (_hasher.hash(password), _iso(datetime.now(timezone.utc)), user["id"]))
        self.db.execute("DELETE FROM sessions WHERE user_id=?", (user["id"],))

    def delete_user(self, username: str) -> None:
        user = self.get_user(username)
        if user["role"] == "admin" and self.db.one(
                "SELECT count(*) AS n FROM users WHERE role='admin'")["n"] <= 1:
            raise APIError(409, "last_admin", "the last admin cannot be deleted")
        self.db.execute("DELETE FROM users WHERE id=?", (user["id"],))
        self._key_cache.clear()

    def ensure_admin(self) -> str | None:
        """On first start create ``admin`` with a random password; return it (shown once)."""
        if self.db.one("SELECT 1 FROM users LIMIT 1"):
            return None
        password = secrets.token_urlsafe(18)
        self.create_user("admin", password, "admin")
        return password

    # --- login and sessions ----------------------------------------------------------------------

    def _verify(self, username: str, password: str) -> dict[str, Any] | None:
        """The user's row if ``password`` is theirs (as slow for unknown users)."""
        row = self.db.one("SELECT * FROM users WHERE username=?", (username,))
        try:
            _hasher.verify(row["password_hash"] if row else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return row

    def _limited_verify(self, username: str, password: str, address: str,
                        device: str | None) -> dict[str, Any]:
        """``_verify`` behind the rate limits: a known device of ``username`` answers only for
        its own failures; any other client for its address and for the user's unknown devices."""
        keys = (f"device:{device}",) if device else (f"addr:{address}", f"user:{username}")
        self.limiter.check(*keys)
        row = self._verify(username, password)
        if row is None:
            self.limiter.fail(*keys)
            raise APIError(401, "invalid_credentials", "wrong username or password")
        if device:
            self.limiter.reset(*keys)
        return row

    def login(self, username: str, password: str, address: str,
              device_cookie: str | None = None) -> Login:
        """Verify credentials; a session, its CSRF token, the user and a new device cookie."""
        row = self._limited_verify(username, password, address,
                                   self.devices.device_of(device_cookie, username))
        if _hasher.check_needs_rehash(row["password_hash"]):
            self.db.execute("UPDATE users SET password_hash=? WHERE id=?",
                            (_hasher.hash(password), row["id"]))
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        t = time.time()
        self.db.execute("INSERT INTO sessions(token_hash, user_id, csrf, created, last_seen) "
                        "VALUES(?,?,?,?,?)", (_sha256(token), row["id"], csrf, t, t))
        self.db.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                        (t - self.idle, t - self.absolute))
        return Login(token, csrf, self.get_user(username), self.devices.issue(username))

    def check_password(self, username: str, password: str, address: str,
                       device_cookie: str | None = None) -> None:
        """Confirm ``password`` is ``username``'s (before they change it), under the login
        limits: a 403 when it is wrong, so that a session cannot be used to guess it."""
        try:
            self._limited_verify(username, password, address,
                                 self.devices.device_of(device_cookie, username))
        except APIError as exc:
            if exc.status != 401:
                raise
            raise APIError(403, "wrong_password", "current_password is not this user's password",
                           {"field": "current_password"}) from None

    def logout(self, token: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE token_hash=?", (_sha256(token),))

    def session(self, token: str) -> Identity | None:
        token_hash = _sha256(token)
        row = self.db.one("SELECT s.*, u.username, u.role FROM sessions s JOIN users u "
                          "ON u.id = s.user_id WHERE s.token_hash=?", (token_hash,))
        if row is None:
            return None
        t = time.time()
        if t - row["last_seen"] > self.idle or t - row["created"] > self.absolute:
            self.db.execute("DELETE FROM sessions WHERE token_hash=?", (token_hash,))
            return None
        if t - row["last_seen"] > 5:
            self.db.execute("UPDATE sessions SET last_seen=? WHERE token_hash=?", (t, token_hash))
        return Identity(row["username"], row["role"], "session", row["csrf"], token_hash)

    # --- API keys --------------------------------------------------------------------------------

    def create_key(self, username: str, name: str, role: str | None = None,
                   expires_days: int | None = None) -> tuple[str, dict[str, Any]]:
        """Create an API key for ``username``; the secret is returned once and stored hashed."""
        user = self.get_user(username)
        role = role or user["role"]
        if role not in ROLES or (user["role"] == "readonly" and role == "admin"):
            raise APIError(422, "invalid_role", f"a {user['role']} user cannot create a {role} key")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        created = _now()
        expires = _iso(created + timedelta(days=expires_days)) if expires_days else None
        self.db.execute("INSERT INTO api_keys(id, name, key_hash, user_id, role, created_at, "
                        "expires_at) VALUES(?,?,?,?,?,?,?)",
                        (key_id, name, _sha256(secret), user["id"], role, _iso(created), expires))
        return f"{KEY_PREFIX}{key_id}_{secret}", self.get_key(key_id)

    def get_key(self, key_id: str) -> dict[str, Any]:
        row = self.db.one("SELECT k.id, k.name, k.role, k.created_at, k.expires_at, k.last_used_at, "
                          "k.revoked, u.username FROM api_keys k JOIN users u ON u.id=k.user_id "
                          "WHERE k.id=?", (key_id,))
        if row is None:
            raise APIError(404, "not_found", f"API key {key_id!r} does not exist", {"kind": "api_key"})
        row["revoked"] = bool(row["revoked"])
        return row

    def list_keys(self) -> list[dict[str, Any]]:
        ids = self.db.all("SELECT id FROM api_keys ORDER BY created_at")
        return [self.get_key(r["id"]) for r in ids]

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        self.get_key(key_id)
        self.db.execute("UPDATE api_keys SET revoked=1 WHERE id=?", (key_id,))
        self._key_cache.clear()
        return self.get_key(key_id)

    def api_key(self, presented: str) -> Identity | None:
        if not presented.startswith(KEY_PREFIX) or presented.count("_") < 2:
            return None
        key_id, _, secret = presented[len(KEY_PREFIX):].partition("_")
        secret_hash = _sha256(secret)
        cached = self._key_cache.get(secret_hash)
        if cached and cached[1] == key_id and cached[2] > time.monotonic() and (
                cached[3] is None or cached[3] > _now()):
            return cached[0]
        row = self.db.one("SELECT k.*, u.username FROM api_keys k JOIN users u ON u.id=k.user_id "
                          "WHERE k.id=?", (key_id,))
        if row is None or not hmac.compare_digest(row["key_hash"], secret_hash):
            return None
        if row["revoked"]:
            return None
        stamp = _now()
        expires = datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None
        if expires is not None and expires <= stamp:
            return None
        if not row["last_used_at"] or (stamp - datetime.fromisoformat(row["last_used_at"])).total_seconds() > 60:
            self.db.execute("UPDATE api_keys SET last_used_at=? WHERE id=?", (_iso(stamp), key_id))
        ident = Identity(row["username"], row["role"], "api_key")
        if len(self._key_cache) > 10_000:
            self._key_cache.clear()
        self._key_cache[secret_hash] = (ident, key_id, time.monotonic() + KEY_CACHE_SECONDS, expires)
        return ident

    # --- per request -----------------------------------------------------------------------------

    def identify(self, request: web.Request) -> Identity | None:
        """The caller of ``request``: its API key, else its session cookie (parsing the Cookie
        header costs more than the whole key check, so it is only read without a key)."""
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            return self.api_key(authorization[7:].strip())
        token = request.cookies.get(SESSION_COOKIE)
        return self.session(token) if token else None

    @staticmethod
    def authorize(identity: Identity, role: str) -> None:
        if role == "admin" and identity.role != "admin":
            raise APIError(403, "forbidden", f"this needs the admin role; {identity.user} is "
                           f"{identity.role}", {"required_role": role})
