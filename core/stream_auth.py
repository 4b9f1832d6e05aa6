"""Open event sockets keep only the access their credential still grants.

Every ``CHECK_SECONDS`` each socket's request is identified again (once per distinct credential):
a credential that no longer admits it (API key revoked or expired, session signed out, expired or
ended by a password change, user deleted) closes it with 4401; a changed role closes it with
4403, so the client re-reads who it is and reconnects with the new role.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .auth import SESSION_COOKIE, Identity

if TYPE_CHECKING:  # pragma: no cover
    from .auth import Auth

log = logging.getLogger("sigmavault.events")

CHECK_SECONDS = 0.25
CLOSE_CREDENTIALS_REVOKED = 4401
CLOSE_ROLE_CHANGED = 4403


def _credential(request: web.Request) -> tuple[str, str]:
    """What ``Auth.identify`` reads from ``request``: sockets sharing it share one check."""
    return request.headers.get("Authorization", ""), request.cookies.get(SESSION_COOKIE, "")


def _verdict(opened: Identity, now: Identity | None) -> tuple[int, str] | None:
    """The close code and reason for a socket opened as ``opened``, or None to keep it."""
    if now is None:
        if opened.via == "api_key":
            return CLOSE_CREDENTIALS_REVOKED, "credentials revoked: API key revoked or expired"
        return CLOSE_CREDENTIALS_REVOKED, "session expired or ended: sign in again"
    if now.user != opened.user:
        return CLOSE_CREDENTIALS_REVOKED, "credentials revoked: they name another user now"
    if now.role != opened.role:
        return CLOSE_ROLE_CHANGED, f"role changed to {now.role}: reconnect"
    return None


class CredentialWatch:
    """Closes watched sockets whose credential no longer grants what it granted at the upgrade."""

    def __init__(self, auth: "Auth", interval: float = CHECK_SECONDS):
        self.auth = auth
        self.interval = interval
        self.sockets: dict[web.WebSocketResponse, tuple[web.Request, Identity]] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, ws: web.WebSocketResponse, request: web.Request, opened: Identity) -> None:
        self.sockets[ws] = (request, opened)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, ws: web.WebSocketResponse) -> None:
        self.sockets.pop(ws, None)
        if not self.sockets and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while self.sockets:
            await asyncio.sleep(self.interval)
            try:
                self.check()
            except Exception:
                log.exception("re-checking event socket credentials failed")

    def check(self) -> None:
        """Identify each credential once and close the sockets it no longer admits."""
        current: dict[tuple[str, str], Identity | None] = {}
        for ws, (request, opened) in list(self.sockets.items()):
            key = _credential(request)
            if key not in current:
                current[key] = self.auth.identify(request)
            verdict = _verdict(opened, current[key])
            if verdict is not None:
                self.sockets.pop(ws, None)
                code, reason = verdict
                asyncio.ensure_future(ws.close(code=code, message=reason.encode()))
