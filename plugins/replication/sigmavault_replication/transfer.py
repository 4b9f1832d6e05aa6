"""What a run does: find the newest common snapshot, send what the target lacks (incremental where
the backend can), sealed with age when the task says so, through resumable chunked uploads; apply
retention on the target. And the way back: browse and restore."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import secrets
import shutil
import tarfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmavault.errors import APIError, conflict
from sigmavault.files import atomic_write
from sigmavault.jobs import ProgressDetail
from sigmavault.validation import inside

from .receiver import sha256_file
from .spool import Spool, discard
from .wire import Link

if TYPE_CHECKING:  # pragma: no cover
    from .models import RestoreBody
    from .service import ReplicationService


def link_for(ctx: Any, svc: "ReplicationService", task: dict[str, Any]) -> Link:
    def on_wait(msg: str) -> None:
        ctx.log(msg)
        ctx.progress(description=msg)
    return Link(svc.app, task["peer"], timeout=svc.cfg.request_timeout,
                retry_seconds=svc.cfg.retry_seconds, chunk=svc.cfg.chunk_bytes,
                bwlimit=task.get("bwlimit"), on_wait=on_wait if ctx else None,
                check=ctx.check if ctx else None, inflight=svc.cfg.inflight)


async def _capabilities(app: Any, pool: str) -> dict[str, Any]:
    pools = {p["name"]: p for p in await app.call("storage.pools.list")}
    backend = (pools.get(pool) or {}).get("backend")
    for b in await app.call("storage.backends.list"):
        if b.get("name") == backend:
            return {"backend": backend, **(b.get("capabilities") or {})}
    return {"backend": backend}


def _sorted(snaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(snaps, key=lambda s: (str(s.get("created")), s["name"]))


async def replicate(ctx: Any, svc: "ReplicationService", task: dict[str, Any]) -> dict[str, Any]:
    app, db = svc.app, svc.app.db
    link = link_for(ctx, svc, task)
    tpool, tvol = task["target_pool"], task["target_volume"]
    caps = await _capabilities(app, task["pool"])
    if not caps.get("send_receive"):
        raise APIError(400, "not_supported", f"the {caps['backend']} backend cannot send snapshots")
    incremental = bool(caps.get("incremental_send"))
    if task["take_snapshot"]:
        name = datetime.now(timezone.utc).strftime("repl-%Y%m%dT%H%M%SZ")
        await app.call("storage.snapshot.create", pool=task["pool"], volume=task["volume"], name=name)
        ctx.log(f"took snapshot {name}")
    source = _sorted([s for s in await app.call("storage.snapshot.list", pool=task["pool"],
                                                volume=task["volume"])
                      if fnmatch.fnmatchcase(s["name"], task["match"])])
    inv = await link.retrying("inventory", lambda: link.request(
        "POST", "/inventory", {"pool": tpool, "volume": tvol}))
    if inv["exists"] and inv["sealed"] != task["encrypt"]:
        raise conflict(f"{tpool}/{tvol} on {task['peer']} is a{' sealed' if inv['sealed'] else 'n open'}"
                       " replica; this task needs the other kind", code="replica_kind")
    if task["encrypt"]:
        blobs = {b["blob"] for b in inv["blobs"]}
        catalog = {r["snapshot"]: r for r in db.all("SELECT * FROM replication_catalog WHERE task=?",
                                                    (task["id"],))}
        have = {name for name, r in catalog.items() if r["blob"] in blobs}
        lost = [n for n, r in catalog.items() if r["blob"] not in blobs]
        if lost:
            db.execute(f"DELETE FROM replication_catalog WHERE task=? AND snapshot IN "
                       f"({','.join('?' * len(lost))})", (task["id"], *lost))
    else:
        have = {s["name"] for s in inv["snapshots"]}
    common_idx, conflicting = await _common(app, link, task, source, have)
    todo = [s for s in source[common_idx + 1:] if s["name"] not in conflicting]
    base = source[common_idx]["name"] if common_idx >= 0 and incremental else None
    ctx.log(f"{task['pool']}/{task['volume']} → {task['peer']}:{tpool}/{tvol}: common="
            f"{source[common_idx]['name'] if common_idx >= 0 else None}, to send={[s['name'] for s in todo]}")
    outdir = app.data_dir / "replication" / "outbox"
    outdir.mkdir(parents=True, exist_ok=True)
    sent: list[dict[str, Any]] = []
    started = time.monotonic()
    for n, snap in enumerate(todo):
        ctx.check()
        name = snap["name"]
        # open replicas: the stream goes out while it is being written; sealed ones are
        # encrypted (and padded) whole first
        streamed = not task["encrypt"]
        replaces = None
        row = db.one("SELECT * FROM replication_outbox WHERE task=? AND snapshot=?", (task["id"], name))
        if row is not None and (row["base"] != base or not row["sha256"] or not Path(row["spool"]).exists()):
            # prepared from another base, its preparation cut short (this node stopped), or lost
            if streamed:
                replaces = _stream_key(Path(row["spool"]))
            await asyncio.to_thread(discard, Path(row["spool"]), outdir)
            db.execute("DELETE FROM replication_outbox WHERE task=? AND snapshot=?", (task["id"], name))
            row = None
        t_prep = time.monotonic()
        prepared_s: list[float] = []
        if row is None and streamed:
            ctx.progress(percent=100 * n / len(todo), description=f"sending {name}")
            work = outdir / f"{task['id']}-{secrets.token_hex(8)}"
            work.mkdir(mode=0o700)
            path = work / "stream"
            db.execute("INSERT INTO replication_outbox(task, snapshot, base, spool, size, sha256, "
                       "plain_size, format, created) VALUES(?,?,?,?,-1,'',-1,'',?)",
                       (task["id"], name, base, str(path), time.time()))

            def prepared(sp: Spool, name: str = name) -> None:
                prepared_s.append(time.monotonic() - t_prep)
                db.execute("UPDATE replication_outbox SET size=?, sha256=?, plain_size=?, format=? "
                           "WHERE task=? AND snapshot=?", (sp.available, sp.sha256, sp.available,
                                                           sp.info.get("format", "stream"), task["id"], name))
            async def write(path: Path = path, name: str = name, base: str | None = base) -> dict[str, Any]:
                return dict(await app.call("storage.snapshot.send", pool=task["pool"], volume=task["volume"],
                                           snapshot=name, target=str(path), base=base))
            stream = Spool.follow(path, write, prepared)
        elif row is None:
            ctx.progress(percent=100 * n / len(todo), description=f"preparing {name}")
            spool = outdir / f"{task['id']}-{secrets.token_hex(8)}.stream"
            info = await app.call("storage.snapshot.send", pool=task["pool"], volume=task["volume"],
                                  snapshot=name, target=str(spool), base=base)
            plain_size, fmt = spool.stat().st_size, info.get("format", "stream")
            if task["pad"]:
                spool = await asyncio.to_thread(pad_file, spool)
                fmt += "+pad"
            sealed = spool.with_suffix(".age")
            enc = app.registries["encryptors"]["age"]
            await enc.encrypt_file(spool, sealed, task["recipients"] or None)
            spool.unlink()
            spool = sealed
            digest = await asyncio.to_thread(sha256_file, spool)
            db.execute("INSERT INTO replication_outbox(task, snapshot, base, spool, size, sha256, "
                       "plain_size, format, created) VALUES(?,?,?,?,?,?,?,?,?)",
                       (task["id"], name, base, str(spool), spool.stat().st_size, digest,
                        plain_size, fmt, time.time()))
            prepared_s.append(time.monotonic() - t_prep)
            stream = Spool.prepared(spool, digest)
        else:
            ctx.log(f"{name}: resuming the prepared stream ({row['size']} bytes)")
            stream = Spool.prepared(Path(row["spool"]), row["sha256"])
        begin = {"pool": tpool, "volume": tvol, "kind": "sealed" if task["encrypt"] else "stream",
                 "snapshot": None if task["encrypt"] else name, "replaces": replaces,
                 **({"key": _stream_key(stream.path), "size": None, "sha256": None} if streamed else
                    {"key": f"{task['id']}.{str(stream.sha256)[:40]}", "size": stream.available,
                     "sha256": stream.sha256})}

        def progress(done: int, total: int | None, resumed: int, n: int = n, name: str = name) -> None:
            elapsed = time.monotonic() - started
            speed = (link.wire_bytes / elapsed) if elapsed > 0 else None
            ctx.progress(percent=100 * (n + (done / max(total, 1) if total else 0)) / len(todo),
                         description=f"sending {name}" + (f" (resumed at {resumed} bytes)" if resumed else ""),
                         bytes_done=done, bytes_total=total,
                         detail=ProgressDetail(bytes_out=link.wire_bytes, speed_bps=speed,
                                               elapsed_s=elapsed,
                                               eta_s=(total - done) / speed if speed and total else None))
        t_up = time.monotonic()
        try:
            result = await link.upload(begin, stream, progress)
        finally:
            await stream.close()
        t_done = time.monotonic()
        row = db.one("SELECT * FROM replication_outbox WHERE task=? AND snapshot=?", (task["id"], name))
        assert row is not None and row["sha256"]
        if task["encrypt"]:
            db.execute("INSERT OR REPLACE INTO replication_catalog(task, snapshot, base, blob, size, "
                       "plain_size, format, created, sha256) VALUES(?,?,?,?,?,?,?,?,?)",
                       (task["id"], name, base, result["blob"], row["size"], row["plain_size"],
                        row["format"],
                        time.time(), row["sha256"]))
        await asyncio.to_thread(discard, stream.path, outdir)
        db.execute("DELETE FROM replication_outbox WHERE task=? AND snapshot=?", (task["id"], name))
        sent.append({"snapshot": name, "base": base, "bytes": row["size"],
                     "plain_bytes": row["plain_size"], "resumed_from": result.get("resumed_from", 0),
                     "resumed_at": result.get("resumed_at", []),
                     "prepare_s": round(prepared_s[0], 3) if prepared_s else 0.0,
                     "transfer_s": round(t_done - t_up, 3),
                     "apply_s": result.get("apply_s"),
                     "blob": result.get("blob")})
        ctx.log(f"sent {name} ({row['size']} bytes, base {base}, resumed from "
                f"{result.get('resumed_from', 0)})")
        if incremental:
            base = name
    pruned = await _retention(link, svc, task, source)
    if task["encrypt"] and (sent or pruned or not inv.get("manifest")):
        await _send_manifest(ctx, link, svc, task)
    return {"source": f"{task['pool']}/{task['volume']}", "target": f"{task['peer']}:{tpool}/{tvol}",
            "encrypted": task["encrypt"], "incremental": incremental,
            "common": source[common_idx]["name"] if common_idx >= 0 else None,
            "sent": sent, "bytes": sum(s["bytes"] for s in sent), "wire_bytes": link.wire_bytes,
            "retries": link.retries, "up_to_date": not todo, "pruned": pruned,
            "skipped_name_taken": conflicting,
            "seconds": round(time.monotonic() - started, 3)}


def _stream_key(spool: Path) -> str:
    """The upload key of a stream sent while prepared: its spool directory's name (random)."""
    return spool.parent.name


