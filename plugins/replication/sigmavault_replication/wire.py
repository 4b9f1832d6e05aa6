"""The source side of the wire: signed requests to the target node through the mesh's
``mesh.node.request``, chunked uploads and downloads that survive a cut link (retry with backoff,
then resume at the offset the other side has), and a bandwidth limit."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar
from urllib.parse import urlencode

from sigmavault.errors import APIError

from .spool import Spool

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

T = TypeVar("T")
NODE = "/api/v1/replication/node"
RETRYABLE = {"peer_unreachable", "peer_error", "service_unavailable"}


def retryable(exc: APIError) -> bool:
    return exc.code in RETRYABLE or exc.status in (502, 503, 504)


class Link:
    """Signed calls to one peer node, with retries for ``retry_seconds`` of a broken link."""

    def __init__(self, app: "SigmaVault", peer: str, *, timeout: float, retry_seconds: float,
                 chunk: int, bwlimit: int | None = None,
                 on_wait: Callable[[str], None] | None = None,
                 check: Callable[[], None] | None = None, inflight: int = 1) -> None:
        self.app, self.peer = app, peer
        self.timeout, self.retry_seconds = timeout, retry_seconds
        self.chunk = chunk if not bwlimit else max(64 << 10, min(chunk, bwlimit // 4))
        self.bwlimit = bwlimit
        self.on_wait = on_wait or (lambda _msg: None)
        self.check = check or (lambda: None)
        self.inflight = max(1, inflight)
        self.wire_bytes = 0          # payload bytes put on the wire (re-sent ones count twice)
        self.retries = 0

    async def request(self, method: str, path: str, payload: Any = None, *, raw: bytes | None = None,
                      query: dict[str, Any] | None = None) -> Any:
        if not self.app.has_method("mesh.node.request"):
            raise APIError(503, "mesh_unavailable", "PhantomMesh is not installed on this node")
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else b"")
        url = NODE + path + ("?" + urlencode(query) if query else "")
        r = await self.app.call("mesh.node.request", peer=self.peer, method=method, path=url, body=body,
                                content_type="application/octet-stream" if raw is not None
                                else "application/json", timeout=self.timeout)
        data: bytes = r["body"]
        if r["status"] >= 400:
            try:
                err = json.loads(data)["error"]
            except (ValueError, KeyError, TypeError):
                err = {"code": "peer_error", "message": data[:200].decode(errors="replace")}
            status = r["status"] if r["status"] < 500 else 502
            raise APIError(status, err.get("code", "peer_error"),
                           f"{self.peer}: {err.get('message', '')}", err.get("details") or {})
        if r["content_type"] == "application/json":
            return json.loads(data) if data else None
        return data

    async def retrying(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``fn()`` until it succeeds, retrying a broken link for ``retry_seconds``."""
        first_failure: float | None = None
        delay = 0.5
        while True:
            self.check()
            try:
                return await fn()
            except APIError as exc:
                if not retryable(exc):
                    raise
                now = time.monotonic()
                first_failure = first_failure or now
                if now - first_failure > self.retry_seconds:
                    raise APIError(502, "link_lost", f"{what}: {self.peer} unreachable for "
                                   f"{now - first_failure:.0f} s ({exc.message}); the next run "
                                   "resumes where this one stopped") from None
                self.retries += 1
                self.on_wait(f"{what}: link to {self.peer} down ({exc.code}), retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _pace(self, started: float, sent: int) -> None:
        if self.bwlimit:
            ahead = sent / self.bwlimit - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)

    async def upload(self, begin: dict[str, Any], source: Spool,
                     progress: Callable[[int, int | None, int], None]) -> dict[str, Any]:
        """Send ``source`` as the upload ``begin`` describes; resumes at the target's offset.
        A ``source`` still being written is sent as it grows (``begin`` then has no size and no
        SHA-256: the commit carries them). ``progress(done, total or None, resumed_from)``.
        Returns the target's commit result, ``resumed_from`` (bytes the target already had) and
        ``resumed_at`` (the offsets this call resumed at after a broken link)."""
        info = await self.retrying("begin upload", lambda: self.request("POST", "/uploads", begin))
        if info.get("done"):
            return {**info["result"], "resumed_from": info["offset"], "resumed_at": []}
        session, offset = info["session"], int(info["offset"])
        resumed_from = offset
        resumed_at: list[int] = []
        started, sent = time.monotonic(), 0

        def total() -> int | None:
            return source.available if source.complete else None
        progress(offset, total(), resumed_from)
        while not (source.complete and offset >= source.available):
            # up to `inflight` chunks at once from the target's contiguous offset on; the
            # target answers its new contiguous offset after each
            inflight: dict[asyncio.Future[Any], int] = {}
            nxt, confirmed, broken = offset, offset, None
            while broken is None:
                self.check()
                while len(inflight) < self.inflight and (
                        source.available - nxt >= self.chunk or (source.complete and nxt < source.available)):
                    length = min(self.chunk, source.available - nxt)
                    data = await asyncio.to_thread(source.read, nxt, length)
                    task: asyncio.Future[Any] = asyncio.ensure_future(self.request(
                        "PUT", f"/uploads/{session}", raw=data, query={"offset": nxt}))
                    inflight[task] = nxt
                    nxt += length
                    sent += length
                    self.wire_bytes += length
                    await self._pace(started, sent)
                if not inflight and source.complete and nxt >= source.available:
                    break
                more = None if source.complete else asyncio.ensure_future(source.wait())
                try:
                    done, _ = await asyncio.wait([*inflight, *([more] if more else [])],
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if more is not None and not more.done():
                        more.cancel()
                if more is not None and more in done:
                    more.result()               # raises when the stream's writer failed
                for task in done:
                    if task is more:
                        continue
                    inflight.pop(task)
                    try:
                        confirmed = max(confirmed, int(task.result()["offset"]))
                    except APIError as exc:
                        if exc.code == "offset_mismatch":
                            continue        # the target has it already, or will say where it is
                        broken = exc
                progress(confirmed, total(), resumed_from)
            for task in inflight:
                task.cancel()
            await asyncio.gather(*inflight, return_exceptions=True)
            if broken is not None and not retryable(broken):
                raise broken
            # where the target really is (after a broken link, or a gap) — retried until it answers
            info = await self.retrying("resume upload",
                                       lambda: self.request("POST", "/uploads", begin))
            if info.get("done"):
                return {**info["result"], "resumed_from": resumed_from, "resumed_at": resumed_at}
            session, offset = info["session"], int(info["offset"])
            if broken is not None:
                resumed_at.append(offset)
            progress(offset, total(), resumed_from)
        end = {"size": source.available, "sha256": source.sha256}
        result = await self.retrying("commit upload",
                                     lambda: self.request("POST", f"/uploads/{session}/commit", end))
        return {**result, "resumed_from": resumed_from, "resumed_at": resumed_at}

    async def download(self, export: dict[str, Any], dest: Path,
                       progress: Callable[[int, int], None]) -> None:
        """Fetch a prepared export into ``dest`` (appending after what ``dest`` already has)."""
        size = export["size"]
        offset = dest.stat().st_size if dest.exists() else 0
        if offset > size:
            dest.unlink()
            offset = 0
        started, got = time.monotonic(), 0
        with open(dest, "ab") as f:
            while offset < size:
                self.check()
                length = min(self.chunk, size - offset)
                data = await self.retrying("download", lambda: self.request(
                    "GET", f"/exports/{export['id']}", query={"offset": offset, "length": length}))
                if not data:
                    raise APIError(502, "short_read", f"{self.peer} sent nothing at {offset}")
                await asyncio.to_thread(f.write, data)
                offset += len(data)
                got += len(data)
                self.wire_bytes += len(data)
                progress(offset, size)
                await self._pace(started, got)
        try:
            await self.request("DELETE", f"/exports/{export['id']}")
        except APIError:
            pass
