"""CONDUIT: backup pipeline, snapshot → archive → compress → encrypt → destination.

Every step but the tar stream belongs to another plugin and is reached without importing it:
the snapshot through ``app.call("storage.snapshot.*")``, the codec from
``app.registries["codecs"]``, the encryptor from ``app.registries["encryptors"]``. A missing
plugin fails the task with a clear error; nothing is left at the destination but the finished
file (temporary names until the last rename).
"""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from sigmavault.errors import APIError
from sigmavault.files import fsync_dir
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from ..locate import Target, resolve
from .. import archive
from .common import where


class ConduitParams(BaseModel):
    pool: Name | None = Field(None, description="snapshot this volume and back up the snapshot")
    volume: Name | None = None
    source: Target | None = Field(None, description="or back up a live directory (no snapshot)")
    destination: Target = Field(description="directory that receives the backup file")
    codec: str = Field("zstd", max_length=32)
    level: int | None = Field(None, description="default: the codec's default level")
    encryptor: str | None = Field("age", max_length=32, description="null: no encryption")
    recipients: list[str] = Field(default_factory=list, max_length=32,
                                  description="encryptor recipients; default: the encryptor's default keys")
    name: Name | None = Field(None, description="file base name; default <volume>-<UTC time>")
    keep_snapshot: bool = True

    @model_validator(mode="after")
    def _source(self) -> "ConduitParams":
        if (self.source is None) == (self.pool is None or self.volume is None):
            raise ValueError("give either 'pool' and 'volume' (snapshot) or 'source' (live directory)")
        return self

    def components(self, app: Any) -> tuple[Any, Any]:
        codec = app.registries.get("codecs", {}).get(self.codec)
        if codec is None:
            raise APIError(501 if not app.registries.get("codecs") else 400, "codec_unavailable",
                           f"codec {self.codec!r} is not registered (installed: "
                           f"{', '.join(app.registries.get('codecs', {})) or 'none'})")
        encryptor = None
        if self.encryptor is not None:
            encryptor = app.registries.get("encryptors", {}).get(self.encryptor)
            if encryptor is None:
                raise APIError(501 if not app.registries.get("encryptors") else 400, "encryptor_unavailable",
                               f"encryptor {self.encryptor!r} is not registered (installed: "
                               f"{', '.join(app.registries.get('encryptors', {})) or 'none'})")
        return codec, encryptor

    async def preflight(self, app: Any) -> None:
        self.components(app)
        await resolve(app, self.destination, kind="dir")
        if self.source is not None:
            await resolve(app, self.source, kind="dir")
        elif not app.has_method("storage.snapshot.create"):
            raise APIError(501, "method_unavailable", "snapshots need the storage plugin")


async def run_conduit(ctx: JobContext, p: ConduitParams) -> dict[str, Any]:
    app = ctx.app
    codec, encryptor = p.components(app)
    dest = await where(ctx, p.destination)
    snapshot = None
    started = time.time()
    if p.source is None:
        ctx.progress(percent=0, description="snapshot")
        snapshot = await app.call("storage.snapshot.create", pool=p.pool, volume=p.volume)
        root = Path(await app.call("storage.snapshot.path", pool=p.pool, volume=p.volume,
                                   snapshot=snapshot["name"]))
        label = p.volume
    else:
        root = await where(ctx, p.source)
        label = root.name or "root"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    base = p.name or f"{label}-{stamp}"
    final = dest / f"{base}.tar{codec.extension}{encryptor.extension if encryptor else ''}"
    if final.exists():
        raise APIError(409, "exists", f"{final} already exists")
    level = p.level if p.level is not None else archive.levels_default(codec.levels)
    temp = dest / f".{base}.conduit-{os.getpid()}-{int(started)}.part"
    try:
        ctx.progress(description="archive and compress")
        packed = await ctx.to_thread(partial(
            archive.tar_compress, root, temp, codec.compressor, level,
            max(1, os.cpu_count() or 1) if getattr(codec, "multithreaded", False) else 1,
            check=ctx.check, progress=ctx.progress))
        encrypted = None
        if encryptor is not None:
            ctx.progress(description="encrypt")
            recipients = p.recipients or (encryptor.default_recipients()
                                          if hasattr(encryptor, "default_recipients") else [])
            if not recipients:
                raise APIError(400, "no_recipients", f"encryptor {encryptor.name} has no recipients: "
                               "pass 'recipients' or create a key first")
            encrypted = await encryptor.encrypt_file(temp, final, list(recipients))
        else:
            os.replace(temp, final)
            fsync_dir(dest)
    finally:
        temp.unlink(missing_ok=True)
        if snapshot is not None and not p.keep_snapshot:
            await app.call("storage.snapshot.delete", pool=p.pool, volume=p.volume, snapshot=snapshot["name"])
    digest = await ctx.to_thread(archive.sha256_file, final, ctx.check)
    app.audit("agents.conduit.backup", str(final), "ok", {"bytes": final.stat().st_size})
    return {
        "file": str(final), "bytes": final.stat().st_size, "sha256": digest,
        "snapshot": snapshot["name"] if snapshot else None, "snapshot_kept": bool(snapshot) and p.keep_snapshot,
        "source": str(root), "codec": codec.name, "level": level, **packed,
        "encryptor": encryptor.name if encryptor else None,
        "recipients": (encrypted or {}).get("recipients", []),
        "post_quantum": (encrypted or {}).get("post_quantum"),
        "seconds": round(time.time() - started, 3),
    }


CONDUIT = Agent(
    name="CONDUIT", tier="support", specialty="backup pipeline", params_model=ConduitParams,
    run=run_conduit, concurrency=1, timeout=None,
    description="snapshot → archive → compress → encrypt → destination, through other plugins' hooks")
