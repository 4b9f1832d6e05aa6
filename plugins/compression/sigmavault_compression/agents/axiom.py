"""AXIOM: compressibility estimate — byte entropy and sampled zstd ratio per file type."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..codecs import Codec
from ..filetypes import classify, entropy, head, sample, walk_files
from ..progress import format_ratio
from ..service import CompressionService
from .target import Target


class AxiomParams(Target):
    max_files: int = Field(2000, ge=1, le=1_000_000, description="files examined at most")
    sample_kib: int = Field(256, ge=4, le=65536, description="bytes sampled per file (KiB)")
    level: int = Field(3, ge=1, le=22, description="zstd level of the sampled trial")


class NullSink(io.RawIOBase):
    """Counts what a compressor writes and throws it away (trial compression)."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        n = len(data) if not isinstance(data, memoryview) else data.nbytes
        self.count += n
        return n


def sample_ratio(codec: Codec, data: bytes, level: int) -> int:
    """Compressed size of ``data``."""
    sink = NullSink()
    writer = codec.compressor(sink, level, 1)
    writer.write(data)
    writer.close()
    return sink.count


def estimate(root: Path, zstd: Codec, max_files: int, sample_size: int, level: int,
             check: Callable[[], None], progress: Callable[..., None]) -> dict[str, Any]:
    types: dict[str, dict[str, Any]] = {}
    files = list(walk_files(root, max_files))
    for i, path in enumerate(files):
        check()
        if i % 20 == 0:
            progress(percent=100.0 * i / max(len(files), 1), description=path.name)
        try:
            size = path.stat().st_size
            kind = classify(path, head(path))
            data = sample(path, sample_size)
        except OSError:
            continue
        t = types.setdefault(kind.label, {"type": kind.label, "files": 0, "bytes": 0,
                                          "sampled": 0, "sampled_compressed": 0,
                                          "entropy_weighted": 0.0, "already_compressed": 0,
                                          "extensions": set()})
        t["files"] += 1
        t["bytes"] += size
        t["already_compressed"] += kind.compressed
        if kind.extension:
            t["extensions"].add(kind.extension)
        if data:
            t["sampled"] += len(data)
            t["sampled_compressed"] += sample_ratio(zstd, data, level)
            t["entropy_weighted"] += entropy(data) * len(data)
    rows, total_bytes, total_estimate = [], 0, 0.0
    for t in types.values():
        ratio = t["sampled"] / t["sampled_compressed"] if t["sampled_compressed"] else 1.0
        estimated = t["bytes"] / ratio if ratio else t["bytes"]
        total_bytes += t["bytes"]
        total_estimate += estimated
        rows.append({"type": t["type"], "files": t["files"], "bytes": t["bytes"],
                     "extensions": sorted(t["extensions"])[:10],
                     "entropy_bits_per_byte": round(t["entropy_weighted"] / t["sampled"], 3)
                     if t["sampled"] else None,
                     "zstd_ratio": round(ratio, 3), "ratio_text": f"{ratio:.2f}x",
                     "estimated_compressed_bytes": int(estimated),
                     "already_compressed_files": t["already_compressed"],
                     "compressible": ratio >= 1.1})
    rows.sort(key=lambda r: -r["bytes"])
    return {"path": str(root), "files": sum(r["files"] for r in rows), "bytes": total_bytes,
            "zstd_level": level, "types": rows,
            "estimate": {"estimated_compressed_bytes": int(total_estimate),
                         **format_ratio(total_bytes, int(total_estimate) or 1)}}


async def run_axiom(ctx: JobContext, p: AxiomParams) -> dict[str, Any]:
    root = await p.resolve(ctx.app)
    zstd = ctx.app.services[CompressionService].codec("zstd")
    return await ctx.to_thread(estimate, root, zstd, p.max_files, p.sample_kib * 1024, p.level,
                               ctx.check, ctx.progress)


AXIOM = Agent(name="AXIOM", tier="core", specialty="compressibility estimate",
              params_model=AxiomParams, run=run_axiom, concurrency=2, timeout=3600,
              description="byte entropy and sampled zstd ratio per file type, with the estimated "
                          "compressed size of a path", tags=["compression"])