async def _common(app: Any, link: Link, task: dict[str, Any], source: list[dict[str, Any]],
                  have: set[str]) -> tuple[int, list[str]]:
    """Index of the newest source snapshot the replica has — the same snapshot, not just the same
    name, where the backend can tell (btrfs: the replica's received UUID is the source's UUID) —
    and the names the replica holds with another origin (they cannot be sent)."""
    named = [i for i, s in enumerate(source) if s["name"] in have]
    if not named or task["encrypt"]:
        return (named[-1] if named else -1), []
    recent = named[-32:]
    inv = await link.retrying("identify", lambda: link.request("POST", "/inventory", {
        "pool": task["target_pool"], "volume": task["target_volume"],
        "identify": [source[i]["name"] for i in recent]}))
    ids = inv.get("identities") or {}
    conflicting: list[str] = []
    for i in reversed(recent):
        name = source[i]["name"]
        if name not in ids:
            return i, conflicting               # no identity to compare: the name decides
        src = await app.call("storage.snapshot.get", pool=task["pool"], volume=task["volume"], snapshot=name)
        props = src.get("properties") or {}
        if ids[name] is not None and ids[name] in (props.get("uuid"), props.get("received_uuid")):
            return i, conflicting
        conflicting.insert(0, name)
    return -1, conflicting


