"""TENSOR: trial-compress samples of a path with every codec/level, recommend by ratio and speed."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..codecs import Codec, Levels
from ..filetypes import sample, walk_files
from ..progress import format_ratio
from ..service import CompressionService
from .target import Target

MIB = 1 << 20


class TensorParams(Target):
    sample_mib: float = Field(2.0, gt=0, le=256, description="total sample size taken from the files")
    max_files: int = Field(200, ge=1, le=100_000, description="files sampled at most")
    codecs: list[str] | None = Field(None, description="codecs to try; default: every registered one")
    min_speed_mbps: float = Field(50.0, gt=0, description="'balanced' picks the best ratio at or "
                                  "above this compression speed (MB/s)")


def trial_levels(levels: Levels) -> list[int]:
    """The levels worth trying: fastest, default, halfway to max, and max."""
    return sorted({levels.min, levels.default, (levels.default + levels.max) // 2, levels.max})


def gather(root: Path, total: int, max_files: int) -> tuple[bytes, int]:
    """A sample of ``total`` bytes spread over up to ``max_files`` files; (sample, files used)."""
    files = list(walk_files(root, max_files))
    if not files:
        return b"", 0
    share = max(64 * 1024, total // len(files))
    parts, size, used = [], 0, 0
    for path in files:
        if size >= total:
            break
        try:
            piece = sample(path, min(share, total - size))
        except OSError:
            continue
        if piece:
            parts.append(piece)
            size += len(piece)
            used += 1
    return b"".join(parts), used


def trial(codec: Codec, data: bytes, level: int) -> dict[str, Any]:
    """Compress and decompress ``data`` once; ratio and speeds in MB/s (10^6 bytes per second)."""
    buf = io.BytesIO()
    started = time.perf_counter()
    writer = codec.compressor(buf, level, 1)
    view = memoryview(data)
    for i in range(0, len(data), MIB):
        writer.write(view[i:i + MIB])
    writer.close()
    c_time = time.perf_counter() - started
    compressed = buf.getvalue()
    started = time.perf_counter()
    reader = codec.decompressor(io.BytesIO(compressed))
    restored = 0
    while chunk := reader.read(MIB):
        restored += len(chunk)
    reader.close()
    d_time = time.perf_counter() - started
    if restored != len(data):
        raise APIError(500, "codec_broken", f"{codec.name} level {level} did not round-trip")
    return {"codec": codec.name, "level": level, "compressed_bytes": len(compressed),
            **format_ratio(len(data), len(compressed)),
            "compress_mbps": round(len(data) / c_time / 1e6, 2) if c_time > 0 else None,
            "decompress_mbps": round(len(data) / d_time / 1e6, 2) if d_time > 0 else None}


def recommend(trials: list[dict[str, Any]], min_speed: float) -> dict[str, Any]:
    def ratio(t: dict) -> float:
        return t["ratio"] or 0.0

    def speed(t: dict) -> float:
        return t["compress_mbps"] or 0.0

    best_ratio = max(trials, key=lambda t: (ratio(t), speed(t)))
    fastest = max(trials, key=lambda t: (speed(t), ratio(t)))
    fast_enough = [t for t in trials if speed(t) >= min_speed]
    balanced = max(fast_enough, key=lambda t: (ratio(t), speed(t))) if fast_enough else fastest
    pick = lambda t: {k: t[k] for k in ("codec", "level", "ratio", "ratio_text", "compress_mbps",
                                        "decompress_mbps")}
    return {"balanced": pick(balanced), "best_ratio": pick(best_ratio), "fastest": pick(fastest),
            "min_speed_mbps": min_speed}


def advise(root: Path, codecs: list[Codec], sample_bytes: int, max_files: int,
           min_speed: float, check: Callable[[], None],
           progress: Callable[..., None]) -> dict[str, Any]:
    data, used = gather(root, sample_bytes, max_files)
    if not data:
        raise APIError(422, "nothing_to_sample", f"{root} holds no readable, non-empty files")
    plan = [(c, level) for c in codecs for level in trial_levels(c.levels)]
    trials = []
    for i, (codec, level) in enumerate(plan):
        check()
        progress(percent=100.0 * i / len(plan), description=f"{codec.name} level {level}")
        trials.append(trial(codec, data, level))
    trials.sort(key=lambda t: (t["codec"], t["level"]))
    return {"path": str(root), "files_sampled": used, "sample_bytes": len(data),
            "trials": trials, "recommendation": recommend(trials, min_speed)}


async def run_tensor(ctx: JobContext, p: TensorParams) -> dict[str, Any]:
    root = await p.resolve(ctx.app)
    svc = ctx.app.services[CompressionService]
    codecs = [svc.codec(n) for n in p.codecs] if p.codecs else list(svc.registry)
    return await ctx.to_thread(advise, root, codecs, int(p.sample_mib * MIB), p.max_files,
                               p.min_speed_mbps, ctx.check, ctx.progress)


TENSOR = Agent(name="TENSOR", tier="core", specialty="codec advisor", params_model=TensorParams,
               run=run_tensor, concurrency=2, timeout=1800,
               description="trial-compress samples of a path with every registered codec and "
                           "level; recommend the best ratio, the fastest and a balanced choice",
               tags=["compression"])
