"""DELTA: files added, modified and deleted between two snapshots, or a snapshot and live data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .common import (Entry, VolumeRef, backend_of, capable, pool_info, scan_tree, sha256_file,
                     snapshot_path, volume_path)
from sigmavault.validation import Name


class DeltaParams(VolumeRef):
    old: Name = Field(description="the older snapshot")
    new: Name | None = Field(None, description="the newer snapshot (None: the live volume)")
    method: Literal["auto", "backend", "tree"] = Field(
        "auto", description="auto: the backend's native diff when it has one, else a tree comparison")
    verify_hash: bool = Field(True, description="tree: files of equal size but other mtime are "
                              "compared by SHA-256 (a touch alone is no change)")
    limit: int = Field(10_000, ge=0, le=1_000_000, description="at most this many changes listed")


def compare_trees(old: Path, new: Path, verify_hash: bool = True,
                  check: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Changes from tree ``old`` to tree ``new`` by type, size, mtime and (optionally) content."""
    a, b = scan_tree(old, check), scan_tree(new, check)
    changes: list[dict[str, Any]] = []

    def add(path: str, change: str, e: Entry) -> None:
        changes.append({"path": path, "change": change, "type": e.type, "old_path": None,
                        "size": e.size})

    for path in sorted(a.keys() - b.keys()):
        add(path, "deleted", a[path])
    for path in sorted(b.keys() - a.keys()):
        add(path, "added", b[path])
    for path in sorted(a.keys() & b.keys()):
        x, y = a[path], b[path]
        if x.type != y.type:
            add(path, "deleted", x)
            add(path, "added", y)
        elif x.type == "symlink" and x.link != y.link:
            add(path, "modified", y)
        elif x.type == "file" and x.size != y.size:
            add(path, "modified", y)
        elif x.type == "file" and x.mtime_ns != y.mtime_ns:
            if not verify_hash or sha256_file(old / path, check) != sha256_file(new / path, check):
                add(path, "modified", y)
    return changes


async def run_delta(ctx: JobContext, p: DeltaParams) -> dict[str, Any]:
    app = ctx.app
    pool = await pool_info(app, p.pool)
    backend = backend_of(app, pool)
    old_root = await snapshot_path(app, p.pool, p.volume, p.old)
    new_root = (await snapshot_path(app, p.pool, p.volume, p.new) if p.new
                else await volume_path(app, p.pool, p.volume))
    method = p.method
    if method == "auto":
        method = "backend" if capable(backend, "diff") else "tree"
    if method == "backend" and not capable(backend, "diff"):
        raise APIError(501, "not_supported", f"backend {pool['backend']} has no native diff")
    ctx.progress(percent=0, description=f"{method} diff {p.volume}@{p.old} → {p.new or 'live'}")
    if method == "backend":
        changes = await app.call("storage.snapshot.diff", pool=p.pool, volume=p.volume,
                                 old=p.old, new=p.new)
        for c in changes:   # sizes where the file still exists (not part of the backend answer)
            root = old_root if c["change"] == "deleted" else new_root
            try:
                st = os.lstat(root / c["path"])
                c["size"] = st.st_size if c["type"] == "file" else 0
            except OSError:
                c["size"] = None
    else:
        changes = await ctx.to_thread(compare_trees, old_root, new_root, p.verify_hash, ctx.check)
    counts = {k: 0 for k in ("added", "modified", "deleted", "renamed")}
    for c in changes:
        counts[c["change"]] = counts.get(c["change"], 0) + 1
    changed_bytes = sum(c.get("size") or 0 for c in changes
                        if c["type"] == "file" and c["change"] in ("added", "modified"))
    return {"pool": p.pool, "volume": p.volume, "old": p.old, "new": p.new, "method": method,
            "backend": pool["backend"], "counts": counts, "total": len(changes),
            "changed_bytes": changed_bytes, "truncated": len(changes) > p.limit,
            "changes": changes[:p.limit]}


AGENT = Agent(name="DELTA", tier="core", specialty="storage", params_model=DeltaParams,
              run=run_delta, concurrency=2, tags=["snapshots", "diff"],
              description="snapshot diff: files added, modified, deleted between two snapshots "
                          "(or a snapshot and live data); native zfs/btrfs diff, else tree comparison")