async def _retention(link: Link, svc: "ReplicationService", task: dict[str, Any],
                     source: list[dict[str, Any]]) -> list[str]:
    keep = int(task["retention"].get("keep_last") or 0)
    if keep <= 0:
        return []
    tpool, tvol = task["target_pool"], task["target_volume"]
    if not task["encrypt"]:
        inv = await link.retrying("inventory", lambda: link.request(
            "POST", "/inventory", {"pool": tpool, "volume": tvol}))
        names = [s["name"] for s in _sorted(inv["snapshots"])]
        drop = names[:-keep]
        if drop:
            await link.retrying("prune", lambda: link.request(
                "POST", "/prune", {"pool": tpool, "volume": tvol, "snapshots": drop}))
        return drop
    drop_rows = sealed_retention(svc.app.db.all("SELECT * FROM replication_catalog WHERE task=?",
                                                (task["id"],)), keep)
    if drop_rows:
        await link.retrying("prune", lambda: link.request(
            "POST", "/prune", {"pool": tpool, "volume": tvol, "blobs": [r["blob"] for r in drop_rows]}))
        svc.app.db.execute(f"DELETE FROM replication_catalog WHERE task=? AND snapshot IN "
                           f"({','.join('?' * len(drop_rows))})",
                           (task["id"], *[r["snapshot"] for r in drop_rows]))
    return [r["snapshot"] for r in drop_rows]


