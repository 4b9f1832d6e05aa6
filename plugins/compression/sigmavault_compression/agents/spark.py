"""SPARK: parallel batch compression of many files across all cores."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import Field

from sigmavault.errors import APIError, bad_request
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..codecs import Codec
from ..filetypes import head, walk_files
from ..models import MaybeWhere
from ..paths import resolve_given
from ..progress import BatchProgress
from ..service import CompressionService
from .batch import FileTask, cpu_workers, run_batch, summarize
from .target import Target


class SparkParams(Target):
    codec: str = Field("zstd", max_length=32)
    level: int | None = Field(None, description="default: the codec's default level")
    workers: int = Field(0, ge=0, le=256, description="files compressed at once; 0 = every core")
    output: MaybeWhere = Field(None, description="folder for the archives (mirrors the tree), "
                               "an absolute path or {pool, volume, subpath}; default: beside "
                               "each file")
    remove_source: bool = Field(False, description="delete each file once its archive is verified")
    min_size: int = Field(0, ge=0, description="skip files smaller than this many bytes")
    max_files: int = Field(100_000, ge=1, le=10_000_000)

    async def preflight(self, app: Any) -> None:
        root = await self.resolve(app)
        svc = app.services[CompressionService]
        codec = svc.codec(self.codec)
        try:
            codec.levels.check(self.level)
        except ValueError as exc:
            raise bad_request(f"{codec.name}: {exc}", "invalid_level") from None
        if self.output:
            out = (await resolve_given(app, self.output, await svc.roots(), "output")).path
            if root.is_dir() and (out == root or root in out.parents):
                raise bad_request("output must not lie inside the folder being compressed",
                                  "target_inside_source")


def plan(root: Path, output: Path | None, codec: Codec, level: int, remove: bool, min_size: int,
         max_files: int) -> tuple[list[FileTask], list[dict[str, str]]]:
    tasks, skipped = [], []
    base = root if root.is_dir() else root.parent
    for path in walk_files(root, max_files):
        try:
            size = path.stat().st_size
            already = codec.magic_length(head(path, 16)) > 0 and size > 0
        except OSError as exc:
            skipped.append({"path": str(path), "reason": f"unreadable: {exc}"})
            continue
        if size < min_size:
            skipped.append({"path": str(path), "reason": "smaller than min_size"})
            continue
        if already:
            skipped.append({"path": str(path), "reason": f"already a {codec.name} archive"})
            continue
        target = (output / path.relative_to(base) if output else path).with_name(
            path.name + codec.extension)
        if target.exists():
            skipped.append({"path": str(path), "reason": f"{target.name} already exists"})
            continue
        # one codec thread per file: the parallelism is across files
        tasks.append(FileTask(path, target, codec, level, 1, remove))
    tasks.sort(key=lambda t: -t.source.stat().st_size)  # big files first balance the workers
    return tasks, skipped


async def run_spark(ctx: JobContext, p: SparkParams) -> dict[str, Any]:
    await p.preflight(ctx.app)
    root = await p.resolve(ctx.app)
    svc = ctx.app.services[CompressionService]
    output = (await resolve_given(ctx.app, p.output, await svc.roots(), "output")).path \
        if p.output else None
    codec = svc.codec(p.codec)
    level = codec.levels.check(p.level)
    tasks, skipped = await ctx.to_thread(plan, root, output, codec, level, p.remove_source,
                                         p.min_size, p.max_files)
    workers = min(cpu_workers(p.workers), max(len(tasks), 1))
    batch = BatchProgress(ctx, "spark", codec.name, str(root),
                          sum(t.source.stat().st_size for t in tasks), svc.config.progress_interval)
    done, failed = await ctx.to_thread(run_batch, tasks, workers, batch, ctx.app.db, ctx.job_id,
                                       ctx.check)
    if tasks and not done:
        raise APIError(422, "nothing_compressed", f"every file failed; first: {failed[0]['error']}")
    elapsed = round(time.monotonic() - batch.started, 3)
    summary = summarize(done)
    return {"path": str(root), "codec": codec.name, "level": level, "workers": workers,
            **summary, "seconds": elapsed,
            "throughput": round(summary["bytes"] / elapsed, 1) if elapsed else None,
            "skipped": skipped[:100], "failed": failed, "compressed_files": done[:200]}


SPARK = Agent(name="SPARK", tier="core", specialty="parallel batch compression",
              params_model=SparkParams, run=run_spark, concurrency=1, timeout=24 * 3600,
              description="compress many files in parallel, one file per core, each to its own "
                          "archive (verified before any source is removed)",
              tags=["compression"])
