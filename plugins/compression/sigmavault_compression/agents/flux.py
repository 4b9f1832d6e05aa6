"""FLUX: adaptive compression of a folder — codec/level per file type, skipping compressed media."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from sigmavault.errors import APIError, bad_request
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..codecs import Codec
from ..filetypes import FileType, classify, head, sample, walk_files
from ..models import MaybeWhere
from ..paths import resolve_given
from ..progress import BatchProgress, format_ratio
from ..service import CompressionService
from .axiom import sample_ratio
from .batch import FileTask, run_batch, summarize
from .target import Target

# type label (or "text" / "default") -> zstd level: text gains most from higher levels
LEVELS = {"text": 9, "application/x-sqlite3": 6, "image/bmp": 6, "image/tiff": 6,
          "audio/x-wav": 6, "application/x-tar": 6, "default": 3}


class FluxParams(Target):
    output: MaybeWhere = Field(None, description="folder for the compressed copies (mirrors the "
                               "tree), an absolute path or {pool, volume, subpath}; leave empty "
                               "with in_place=true")
    in_place: bool = Field(False, description="replace each file by its verified .zst")
    min_ratio: float = Field(1.05, ge=1.0, le=100, description="skip files whose sampled ratio "
                             "is below this")
    threads: int = Field(0, ge=0, le=256, description="zstd threads per file; 0 = every core")
    max_files: int = Field(100_000, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _where_to(self) -> "FluxParams":
        if bool(self.output) == self.in_place:
            raise ValueError("give either 'output' (a folder) or in_place=true")
        return self

    async def preflight(self, app: Any) -> None:
        root = await self.resolve(app, "dir")
        if self.output:
            roots = await app.services[CompressionService].roots()
            out = (await resolve_given(app, self.output, roots, "output")).path
            if out == root or root in out.parents:
                raise bad_request("output must not lie inside the folder being compressed",
                                  "target_inside_source")


def choose(kind: FileType) -> int:
    if kind.text:
        return LEVELS["text"]
    return LEVELS.get(kind.label, LEVELS["default"])


def plan(root: Path, output: Path | None, codec: Codec, min_ratio: float, threads: int,
         max_files: int) -> tuple[list[FileTask], list[dict[str, Any]], dict[str, dict[str, Any]],
                                  dict[str, str]]:
    """Decide per file: skip (with the reason) or a task with the level for its type."""
    tasks: list[FileTask] = []
    skipped: list[dict[str, Any]] = []
    by_type: dict[str, dict[str, Any]] = {}
    labels: dict[str, str] = {}
    for path in walk_files(root, max_files):
        try:
            kind = classify(path, head(path))
            size = path.stat().st_size
        except OSError as exc:
            skipped.append({"path": str(path), "reason": f"unreadable: {exc}"})
            continue
        row = by_type.setdefault(kind.label, {"type": kind.label, "files": 0, "bytes": 0,
                                              "skipped": 0, "level": None, "compressed_files": 0,
                                              "compressed_input": 0, "compressed_output": 0})
        row["files"] += 1
        row["bytes"] += size
        reason = None
        if kind.compressed:
            reason = f"already compressed ({kind.label})"
        elif size == 0:
            reason = "empty"
        else:
            data = sample(path, 128 * 1024)
            ratio = len(data) / max(sample_ratio(codec, data, 1), 1)
            if ratio < min_ratio:
                reason = f"incompressible (sampled ratio {ratio:.2f}x)"
        if reason:
            row["skipped"] += 1
            skipped.append({"path": str(path), "reason": reason})
            continue
        level = choose(kind)
        row["level"] = level
        rel = path.relative_to(root) if path != root else Path(path.name)
        target = (output / rel if output else path).with_name(path.name + codec.extension)
        if target.exists():
            row["skipped"] += 1
            skipped.append({"path": str(path), "reason": f"{target.name} already exists"})
            continue
        tasks.append(FileTask(path, target, codec, level, threads, remove_source=output is None))
        labels[str(path)] = kind.label
    return tasks, skipped, by_type, labels


async def run_flux(ctx: JobContext, p: FluxParams) -> dict[str, Any]:
    await p.preflight(ctx.app)
    root = await p.resolve(ctx.app, "dir")
    svc = ctx.app.services[CompressionService]
    output = (await resolve_given(ctx.app, p.output, await svc.roots(), "output")).path \
        if p.output else None
    codec = svc.codec("zstd")
    tasks, skipped, by_type, labels = await ctx.to_thread(plan, root, output, codec, p.min_ratio,
                                                          p.threads, p.max_files)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    batch = BatchProgress(ctx, "flux", codec.name, str(root),
                          sum(t.source.stat().st_size for t in tasks), svc.config.progress_interval)
    done, failed = await ctx.to_thread(run_batch, tasks, 1, batch, ctx.app.db, ctx.job_id,
                                       ctx.check)
    for d in done:
        row = by_type[labels[d["source"]]]
        row["compressed_files"] += 1
        row["compressed_input"] += d["bytes"]
        row["compressed_output"] += d["compressed"]
    if not done and failed:
        raise APIError(422, "nothing_compressed", f"every file failed; first: {failed[0]['error']}")
    types = sorted(by_type.values(), key=lambda r: -r["bytes"])
    for row in types:
        row.update(format_ratio(row["compressed_input"], row["compressed_output"]))
    return {"path": str(root), "output": str(output) if output else None, "in_place": p.in_place,
            **summarize(done), "skipped": len(skipped), "failed": failed,
            "skipped_files": skipped[:100], "types": types, "compressed_files": done[:200]}


FLUX = Agent(name="FLUX", tier="core", specialty="adaptive compression",
             params_model=FluxParams, run=run_flux, concurrency=1, timeout=24 * 3600,
             lock=Target.lock_name,
             description="compress a folder file by file with a zstd level chosen per file type; "
                         "skips already-compressed media and incompressible files",
             tags=["compression"])