PAD_MAGIC = b"SVRPAD1\0"


def padme(length: int) -> int:
    """Padmé (Nikitin et al., PETS 2019): round up so that only O(log log L) bits of the length
    remain; at most +12 %."""
    if length < 2:
        return length
    e = length.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


def pad_file(src: Path) -> Path:
    """``magic, u64 length, stream, zeros`` to the Padmé size; ``src`` is replaced."""
    length = src.stat().st_size
    dst = src.with_suffix(".padded")
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write(PAD_MAGIC + length.to_bytes(8, "big"))
        shutil.copyfileobj(f, out, 1 << 20)
        out.truncate(padme(length + 16))
    src.unlink()
    return dst


def unpad_file(src: Path) -> None:
    """Undo :func:`pad_file` in place (a copy of the stream, then a rename)."""
    tmp = src.with_suffix(".unpadded")
    with open(src, "rb") as f:
        head = f.read(16)
        if head[:8] != PAD_MAGIC:
            raise APIError(422, "bad_padding", "a padded stream without its header")
        left = int.from_bytes(head[8:], "big")
        with open(tmp, "wb") as out:
            while left:
                block = f.read(min(left, 1 << 20))
                if not block:
                    raise APIError(422, "bad_padding", "a padded stream shorter than its header says")
                out.write(block)
                left -= len(block)
    os.replace(tmp, src)


MANIFEST_FORMAT = "sigmavault-replication-manifest/1"


