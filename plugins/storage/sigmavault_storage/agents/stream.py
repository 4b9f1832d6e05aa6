"""STREAM: export a snapshot as a stream file (zfs/btrfs send, tar for dir) and import one,
with a SHA-256 checksum sidecar (``<stream>.json``) written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from sigmavault.errors import APIError, bad_request, conflict
from sigmavault.files import atomic_write
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from .common import (Params, allowed_path, backend_of, capable, now_iso, pool_info, sha256_file,
                     snapshot_path, work_dir)


class StreamParams(Params):
    action: Literal["export", "import"] = "export"
    pool: Name
    volume: Name
    snapshot: Name | None = Field(None, description="export: the snapshot to send; import: the "
                                  "name to give the received snapshot (default: the stream's)")
    base: Name | None = Field(None, description="export: older snapshot for an incremental stream")
    file: str | None = Field(None, description="stream file (absolute, under the allowed roots); "
                             "export default: <data_dir>/storage-agents/streams/<pool>_<volume>@<snap>.stream")
    overwrite: bool = False
    verify: bool = Field(True, description="import: check the SHA-256 of the sidecar first")

    @model_validator(mode="after")
    def _shape(self) -> "StreamParams":
        if self.action == "export" and self.snapshot is None:
            raise ValueError("export needs a snapshot")
        if self.action == "import" and self.file is None:
            raise ValueError("import needs a file")
        return self

    async def preflight(self, app: Any) -> None:
        await pool_info(app, self.pool)
        if self.file:
            allowed_path(app, self.file, "file")


def sidecar(stream: Path) -> Path:
    return stream.with_name(stream.name + ".json")


def _hash_with_progress(ctx: JobContext, path: Path, label: str, start: float) -> str:
    """SHA-256 of ``path``, reported as progress from ``start`` to ``start + 50`` percent."""
    total = path.stat().st_size
    done = 0

    def on_bytes(n: int) -> None:
        nonlocal done
        done += n
        ctx.progress(percent=start + 50 * done / max(total, 1), description=label,
                     bytes_done=done, bytes_total=total)
    return sha256_file(path, ctx.check, on_bytes)


async def export(ctx: JobContext, p: StreamParams) -> dict[str, Any]:
    app = ctx.app
    backend = backend_of(app, await pool_info(app, p.pool))
    if not capable(backend, "send_receive"):
        raise APIError(501, "not_supported", f"backend {backend.name} cannot send snapshots")
    assert p.snapshot is not None                                    # the params validator's rule
    await snapshot_path(app, p.pool, p.volume, p.snapshot)          # 404 for an unknown snapshot
    if p.base:
        await snapshot_path(app, p.pool, p.volume, p.base)
    target = (allowed_path(app, p.file, "file") if p.file else
              work_dir(app, "streams") / f"{p.pool}_{p.volume}@{p.snapshot}.stream")
    if target.exists() and not p.overwrite:
        raise conflict(f"{target} exists; pass overwrite=true", code="target_exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    ctx.progress(percent=0, description=f"sending {p.volume}@{p.snapshot}")
    sent = await app.call("storage.snapshot.send", pool=p.pool, volume=p.volume,
                          snapshot=p.snapshot, target=str(target), base=p.base)
    try:
        digest = await ctx.to_thread(_hash_with_progress, ctx, target, f"checksum {target.name}", 50)
        manifest = {"format": sent["format"], "incremental": sent["incremental"],
                    "bytes": target.stat().st_size, "sha256": digest, "pool": p.pool,
                    "volume": p.volume, "snapshot": p.snapshot, "base": p.base,
                    "backend": backend.name, "created": now_iso()}
        with atomic_write(sidecar(target), "w") as f:
            json.dump(manifest, f, indent=1)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    ctx.log(f"exported {p.pool}/{p.volume}@{p.snapshot} to {target} ({manifest['bytes']} bytes)")
    return {"action": "export", "file": str(target), "sidecar": str(sidecar(target)), **manifest}


async def import_(ctx: JobContext, p: StreamParams) -> dict[str, Any]:
    app = ctx.app
    backend = backend_of(app, await pool_info(app, p.pool))
    if not capable(backend, "send_receive"):
        raise APIError(501, "not_supported", f"backend {backend.name} cannot receive snapshots")
    assert p.file is not None                                        # the params validator's rule
    source = allowed_path(app, p.file, "file")
    if not source.is_file():
        raise bad_request(f"stream file {source} does not exist", code="bad_source")
    manifest: dict[str, Any] = {}
    if sidecar(source).is_file():
        manifest = json.loads(sidecar(source).read_text())
    if manifest.get("backend") not in (None, backend.name):
        raise bad_request(f"stream was made by backend {manifest['backend']}, pool {p.pool} is "
                          f"{backend.name}", code="format_mismatch")
    digest = None
    if p.verify:
        if "sha256" not in manifest:
            raise bad_request(f"no checksum sidecar {sidecar(source).name}; pass verify=false",
                              code="no_checksum")
        digest = await ctx.to_thread(_hash_with_progress, ctx, source, f"verifying {source.name}", 0)
        if digest != manifest["sha256"]:
            raise APIError(422, "checksum_mismatch",
                           f"SHA-256 of {source.name} is {digest}, sidecar says {manifest['sha256']}")
    ctx.progress(percent=50, description=f"receiving into {p.pool}/{p.volume}")
    snap = await app.call("storage.snapshot.receive", pool=p.pool, volume=p.volume,
                          source=str(source), snapshot=p.snapshot or manifest.get("snapshot"))
    return {"action": "import", "file": str(source), "verified": digest is not None,
            "sha256": digest, "bytes": os.path.getsize(source), "snapshot": snap}


async def run_stream(ctx: JobContext, p: StreamParams) -> dict[str, Any]:
    return await (export(ctx, p) if p.action == "export" else import_(ctx, p))


AGENT = Agent(name="STREAM", tier="storage", specialty="storage", params_model=StreamParams,
              run=run_stream, concurrency=2, tags=["snapshots", "replication"],
              lock=lambda p: f"volume:{p.pool}/{p.volume}" if p.action == "import" else None,
              description="export a snapshot as a stream file (zfs send / btrfs send / tar for "
                          "dir) with a SHA-256 sidecar, and import one after verifying it")
