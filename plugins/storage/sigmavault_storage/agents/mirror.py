"""MIRROR: incremental snapshot replication from one pool to another, resumable.

Native (zfs/btrfs, same backend, ``incremental_send``): each missing snapshot is sent as an
incremental stream from the previous one and received on the target. Otherwise (dir, or across
backends): the target volume is synchronised with each snapshot's tree in turn (only changed
files are copied) and snapshotted under the same name. The target's snapshots are the state:
a rerun after an interruption continues after the newest snapshot both sides have (natively:
the same snapshot, where the backend can tell; a source snapshot whose name the target uses for
another one is skipped and reported). When the target's live volume moved on from that
snapshot (zfs refuses an incremental receive then, e.g. after the target lost a newer one), it
is rolled back to it first, like ``zfs receive -F``, but only when no newer snapshot of the
target would be destroyed."""

from __future__ import annotations

import fnmatch
from typing import Any, Literal

from pydantic import Field

from sigmavault.errors import APIError, bad_request
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from .common import (VolumeRef, backend_of, capable, pool_info, snapshot_path, snapshots,
                     volume_path, work_dir)
from .treesync import sync_tree


class MirrorParams(VolumeRef):
    target_pool: Name
    target_volume: Name | None = Field(None, description="default: the source volume's name")
    match: str = Field("*", max_length=128, description="only snapshots whose name matches this glob")
    method: Literal["auto", "native", "copy"] = "auto"


async def _target_exists(app: Any, pool: str, volume: str) -> bool:
    return any(v["name"] == volume for v in await app.call("storage.volumes.list", pool=pool))


async def _rewind(dst_b: Any, pool: str, volume: str, base: str, older: set[str]) -> bool:
    """Roll the target volume back to ``base`` if no snapshot of it that may be newer would go
    (``older``: names known to precede ``base``, as creation times have whole seconds)."""
    snaps = await dst_b.snapshot_list(pool=pool, volume=volume)
    mark = next((s["created"] for s in snaps if s["name"] == base), None)
    if mark is None or any(s["created"] >= mark and s["name"] != base and s["name"] not in older
                           for s in snaps):
        return False
    await dst_b.snapshot_rollback(pool=pool, volume=volume, name=base)
    return True


async def _replica_of(src_b: Any, dst_b: Any, p: "MirrorParams", tvol: str, name: str) -> bool:
    """Whether the target's snapshot ``name`` was received from the source's (btrfs: its
    received UUID is the source's UUID). Backends without such identities: the name decides."""
    src = (await src_b.snapshot_get(pool=p.pool, volume=p.volume, name=name)).get("properties") or {}
    dst = (await dst_b.snapshot_get(pool=p.target_pool, volume=tvol, name=name)).get("properties") or {}
    if not (src.get("uuid") and "received_uuid" in dst):
        return True
    received = dst["received_uuid"]
    return received is not None and received in (src["uuid"], src.get("received_uuid"))