async def _send_manifest(ctx: Any, link: Link, svc: "ReplicationService", task: dict[str, Any]) -> None:
    """The catalog, sealed like the blobs, as ``manifest.age`` on the target: with this node's keys
    (exported), another node can rebuild the volume after this one is lost (``recover``)."""
    rows = svc.app.db.all("SELECT snapshot, base, blob, size, plain_size, format, created, sha256 FROM "
                          "replication_catalog WHERE task=? ORDER BY created", (task["id"],))
    doc = {"format": MANIFEST_FORMAT, "source": {"pool": task["pool"], "volume": task["volume"]},
           "written": time.time(), "snapshots": rows}
    work = svc.app.data_dir / "replication" / "outbox"
    plain, sealed = work / f"{task['id']}-manifest.json", work / f"{task['id']}-manifest.age"
    try:
        plain.write_text(json.dumps(doc))
        await svc.app.registries["encryptors"]["age"].encrypt_file(plain, sealed, task["recipients"] or None)
        digest = await asyncio.to_thread(sha256_file, sealed)
        stream = Spool.prepared(sealed, digest)
        try:
            await link.upload({"pool": task["target_pool"], "volume": task["target_volume"],
                               "kind": "manifest", "key": f"{task['id']}.manifest.{digest[:32]}",
                               "size": stream.available, "sha256": digest, "snapshot": None},
                              stream, lambda *_: None)
        finally:
            await stream.close()
        ctx.log(f"manifest with {len(rows)} snapshots stored on {task['peer']}")
    finally:
        plain.unlink(missing_ok=True)
        sealed.unlink(missing_ok=True)


