"""The target side: which peer may write into which pool (the allow-list), and the signed
node-to-node endpoints a source node calls over the mesh to upload streams, list, prune and
fetch back its replicas.

Every node endpoint is reached with the readonly API key the peer got when the two nodes joined,
and is signed with the pair's secret (``mesh.node.verify`` names the peer); the allow-list then
decides whether that peer may touch the pool, and a replica volume belongs to the peer that
created it (another peer, or this node's own volumes, are never written).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sigmavault import operation
from sigmavault.errors import APIError, conflict
from sigmavault.validation import Name, inside

from .models import (ChunkQuery, DownloadQuery, ExportBody, NodeFiles, NodeRef, PruneBody, ReplicaOwner, Target,
                     TargetBody, UploadBegin, UploadEnd)

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

NODE = "/replication/node"
MAX_AHEAD = 256 << 20   # bytes an out-of-order chunk may start beyond the contiguous prefix
GROWING = -1            # replication_inbox.size of an upload whose size the commit will say


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def contained(root: Path, path: str, snapshot: str) -> Path:
    """``path`` resolved inside a snapshot's ``root`` (the storage file browser's rule: ``..`` and
    symlinks never lead out); a 400 naming ``path`` otherwise, without this node's own paths."""
    if "\x00" in path:
        raise APIError(400, "bad_path", "paths cannot contain NUL bytes", {"field": "path"})
    try:
        return inside(root, path.strip("/") or ".")
    except APIError:
        raise APIError(400, "path_outside_snapshot", f"path {path!r} leaves the snapshot {snapshot}",
                       {"field": "path", "path": path}) from None


class PrefixDigest:
    """SHA-256 of an upload's contiguous prefix, kept up as the prefix grows, so that the commit
    need not read the whole stream again (lost with the process: the commit then reads it)."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.done = 0
        self.lock = asyncio.Lock()
        self.pending: set[asyncio.Task[None]] = set()

    def advance_soon(self, path: str, upto: int) -> None:
        """Hash up to ``upto`` in the background (a chunk's answer need not wait for it)."""
        task = asyncio.ensure_future(self.advance(path, upto))
        self.pending.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: "asyncio.Task[None]") -> None:
        self.pending.discard(task)
        if not task.cancelled():
            task.exception()       # an error leaves `done` short: the commit reads the file then

    async def advance(self, path: str, upto: int) -> None:
        async with self.lock:      # FIFO: an advance waits for the ones started before it
            if upto > self.done:
                await asyncio.to_thread(self._read, path, upto)

    def _read(self, path: str, upto: int) -> None:
        with open(path, "rb") as f:
            f.seek(self.done)
            while self.done < upto:
                block = f.read(min(1 << 20, upto - self.done))
                if not block:
                    raise OSError(f"{path} ends at {self.done}, before {upto}")
                self.sha.update(block)
                self.done += len(block)


