"""FORGE: recompress gzip/xz/bz2 archives to zstd, verify the round trip, keep the smaller."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Callable

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import engine, stats
from ..codecs import Codec, CodecRegistry, CorruptArchive
from ..filetypes import head, walk_files
from ..progress import BatchProgress, format_ratio
from ..service import CompressionService
from .batch import file_progress
from .target import Target

SOURCES = ("gzip", "xz", "bz2")


class ForgeParams(Target):
    level: int = Field(19, ge=1, le=22, description="zstd level of the new archives")
    threads: int = Field(0, ge=0, le=256, description="zstd threads; 0 = every core")
    dry_run: bool = Field(False, description="measure only: originals are kept, nothing is written")
    codecs: list[str] = Field(list(SOURCES), description="which archive codecs to convert")
    max_files: int = Field(100_000, ge=1, le=10_000_000)


def find(root: Path, registry: CodecRegistry, names: list[str], max_files: int
         ) -> list[tuple[Path, Codec]]:
    wanted = [registry.get(n) for n in names if n in registry]
    found = []
    for path in walk_files(root, max_files):
        try:
            start = head(path, 16)
        except OSError:
            continue
        codec = next((c for c in wanted if c.magic_length(start)), None)
        if codec is not None:
            found.append((path, codec))
    return found


def forge(files: list[tuple[Path, Codec]], zstd: Codec, level: int, threads: int, dry_run: bool,
          batch: BatchProgress, db: Any, job_id: str, check: Callable[[], None]
          ) -> list[dict[str, Any]]:
    rows = []
    for path, old in files:
        check()
        target = engine.default_recompress_target(path, old, zstd)
        row: dict[str, Any] = {"path": str(path), "codec": old.name, "size": path.stat().st_size}
        if dry_run:
            target = path.with_name(f".{path.name}.forge-{secrets.token_hex(4)}{zstd.extension}")
        elif target.exists():
            rows.append({**row, "action": "skipped", "reason": f"{target.name} already exists"})
            continue
        try:
            out = engine.recompress(path, target, old, zstd, level, threads,
                                    replace_source=not dry_run, keep_smaller=not dry_run,
                                    progress=file_progress(batch), check=check)
        except (CorruptArchive, OSError) as exc:
            rows.append({**row, "action": "failed", "reason": str(exc)})
            continue
        finally:
            if dry_run:
                target.unlink(missing_ok=True)
        result = out.to_dict()
        result.pop("extra", None)
        if out.kept == "new" and not dry_run:
            stats.record(db, result, job_id)
        smaller = out.compressed < row["size"]
        action = ("would_replace" if smaller else "would_keep") if dry_run else (
            "replaced" if out.kept == "new" else "kept_original")
        rows.append({**row, "action": action, "zstd_size": out.compressed,
                     "saved": row["size"] - out.compressed if smaller else 0,
                     "target": str(target) if action == "replaced" else None,
                     "uncompressed": out.uncompressed, "verified": out.verified})
    return rows


async def run_forge(ctx: JobContext, p: ForgeParams) -> dict[str, Any]:
    root = await p.resolve(ctx.app)
    svc = ctx.app.services[CompressionService]
    zstd = svc.codec("zstd")
    for name in p.codecs:
        svc.codec(name)
    files = await ctx.to_thread(find, root, svc.registry, p.codecs, p.max_files)
    batch = BatchProgress(ctx, "forge", zstd.name, str(root),
                          sum(f.stat().st_size for f, _ in files), svc.config.progress_interval)
    rows = await ctx.to_thread(forge, files, zstd, p.level, p.threads, p.dry_run, batch,
                               ctx.app.db, ctx.job_id, ctx.check)
    batch.finish()
    before = sum(r["size"] for r in rows if "zstd_size" in r)
    after = sum(min(r["size"], r["zstd_size"]) for r in rows if "zstd_size" in r)
    return {"path": str(root), "dry_run": p.dry_run, "level": p.level, "archives": len(rows),
            "replaced": sum(r["action"] in ("replaced", "would_replace") for r in rows),
            "kept_original": sum(r["action"] in ("kept_original", "would_keep") for r in rows),
            "failed": sum(r["action"] == "failed" for r in rows),
            "bytes_before": before, "bytes_after": after, "saved_bytes": before - after,
            "size_ratio": format_ratio(before, after or 1)["ratio_text"] if before else None,
            "files": rows[:500]}


FORGE = Agent(name="FORGE", tier="storage", specialty="archive recompression",
              params_model=ForgeParams, run=run_forge, concurrency=1, timeout=24 * 3600,
              lock=Target.lock_name,
              description="recompress gzip/xz/bz2 archives to zstd, verify that the new archive "
                          "decodes to the same bytes, keep whichever is smaller",
              tags=["compression"])