def sealed_retention(catalog: list[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    """The catalog rows (``snapshot``, ``base``, ``created``) a sealed replica may drop: all but
    the newest ``keep`` and the chains of incremental bases they need to be restored."""
    rows = {r["snapshot"]: r for r in catalog}
    order = sorted(catalog, key=lambda r: r["created"])
    needed: set[str] = set()
    for r in order[-keep:] if keep > 0 else order:
        cur: dict[str, Any] | None = r
        while cur is not None and cur["snapshot"] not in needed:
            needed.add(cur["snapshot"])
            cur = rows.get(cur["base"]) if cur["base"] else None
    return [r for r in order if r["snapshot"] not in needed]


async def browse(svc: "ReplicationService", task: dict[str, Any]) -> dict[str, Any]:
    link = link_for(None, svc, task)
    link.retry_seconds = 0
    inv = await link.request("POST", "/inventory", {"pool": task["target_pool"],
                                                    "volume": task["target_volume"]})
    if task["encrypt"]:
        blobs = {b["blob"]: b for b in inv["blobs"]}
        snaps = [{"name": r["snapshot"], "created": r["created"], "base": r["base"],
                  "stored_bytes": r["size"], "plain_bytes": r["plain_size"], "blob": r["blob"],
                  "present": r["blob"] in blobs}
                 for r in svc.app.db.all("SELECT * FROM replication_catalog WHERE task=? ORDER BY created",
                                         (task["id"],))]
        return {"peer": task["peer"], "pool": task["target_pool"], "volume": task["target_volume"],
                "encrypted": True, "exists": inv["exists"], "snapshots": snaps,
                "blobs_on_target": len(blobs)}
    return {"peer": task["peer"], "pool": task["target_pool"], "volume": task["target_volume"],
            "encrypted": False, "exists": inv["exists"], "snapshots": _sorted(inv["snapshots"])}


async def _fetch(ctx: Any, link: Link, svc: "ReplicationService", task: dict[str, Any],
                 export_body: dict[str, Any], dest: Path, expect: str | None = None) -> None:
    """Download an export into ``dest``; ``expect``: the SHA-256 this node recorded when it sent
    the blob (a target that changed or swapped it is caught before anything is decrypted)."""
    ex = await link.retrying("export", lambda: link.request(
        "POST", "/exports", {"pool": task["target_pool"], "volume": task["target_volume"], **export_body}))
    await link.download(ex, dest, lambda done, total: ctx.progress(
        percent=100 * done / max(total, 1), description="fetching from " + task["peer"],
        bytes_done=done, bytes_total=total))
    got = await asyncio.to_thread(sha256_file, dest)
    if expect is not None and got != expect:
        dest.unlink(missing_ok=True)
        raise APIError(502, "replica_tampered", f"the blob {export_body.get('blob')} on "
                       f"{task['peer']} is not the one this node sent (SHA-256 differs): it was "
                       "changed or replaced on the target")
    if got != ex["sha256"]:
        dest.unlink(missing_ok=True)
        raise APIError(502, "checksum_mismatch", "the download does not match the target's SHA-256")


async def restore(ctx: Any, svc: "ReplicationService", task: dict[str, Any],
                  body: "RestoreBody") -> dict[str, Any]:
    app = svc.app
    link = link_for(ctx, svc, task)
    work = app.data_dir / "replication" / "restore" / ctx.job_id
    work.mkdir(parents=True, exist_ok=True)
    try:
        if not task["encrypt"]:
            dest = work / "data"
            if body.path is not None:
                await _fetch(ctx, link, svc, task, {"snapshot": body.snapshot, "path": body.path}, dest)
                return await _place_file(app, task, body, dest)
            await _fetch(ctx, link, svc, task, {"snapshot": body.snapshot}, dest)
            snap = await app.call("storage.snapshot.receive", pool=task["pool"], volume=body.target_volume,
                                  source=str(dest), snapshot=body.snapshot)
            return {"volume": f"{task['pool']}/{body.target_volume}", "snapshot": snap["name"],
                    "bytes": dest.stat().st_size}
        rows = {r["snapshot"]: r for r in app.db.all("SELECT * FROM replication_catalog WHERE task=?",
                                                     (task["id"],))}
        return await _restore_sealed(ctx, svc, link, task, rows, body.snapshot, body.target_volume,
                                     body.path, body, work)
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)


async def _restore_sealed(ctx: Any, svc: "ReplicationService", link: Link, task: dict[str, Any],
                          rows: dict[str, dict[str, Any]], snapshot: str, target_volume: str | None,
                          path: str | None, place_body: Any, work: Path) -> dict[str, Any]:
    """Fetch, check, decrypt and receive the chain of sealed blobs ending at ``snapshot`` into
    ``target_volume`` (or one file of it, placed into the task's live volume)."""
    app = svc.app
    if snapshot not in rows:
        raise APIError(404, "unknown_snapshot", f"the replica has no snapshot {snapshot}")
    chain: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = rows[snapshot]
    while cur is not None:
        chain.insert(0, cur)
        cur = rows.get(cur["base"]) if cur["base"] else None
    if chain[0]["base"]:
        raise APIError(409, "broken_chain", f"the base {chain[0]['base']} of the chain is gone")
    enc = app.registries["encryptors"]["age"]
    if path is not None and len(chain) == 1 and chain[0]["format"].split("+")[0] == "tar":
        sealed, plain = work / "0.age", work / "0.tar"
        await _fetch(ctx, link, svc, task, {"blob": chain[0]["blob"]}, sealed, chain[0]["sha256"])
        await enc.decrypt_file(sealed, plain)
        sealed.unlink()
        if chain[0]["format"].endswith("+pad"):
            await asyncio.to_thread(unpad_file, plain)
        member = await asyncio.to_thread(_extract, plain, path, work / "data")
        if not member:
            raise APIError(404, "no_file", f"{path} is not a file in {snapshot}")
        return await _place_file(app, task, place_body, work / "data")
    volume = target_volume or f"restore-{secrets.token_hex(4)}"
    received = []
    for i, r in enumerate(chain):
        sealed, plain = work / f"{i}.age", work / f"{i}.stream"
        await _fetch(ctx, link, svc, task, {"blob": r["blob"]}, sealed, r["sha256"])
        await enc.decrypt_file(sealed, plain)
        sealed.unlink()
        if r["format"].endswith("+pad"):
            await asyncio.to_thread(unpad_file, plain)
        await app.call("storage.snapshot.receive", pool=task["pool"], volume=volume,
                       source=str(plain), snapshot=r["snapshot"])
        plain.unlink()
        received.append(r["snapshot"])
    if len(received) > 1:
        # the volume was made from the chain's first (full) snapshot: bring it to the last
        await app.call("storage.snapshot.rollback", pool=task["pool"], volume=volume,
                       snapshot=snapshot, force=True)
    if path is None:
        return {"volume": f"{task['pool']}/{volume}", "snapshot": snapshot, "chain": received}
    # one file out of a decrypted chain received into a temporary volume
    try:
        root = Path(await app.call("storage.snapshot.path", pool=task["pool"], volume=volume,
                                   snapshot=snapshot))
        src = inside(root, path)
        if not src.is_file():
            raise APIError(404, "no_file", f"{path} is not a file in {snapshot}")
        await asyncio.to_thread(shutil.copyfile, src, work / "data")
        return await _place_file(app, task, place_body, work / "data")
    finally:
        for name in reversed(received):
            try:
                await app.call("storage.snapshot.delete", pool=task["pool"], volume=volume, snapshot=name)
            except APIError:
                pass
        try:
            await app.call("storage.volume.destroy", pool=task["pool"], volume=volume)
        except APIError:
            pass


async def recover(ctx: Any, svc: "ReplicationService", body: Any) -> dict[str, Any]:
    """Rebuild a volume from a sealed replica with nothing but this node's (imported) keys: the
    target's sealed manifest names the blobs, their bases and checksums."""
    app = svc.app
    task = {"peer": body.peer, "target_pool": body.target_pool, "target_volume": body.target_volume,
            "pool": body.pool, "volume": body.volume, "bwlimit": None}
    link = link_for(ctx, svc, task)
    work = app.data_dir / "replication" / "restore" / ctx.job_id
    work.mkdir(parents=True, exist_ok=True)
    try:
        await _fetch(ctx, link, svc, task, {"manifest": True}, work / "manifest.age")
        await app.registries["encryptors"]["age"].decrypt_file(work / "manifest.age", work / "manifest.json")
        doc = json.loads((work / "manifest.json").read_text())
        if doc.get("format") != MANIFEST_FORMAT:
            raise APIError(422, "bad_manifest", f"unknown manifest format {doc.get('format')!r}")
        rows = {r["snapshot"]: r for r in doc["snapshots"]}
        if not rows:
            raise APIError(404, "unknown_snapshot", "the manifest lists no snapshot")
        snapshot = body.snapshot or max(rows.values(), key=lambda r: r["created"])["snapshot"]
        result = await _restore_sealed(ctx, svc, link, task, rows, snapshot, body.volume, None, None, work)
        return {**result, "manifest": {"source": doc.get("source"), "snapshots": sorted(rows)}}
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)