class ReceiverService:
    """Allow-list and node endpoints (``app.services[ReceiverService]``)."""

    route_defaults = {"params": {"pool": Name, "volume": Name, "peer": Name}}

    def __init__(self, app: "SigmaVault", inbox_ttl: float = 7 * 86400) -> None:
        self.app = app
        self.inbox_ttl = inbox_ttl
        self.root = app.data_dir / "replication"
        self.exports: dict[str, dict[str, Any]] = {}
        self.ahead: dict[str, dict[int, int]] = {}   # session -> chunks written past the prefix
        self.digests: dict[str, PrefixDigest] = {}

    async def start(self) -> None:
        for sub in ("inbox", "outbox", "exports", "restore"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in (self.root / "exports").iterdir():   # exports live only in memory
            leftover.unlink(missing_ok=True)
        for row in self.app.db.all("SELECT * FROM replication_inbox WHERE updated<?",
                                   (time.time() - self.inbox_ttl,)):
            self._drop(row)   # abandoned uploads (and old records of finished ones)

    # --- the allow-list (admin) ------------------------------------------------------------------

    @operation("replication.targets.list", get="/replication/targets", response=list[Target],
               summary="Peers allowed to replicate into pools of this node")
    async def list_targets(self) -> list[Target]:
        return [Target(**r) for r in self.app.db.all(
            "SELECT peer, pool, created FROM replication_targets ORDER BY peer, pool")]

    @operation("replication.targets.create", post="/replication/targets", body=TargetBody,
               response=Target, status=201, errors=[404, 409],
               summary="Allow a mesh peer to write replicas into a pool")
    async def add_target(self, peer: str, pool: str) -> Target:
        peers = {p["name"]: p for p in await self.app.call("mesh.peers.list")}
        if peer not in peers:
            raise APIError(404, "unknown_peer", f"{peer} is not a PhantomMesh peer of this node",
                           {"field": "peer"})
        pools = {p["name"] for p in await self.app.call("storage.pools.list")}
        if pool not in pools:
            raise APIError(404, "unknown_pool", f"pool {pool} does not exist", {"field": "pool"})
        if self.app.db.one("SELECT 1 AS x FROM replication_targets WHERE peer=? AND pool=?", (peer, pool)):
            raise conflict(f"{peer} may already write into {pool}", code="target_exists")
        now = time.time()
        self.app.db.execute("INSERT INTO replication_targets(peer, pool, created) VALUES(?,?,?)",
                            (peer, pool, now))
        return Target(peer=peer, pool=pool, created=now)

    @operation("replication.targets.delete", delete="/replication/targets/{peer}/{pool}",
               summary="Stop accepting replicas from a peer into a pool (stored replicas stay)")
    async def delete_target(self, peer: str, pool: str) -> None:
        if not self.app.db.execute("DELETE FROM replication_targets WHERE peer=? AND pool=?",
                                   (peer, pool)).rowcount:
            raise APIError(404, "unknown_target", f"{peer} has no access to {pool}")

    @operation("replication.replicas.list", get="/replication/replicas", response=list[dict],
               summary="Replicas other nodes keep on this node")
    async def list_replicas(self) -> list[dict[str, Any]]:
        rows = self.app.db.all("SELECT peer, pool, volume, sealed, created FROM replication_replicas "
                               "ORDER BY pool, volume")
        for r in rows:
            r["sealed"] = bool(r["sealed"])
            r["blobs"] = self.app.db.value("SELECT COUNT(*) FROM replication_blobs WHERE pool=? AND "
                                           "volume=?", (r["pool"], r["volume"])) if r["sealed"] else None
        return rows

    @operation("replication.replica.owner", put="/replication/replicas/{pool}/{volume}/owner",
               body=ReplicaOwner, response=dict, summary="Hand a replica over to another mesh peer "
               "(the node that replaces a lost source)")
    async def set_owner(self, pool: str, volume: str, peer: str) -> dict[str, Any]:
        if not self.app.db.one("SELECT 1 AS x FROM replication_replicas WHERE pool=? AND volume=?",
                               (pool, volume)):
            raise APIError(404, "no_replica", f"{pool}/{volume} is not a replica")
        if peer not in {p["name"] for p in await self.app.call("mesh.peers.list")}:
            raise APIError(422, "unknown_peer", f"{peer} is not a PhantomMesh peer", {"field": "peer"})
        self.app.db.execute("UPDATE replication_replicas SET peer=? WHERE pool=? AND volume=?",
                            (peer, pool, volume))
        return {"pool": pool, "volume": volume, "peer": peer}

    # --- checks ----------------------------------------------------------------------------------

    async def _peer(self, request: web.Request | None) -> str:
        if not self.app.has_method("mesh.node.verify"):
            raise APIError(503, "mesh_unavailable", "PhantomMesh is not installed on this node")
        return str((await self.app.call("mesh.node.verify", request=request))["peer"])

    def _allowed(self, peer: str, pool: str) -> None:
        if not self.app.db.one("SELECT 1 AS x FROM replication_targets WHERE peer=? AND pool=?",
                               (peer, pool)):
            raise APIError(403, "not_authorised", f"this node does not accept replicas from {peer} "
                           f"into pool {pool}", {"peer": peer, "pool": pool})

    async def _volume_exists(self, pool: str, volume: str) -> bool:
        try:
            await self.app.call("storage.volume.get", pool=pool, volume=volume)
            return True
        except APIError as exc:
            if exc.status == 404:
                return False
            raise

    async def _replica(self, peer: str, pool: str, volume: str) -> dict[str, Any] | None:
        """The replica row of ``pool/volume``; 403 when it, or the volume, belongs to another."""
        row = self.app.db.one("SELECT * FROM replication_replicas WHERE pool=? AND volume=?", (pool, volume))
        if row is not None and row["peer"] != peer:
            raise APIError(403, "not_your_replica", f"{pool}/{volume} holds another node's replica")
        if row is None and await self._volume_exists(pool, volume):
            raise APIError(403, "not_your_replica", f"{pool}/{volume} is a volume of this node, "
                           "not a replica: choose another target volume")
        return row

    async def _claim(self, peer: str, pool: str, volume: str, sealed: bool) -> None:
        row = await self._replica(peer, pool, volume)
        if row is None:
            self.app.db.execute("INSERT INTO replication_replicas(peer, pool, volume, sealed, created) "
                                "VALUES(?,?,?,?,?)", (peer, pool, volume, int(sealed), time.time()))
        elif bool(row["sealed"]) != sealed:
            raise conflict(f"{pool}/{volume} is a{' sealed' if row['sealed'] else 'n open'} replica",
                           code="replica_kind")

    # --- node endpoints (signed) -----------------------------------------------------------------

    @operation(post=NODE + "/hello", body=NodeRef, response=dict, role="readonly",
               summary="Whether the signing peer may replicate into a pool (signed)")
    async def node_hello(self, request: web.Request, body: NodeRef) -> dict[str, Any]:
        peer = await self._peer(request)
        self._allowed(peer, body.pool)
        pools = {p["name"]: p for p in await self.app.call("storage.pools.list")}
        return {"peer": peer, "pool": body.pool, "backend": (pools.get(body.pool) or {}).get("backend")}

    @operation(post=NODE + "/inventory", body=NodeRef, response=dict, role="readonly",
               summary="The signing peer's replica: snapshots or sealed blobs (signed)")
    async def node_inventory(self, request: web.Request, body: NodeRef) -> dict[str, Any]:
        peer = await self._peer(request)
        self._allowed(peer, body.pool)
        if body.volume is None:
            raise APIError(422, "validation_error", "volume is required", {"field": "volume"})
        row = await self._replica(peer, body.pool, body.volume)
        if row is None:
            return {"exists": False, "sealed": None, "snapshots": [], "blobs": []}
        snaps = []
        if await self._volume_exists(body.pool, body.volume):
            for s in await self.app.call("storage.snapshot.list", pool=body.pool, volume=body.volume):
                props = s.get("properties") or {}
                snaps.append({"name": s["name"], "created": s.get("created"),
                              "uuid": s.get("uuid") or props.get("uuid"),
                              "received_uuid": s.get("received_uuid") or props.get("received_uuid")})
        snaps.sort(key=lambda s: (str(s["created"]), s["name"]))
        blobs = self.app.db.all("SELECT blob, size, created FROM replication_blobs WHERE pool=? AND "
                                "volume=? ORDER BY created", (body.pool, body.volume))
        identities: dict[str, Any] = {}
        for name in body.identify if not row["sealed"] else []:
            try:
                got = await self.app.call("storage.snapshot.get", pool=body.pool, volume=body.volume,
                                          snapshot=name)
            except APIError:
                continue
            props = got.get("properties") or {}
            if "received_uuid" in props:
                identities[name] = props["received_uuid"]
        manifest = False
        if row["sealed"] and await self._volume_exists(body.pool, body.volume):
            root = Path(await self.app.call("storage.volume.path", pool=body.pool, volume=body.volume))
            manifest = (root / "manifest.age").exists()
        return {"exists": True, "sealed": bool(row["sealed"]),
                "snapshots": [] if row["sealed"] else snaps, "blobs": blobs, "manifest": manifest,
                "identities": identities}

    @operation(post=NODE + "/files", body=NodeFiles, response=dict, role="readonly",
               summary="One page of a folder of a snapshot of the signing peer's replica (signed)")
    async def node_files(self, request: web.Request, body: NodeFiles) -> dict[str, Any]:
        peer = await self._peer(request)
        self._allowed(peer, body.pool)
        row = await self._replica(peer, body.pool, body.volume)
        if row is None:
            raise APIError(404, "no_replica", f"no replica {body.pool}/{body.volume}")
        if row["sealed"]:
            raise APIError(409, "sealed_replica", f"{body.pool}/{body.volume} holds only sealed "
                           "streams: this node cannot list their files", {"field": "snapshot"})
        root = Path(await self.app.call("storage.snapshot.path", pool=body.pool, volume=body.volume,
                                        snapshot=body.snapshot))
        contained(root, body.path, body.snapshot)
        page: dict[str, Any] = await self.app.call(
            "storage.snapshot.files.list", pool=body.pool, volume=body.volume, snapshot=body.snapshot,
            path=body.path, limit=body.limit, offset=body.offset)
        return page

    @operation(post=NODE + "/uploads", body=UploadBegin, response=dict, role="readonly",
               summary="Begin or resume an upload into a replica (signed)")
    async def node_upload_begin(self, request: web.Request, body: UploadBegin) -> dict[str, Any]:
        peer = await self._peer(request)
        self._allowed(peer, body.pool)
        if body.replaces is not None:
            old = self.app.db.one("SELECT * FROM replication_inbox WHERE peer=? AND key=? AND result IS "
                                  "NULL", (peer, body.replaces))
            if old is not None:
                self._drop(old)
        row = self.app.db.one("SELECT * FROM replication_inbox WHERE peer=? AND key=?", (peer, body.key))
        if row is not None and row["result"] is not None:
            return {"session": row["id"], "offset": row["size"], "done": True,
                    "result": json.loads(row["result"])}
        size = GROWING if body.size is None else body.size
        if row is not None and ((row["pool"], row["volume"]) != (body.pool, body.volume) or
                                body.size is not None and (row["size"], row["sha256"]) != (body.size, body.sha256)):
            self._drop(row)
            row = None
        await self._replica(peer, body.pool, body.volume)
        if row is None:
            sid = secrets.token_hex(16)
            spool = self.root / "inbox" / f"{sid}.part"
            spool.touch(mode=0o600)
            now = time.time()
            self.app.db.execute(
                "INSERT INTO replication_inbox(id, peer, key, pool, volume, kind, snapshot, size, sha256,"
                " received, spool, created, updated) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (sid, peer, body.key, body.pool, body.volume, body.kind, body.snapshot, size,
                 body.sha256 or "", 0, str(spool), now, now))
            self.digests[sid] = PrefixDigest()
            return {"session": sid, "offset": 0, "done": False}
        spool = Path(row["spool"])
        self.ahead.pop(row["id"], None)    # chunks past the prefix are sent again
        # after a crash the file may be shorter than recorded (unsynced tail): resume from what is there
        have = min(row["received"], spool.stat().st_size if spool.exists() else 0)
        if not spool.exists():
            spool.touch(mode=0o600)
        os.truncate(spool, have)
        digest = self.digests.get(row["id"])
        if digest is not None and digest.done > have:
            del self.digests[row["id"]]
        self.app.db.execute("UPDATE replication_inbox SET received=? WHERE id=?", (have, row["id"]))
        return {"session": row["id"], "offset": have, "done": False}

    def _drop(self, row: dict[str, Any]) -> None:
        self.digests.pop(row["id"], None)
        Path(row["spool"]).unlink(missing_ok=True)
        self.app.db.execute("DELETE FROM replication_inbox WHERE id=?", (row["id"],))

    def _session(self, peer: str, session: str) -> dict[str, Any]:
        row = self.app.db.one("SELECT * FROM replication_inbox WHERE id=? AND peer=?", (session, peer))
        if row is None:
            raise APIError(404, "no_upload", f"no upload {session}")
        self._allowed(peer, row["pool"])
        return row

    @operation(put=NODE + "/uploads/{session}", query=ChunkQuery, response=dict, role="readonly",
               summary="One chunk of an upload at its offset (signed; raw bytes)")
    async def node_upload_chunk(self, request: web.Request, session: str, offset: int) -> dict[str, Any]:
        peer = await self._peer(request)
        row = self._session(peer, session)
        if row["result"] is not None:
            return {"offset": row["size"]}
        received = row["received"]
        ahead = self.ahead.setdefault(session, {})
        # chunks may arrive out of order (a sender keeps several in flight): any offset from the
        # contiguous prefix on, up to MAX_AHEAD beyond it; `received` stays the contiguous prefix
        if offset < received or offset in ahead or offset > received + MAX_AHEAD:
            raise APIError(409, "offset_mismatch", f"upload is at {received}, not {offset}",
                           {"offset": received})
        data = await request.read()
        if row["size"] != GROWING and offset + len(data) > row["size"]:
            raise APIError(400, "too_much_data", "chunk goes beyond the announced size")

        def write() -> None:
            with open(row["spool"], "r+b") as f:
                f.seek(offset)
                f.write(data)
        await asyncio.to_thread(write)
        if self.ahead.get(session) is not ahead:     # the upload was restarted meanwhile
            raise APIError(409, "offset_mismatch", "the upload was resumed elsewhere",
                           {"offset": self._received(session)})
        ahead[offset] = len(data)
        received = self._received(session)
        while received in ahead:
            received += ahead.pop(received)
        self.app.db.execute("UPDATE replication_inbox SET received=?, updated=? WHERE id=?",
                            (received, time.time(), session))
        if (digest := self.digests.get(session)) is not None:
            digest.advance_soon(row["spool"], received)
        return {"offset": received}

    def _received(self, session: str) -> int:
        return int(self.app.db.value("SELECT received FROM replication_inbox WHERE id=?", (session,)) or 0)

    @operation(post=NODE + "/uploads/{session}/commit", body=UploadEnd, response=dict, role="readonly",
               summary="Check and apply a complete upload (signed)")
    async def node_upload_commit(self, request: web.Request, session: str,
                                 body: UploadEnd) -> dict[str, Any]:
        peer = await self._peer(request)
        row = self._session(peer, session)
        if row["result"] is not None:
            return dict(json.loads(row["result"]))
        if row["size"] == GROWING:
            if body.size is None or body.sha256 is None:
                raise APIError(422, "validation_error", "this upload began without a size: the "
                               "commit must say its size and SHA-256", {"field": "size"})
            row["size"], row["sha256"] = body.size, body.sha256
        spool = Path(row["spool"])
        t0 = time.monotonic()
        if row["received"] != row["size"]:
            raise conflict(f"upload has {row['received']} of {row['size']} bytes", code="incomplete")
        prefix = self.digests.pop(session, None)
        if prefix is not None:
            with contextlib.suppress(OSError):
                await prefix.advance(str(spool), row["size"])
        digest = prefix.sha.hexdigest() if prefix is not None and prefix.done == row["size"] else \
            await asyncio.to_thread(sha256_file, spool)
        if digest != row["sha256"]:
            self._drop(row)
            raise APIError(422, "checksum_mismatch", "the upload does not match its SHA-256; "
                           "it was discarded, send it again")
        self.app.db.execute("UPDATE replication_inbox SET size=?, sha256=? WHERE id=?",
                            (row["size"], row["sha256"], session))
        sealed = row["kind"] in ("sealed", "manifest")
        await self._claim(peer, row["pool"], row["volume"], sealed)
        if row["kind"] == "manifest":
            root = await self._sealed_root(row["pool"], row["volume"])
            tmp = root / f".manifest.{secrets.token_hex(4)}.tmp"
            await asyncio.to_thread(shutil.move, str(spool), str(tmp))
            os.replace(tmp, root / "manifest.age")
            result: dict[str, Any] = {"manifest": True, "size": row["size"]}
        elif sealed:
            root = await self._sealed_root(row["pool"], row["volume"])
            blob = secrets.token_hex(16)
            await asyncio.to_thread(shutil.move, str(spool), str(root / f"{blob}.age"))
            self.app.db.execute("INSERT INTO replication_blobs(pool, volume, blob, size, created) "
                                "VALUES(?,?,?,?,?)", (row["pool"], row["volume"], blob, row["size"], time.time()))
            result = {"blob": blob, "size": row["size"]}
        else:
            snap = await self.app.call("storage.snapshot.receive", pool=row["pool"], volume=row["volume"],
                                       source=str(spool), snapshot=row["snapshot"])
            snap = snap if isinstance(snap, dict) else snap.model_dump()
            result = {"snapshot": snap["name"], "size": row["size"]}
            spool.unlink(missing_ok=True)
        self.ahead.pop(session, None)
        result["apply_s"] = round(time.monotonic() - t0, 3)
        self.app.db.execute("UPDATE replication_inbox SET result=?, updated=? WHERE id=?",
                            (json.dumps(result), time.time(), session))
        return result

    async def _sealed_root(self, pool: str, volume: str) -> Path:
        if not await self._volume_exists(pool, volume):
            await self.app.call("storage.volume.create", pool=pool, name=volume, quota=None,
                                compression=None)
        return Path(await self.app.call("storage.volume.path", pool=pool, volume=volume))

    @operation(post=NODE + "/prune", body=PruneBody, response=dict, role="readonly",
               summary="Delete snapshots or blobs of the signing peer's replica (signed)")
    async def node_prune(self, request: web.Request, body: PruneBody) -> dict[str, Any]:
        peer = await self._peer(request)
        self._allowed(peer, body.pool)
        row = await self._replica(peer, body.pool, body.volume)
        if row is None:
            raise APIError(404, "no_replica", f"no replica {body.pool}/{body.volume}")
        deleted: list[str] = []
        for name in body.snapshots:
            await self.app.call("storage.snapshot.delete", pool=body.pool, volume=body.volume, snapshot=name)
            deleted.append(name)
        if body.blobs:
            root = Path(await self.app.call("storage.volume.path", pool=body.pool, volume=body.volume))
            for blob in body.blobs:
                if not self.app.db.execute("DELETE FROM replication_blobs WHERE pool=? AND volume=? AND "
                                           "blob=?", (body.pool, body.volume, blob)).rowcount:
                    continue
                (root / f"{blob}.age").unlink(missing_ok=True)
                deleted.append(blob)
        return {"deleted": deleted}

    @operation(post=NODE + "/exports", body=ExportBody, response=dict, role="readonly",
               summary="Prepare a replica snapshot, blob or file for download (signed)")
    async def node_export(self, request: web.Request, body: ExportBody) -> dict[str, Any]:
        peer = await self._peer(request)
        self._allowed(peer, body.pool)
        row = await self._replica(peer, body.pool, body.volume)
        if row is None:
            raise APIError(404, "no_replica", f"no replica {body.pool}/{body.volume}")
        eid = secrets.token_hex(16)
        temp = True
        path = self.root / "exports" / eid
        if body.blob is not None:
            if not self.app.db.one("SELECT 1 AS x FROM replication_blobs WHERE pool=? AND volume=? AND "
                                   "blob=?", (body.pool, body.volume, body.blob)):
                raise APIError(404, "no_blob", f"no blob {body.blob}")
            root = Path(await self.app.call("storage.volume.path", pool=body.pool, volume=body.volume))
            path, temp = root / f"{body.blob}.age", False
        elif body.manifest:
            root = Path(await self.app.call("storage.volume.path", pool=body.pool, volume=body.volume))
            path, temp = root / "manifest.age", False
            if not row["sealed"] or not path.exists():
                raise APIError(404, "no_manifest", f"{body.pool}/{body.volume} has no manifest")
        elif body.snapshot is not None and body.path is not None:
            snap_root = Path(await self.app.call("storage.snapshot.path", pool=body.pool,
                                                 volume=body.volume, snapshot=body.snapshot))
            src = contained(snap_root, body.path, body.snapshot)
            if not src.is_file():
                raise APIError(404, "no_file", f"{body.path} is not a file in {body.snapshot}")
            await asyncio.to_thread(shutil.copyfile, src, path)
        elif body.snapshot is not None:
            await self.app.call("storage.snapshot.send", pool=body.pool, volume=body.volume,
                                snapshot=body.snapshot, target=str(path), base=None)
        else:
            raise APIError(422, "validation_error", "name a snapshot or a blob", {"field": "snapshot"})
        digest = await asyncio.to_thread(sha256_file, path)
        self.exports[eid] = {"peer": peer, "path": path, "temp": temp}
        return {"id": eid, "size": path.stat().st_size, "sha256": digest}

    def _export(self, peer: str, eid: str) -> dict[str, Any]:
        ex = self.exports.get(eid)
        if ex is None or ex["peer"] != peer:
            raise APIError(404, "no_export", f"no export {eid}")
        return ex

    @operation(get=NODE + "/exports/{export}", query=DownloadQuery, response=None, role="readonly",
               content_type="application/octet-stream",
               summary="A range of a prepared export (signed; raw bytes)")
    async def node_download(self, request: web.Request, export: str, offset: int,
                            length: int) -> web.Response:
        peer = await self._peer(request)
        ex = self._export(peer, export)

        def read() -> bytes:
            with open(ex["path"], "rb") as f:
                f.seek(offset)
                return f.read(length)
        return web.Response(body=await asyncio.to_thread(read), content_type="application/octet-stream")

    @operation(delete=NODE + "/exports/{export}", role="readonly",
               summary="Forget a prepared export (signed)")
    async def node_export_done(self, request: web.Request, export: str) -> None:
        peer = await self._peer(request)
        ex = self._export(peer, export)
        del self.exports[export]
        if ex["temp"]:
            Path(ex["path"]).unlink(missing_ok=True)
