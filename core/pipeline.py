"""What every request passes through: request id, authentication and authorization, CSRF, audit
of writes, the error envelope and the request log line.

It wraps each route's handler when the routes are mounted, rather than being an aiohttp
middleware: a middleware adds two layers of calls to every request (aiohttp's own
``_fix_request_current_app`` comes with the first one), which cost a fifth of the throughput of
``GET /api/v1/system/status`` in the benchmark against Glances (bench/system_vs_glances.py).
Requests that match no declared route reach :func:`unmatched`, wrapped the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from typing import TYPE_CHECKING, Awaitable, Callable

from aiohttp import web

from . import audit, logs
from .api import Route, json_response
from .auth import CSRF_HEADER, IDENTITY, Identity, current_user
from .errors import APIError

if TYPE_CHECKING:  # pragma: no cover
    from .app import SigmaVault

log = logging.getLogger("sigmavault")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Sent with every response the pipeline makes (a handler may set its own first, e.g. a page with
# inline styles). The web UI has no inline script; styles may be injected (toasts).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"  # only over TLS: a plain-HTTP answer cannot vouch for HTTPS


def wrapper(app: "SigmaVault") -> Callable[[Route | None, Handler], Handler]:
    """``wrap(route, handler)``: ``handler`` behind the pipeline, with ``route``'s access rules
    (None: no authentication, e.g. the web UI's files)."""

    def wrap(route: Route | None, handler: Handler) -> Handler:
        role = route.role if route else None

        def check(request: web.Request, identity: Identity | None) -> Identity:
            """``identity``, allowed to use the route; APIError 401/403 otherwise."""
            if identity is None:
                raise APIError(401, "unauthenticated", "sign in or send an API key "
                               "(Authorization: Bearer svk_…)")
            app.auth.authorize(identity, role)  # type: ignore[arg-type]
            if identity.via == "session" and request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not secrets.compare_digest(sent, identity.csrf or ""):
                    raise APIError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
            request[IDENTITY] = identity
            current_user.set(identity.user)
            return identity

        async def audited(request: web.Request) -> web.StreamResponse:
            """A write: admitted (or refused) and handled, then recorded with its outcome —
            refusals included. A public route's handler may record the attempt itself (login
            does, under its user name); then no generic record is added."""
            identity: Identity | None = None
            status: int = 500
            error: str | None = "internal_error"
            written, token = audit.watch()
            try:
                if role is not None:
                    identity = app.auth.identify(request)
                    check(request, identity)
                response = await handler(request)
                status, error = response.status, None
                return response
            except APIError as exc:
                status, error = exc.status, exc.code
                raise
            except web.HTTPException as exc:
                status, error = exc.status, None if exc.status < 400 else "http_error"
                raise
            finally:
                audit.unwatch(token)
                if role is not None or not written:
                    details: dict = dict(request.match_info)
                    if error:
                        details["error"] = error
                    app.audit_log.record(
                        identity.user if identity else audit.ANONYMOUS, request.remote or "-",
                        f"{request.method} {route.path}", request.path,  # type: ignore[union-attr]
                        "ok" if status < 400 else f"error {status}", details)

        async def serve(request: web.Request) -> web.StreamResponse:
            # a correlation id, not a secret: getrandbits avoids a getrandom() syscall per request
            rid = request.headers.get("X-Request-ID", "")[:64] or f"{random.getrandbits(64):016x}"
            token = logs.request_id.set(rid)
            started = time.monotonic()
            try:
                try:
                    if request.method in SAFE_METHODS or route is None:
                        if role is not None:
                            check(request, app.auth.identify(request))
                        response = await handler(request)
                    else:
                        response = await audited(request)
                except APIError as exc:
                    response = error_response(exc)
                except web.HTTPException as exc:
                    if not request.path.startswith("/api/") or exc.status < 400:
                        raise
                    response = error_response(_http_error(exc))
                except asyncio.CancelledError:
                    raise
                except ConnectionResetError:
                    if request.transport is not None and not request.transport.is_closing():
                        raise  # not this client's connection: an error like any other
                    # the client went away mid-request: nobody to answer, nothing wrong here
                    log.debug("%s %s: client disconnected", request.method, request.path)
                    return web.Response(status=400)
                except Exception:
                    log.exception("unhandled error")
                    response = json_response(APIError(
                        500, "internal_error", f"internal error; see the daemon log for request {rid}"
                    ).envelope(), status=500)
                response.headers["X-Request-ID"] = rid
                if not response.prepared:  # a WebSocket has answered its upgrade already
                    _harden(request, response)
                if request.path.startswith("/api/"):
                    # reads that succeed are routine: DEBUG; writes and errors: INFO
                    level = (logging.DEBUG if request.method in SAFE_METHODS and response.status < 400
                             else logging.INFO)
                    if log.isEnabledFor(level):
                        log.log(level, "%s %s %s", request.method, request.path, response.status,
                                extra={"ms": round((time.monotonic() - started) * 1000, 1)})
                return response
            finally:
                logs.request_id.reset(token)

        serve.__name__ = getattr(handler, "__name__", "serve")
        return serve

    return wrap


def error_response(exc: APIError) -> web.Response:
    """The JSON envelope of ``exc``, with ``Allow`` on a 405 and ``Retry-After`` on a 429."""
    response = json_response(exc.envelope(), status=exc.status)
    if exc.status == 405 and "allowed" in exc.details:
        response.headers["Allow"] = ", ".join(exc.details["allowed"])
    elif exc.status == 429 and "retry_after" in exc.details:
        response.headers["Retry-After"] = str(exc.details["retry_after"])
    return response


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if request.secure:
        headers.setdefault("Strict-Transport-Security", HSTS)


async def unmatched(request: web.Request) -> web.StreamResponse:
    """An ``/api/`` path no declared route matched: 405 when another method would, else 404."""
    allowed: set[str] = set()
    fixed: set[str] = set()  # a route's own URL without parameters wins over a pattern's (OpenAPI)
    for resource in request.app.router.resources():
        if resource.canonical == "/api/{tail}":
            continue
        match, methods = await resource.resolve(request)
        if match is None:
            allowed |= methods
            if resource.canonical == request.path:
                fixed |= methods
    allowed = fixed or allowed
    if allowed:
        raise APIError(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}",
                       {"allowed": sorted(allowed)})
    raise APIError(404, "not_found", f"no such endpoint: {request.path}")


def _http_error(exc: web.HTTPException) -> APIError:
    code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
        exc.status, "http_error")
    details = ({"allowed": sorted(exc.allowed_methods)}
               if isinstance(exc, web.HTTPMethodNotAllowed) else {})
    return APIError(exc.status, code, exc.reason, details)