def _extract(tar_path: Path, relpath: str, dest: Path) -> bool:
    want = os.path.normpath(relpath.lstrip("/"))
    with tarfile.open(tar_path) as tar:
        for m in tar:
            if os.path.normpath(m.name.lstrip("./") or ".") == want and m.isfile():
                f = tar.extractfile(m)
                assert f is not None
                with open(dest, "wb") as out:
                    shutil.copyfileobj(f, out, 1 << 20)
                return True
    return False


async def _place_file(app: Any, task: dict[str, Any], body: "RestoreBody", data: Path) -> dict[str, Any]:
    root = Path(await app.call("storage.volume.path", pool=task["pool"], volume=task["volume"]))
    assert body.path is not None
    target = inside(root, body.path)
    if target.exists() and not body.overwrite:
        raise conflict(f"{body.path} exists in {task['pool']}/{task['volume']}; pass overwrite",
                       code="target_exists")
    target.parent.mkdir(parents=True, exist_ok=True)

    def place() -> int:
        with open(data, "rb") as src, atomic_write(target) as out:
            shutil.copyfileobj(src, out, 1 << 20)
        return target.stat().st_size
    size = await asyncio.to_thread(place)
    return {"restored": f"{task['pool']}/{task['volume']}/{body.path}", "snapshot": body.snapshot,
            "bytes": size}