async def run_mirror(ctx: JobContext, p: MirrorParams) -> dict[str, Any]:
    app = ctx.app
    tvol = p.target_volume or p.volume
    if (p.target_pool, tvol) == (p.pool, p.volume):
        raise bad_request("source and target are the same volume", code="same_volume")
    src_pool, dst_pool = await pool_info(app, p.pool), await pool_info(app, p.target_pool)
    src_b, dst_b = backend_of(app, src_pool), backend_of(app, dst_pool)
    native_ok = (src_b.name == dst_b.name and capable(src_b, "send_receive")
                 and capable(src_b, "incremental_send"))
    method = p.method if p.method != "auto" else ("native" if native_ok else "copy")
    if method == "native" and not native_ok:
        raise APIError(501, "not_supported", "native replication needs the same backend on both "
                       "sides with incremental send")
    source = [s for s in await snapshots(app, p.pool, p.volume) if fnmatch.fnmatchcase(s["name"], p.match)]
    exists = await _target_exists(app, p.target_pool, tvol)
    have = {s["name"] for s in await snapshots(app, p.target_pool, tvol)} if exists else set()
    # the newest snapshot both sides have; for native streams it must be the same snapshot, not
    # just the same name (AEGIS, say, snapshots source and target under one name)
    common_idx, conflicting = -1, list[str]()
    for i in range(len(source) - 1, -1, -1):
        name = source[i]["name"]
        if name not in have:
            continue
        if method != "native" or await _replica_of(src_b, dst_b, p, tvol, name):
            common_idx = i
            break
        conflicting.insert(0, name)
    diverged = [s["name"] for s in source[:common_idx] if s["name"] not in have]
    todo = [s for s in source[common_idx + 1:] if s["name"] not in conflicting]
    base = source[common_idx]["name"] if common_idx >= 0 else None
    ctx.log(f"{p.pool}/{p.volume} → {p.target_pool}/{tvol} ({method}): common={base}, "
            f"to send={[s['name'] for s in todo]}")
    if method == "copy" and not exists and todo:
        await dst_b.volume_create(pool=p.target_pool, name=tvol, quota=None, compression=None)
    sent: list[dict[str, Any]] = []
    rolled_back = None
    for n, snap in enumerate(todo):
        ctx.check()
        name = snap["name"]
        ctx.progress(percent=100 * n / len(todo), description=f"sending {name}")
        if method == "native":
            stream = work_dir(app, "mirror") / f"{ctx.job_id}-{name}.stream"
            try:
                info = await app.call("storage.snapshot.send", pool=p.pool, volume=p.volume,
                                      snapshot=name, target=str(stream), base=base)
                receive = {"pool": p.target_pool, "volume": tvol, "source": str(stream), "snapshot": name}
                try:
                    await app.call("storage.snapshot.receive", **receive)
                except APIError as e:
                    # zfs: "destination ... has been modified since most recent snapshot"
                    moved = e.code == "receive_conflict"
                    if n or base is None or not moved or \
                            not await _rewind(dst_b, p.target_pool, tvol, base,
                                            {s["name"] for s in source[:common_idx]}):
                        raise
                    rolled_back = base
                    ctx.log(f"{p.target_pool}/{tvol} changed since {base}: rolled back to it")
                    await app.call("storage.snapshot.receive", **receive)
            finally:
                stream.unlink(missing_ok=True)
            sent.append({"snapshot": name, "base": base, "bytes": info["bytes"],
                         "incremental": info["incremental"], "format": info["format"]})
        else:
            src_root = await snapshot_path(app, p.pool, p.volume, name)
            dst_root = await volume_path(app, p.target_pool, tvol)

            def prog(done: int, total: int, n: int = n) -> None:
                ctx.progress(percent=100 * (n + done / max(total, 1)) / len(todo),
                             description=f"copying {name}", bytes_done=done, bytes_total=total)
            stats = await ctx.to_thread(sync_tree, src_root, dst_root, ctx.check, prog)
            await app.call("storage.snapshot.create", pool=p.target_pool, volume=tvol, name=name)
            sent.append({"snapshot": name, "base": base, "bytes": stats["bytes_copied"],
                         "incremental": base is not None, "format": "files", **stats})
        ctx.log(f"replicated {name} ({sent[-1]['bytes']} bytes)")
        base = name
    return {"source": f"{p.pool}/{p.volume}", "target": f"{p.target_pool}/{tvol}", "method": method,
            "common": source[common_idx]["name"] if common_idx >= 0 else None,
            "sent": sent, "bytes": sum(s["bytes"] for s in sent),
            "up_to_date": not todo, "skipped_missing_on_target": diverged,
            "rolled_back_to": rolled_back, "skipped_name_taken": conflicting}


AGENT = Agent(name="MIRROR", tier="support", specialty="storage", params_model=MirrorParams,
              run=run_mirror, tags=["replication", "snapshots"],
              lock=lambda p: f"mirror:{p.target_pool}/{p.target_volume or p.volume}",
              description="replication: incremental snapshot replication to another pool "
                          "(native send/receive, else changed-file copy), resumable")
