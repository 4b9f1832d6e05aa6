"""Agent LATTICE: ZFS tuning advisor.

Profiles the files of a dataset (size histogram, byte-weighted sizes, database-like files and a
sampled compressibility estimate) and recommends ``recordsize``, ``compression`` and ``atime``;
with ``apply=true`` it sets them (recordsize only affects files written afterwards).
"""

from __future__ import annotations

import os
import zlib
from typing import Any, Callable

from pydantic import BaseModel, Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from ..service import ZfsService

DB_SUFFIXES = {".db", ".sqlite", ".sqlite3", ".ibd", ".mdb", ".ldb", ".qcow2", ".vmdk", ".vdi",
               ".img", ".raw", ".wal"}
BUCKETS = [4 << 10, 16 << 10, 64 << 10, 128 << 10, 1 << 20, 16 << 20, 128 << 20]
SAMPLE_BYTES = 64 << 10


class LatticeParams(BaseModel):
    """Which dataset to profile, and whether to apply the recommendation."""

    pool: Name
    volume: Name | None = Field(None, description="a volume of the pool; all volumes when omitted")
    apply: bool = Field(False, description="set the recommended properties")
    max_files: int = Field(200_000, ge=1, le=5_000_000, description="stop profiling after this many files")
    sample_files: int = Field(64, ge=0, le=10_000, description="files sampled for compressibility")


def profile_tree(root: str, max_files: int, sample_files: int,
                 check: Callable[[], None] | None = None) -> dict[str, Any]:
    """Walk ``root`` (not following symlinks, not crossing into other mounts) and summarize it."""
    root_dev = os.stat(root).st_dev
    hist = [0] * (len(BUCKETS) + 1)
    files = total = db_bytes = large_bytes = small_files = 0
    candidates: list[tuple[int, str]] = []
    stack = [root]
    truncated = False
    while stack and not truncated:
        if check:
            check()
        top = stack.pop()
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for de in entries:
            try:
                st = de.stat(follow_symlinks=False)
            except OSError:
                continue
            if de.is_dir(follow_symlinks=False):
                if st.st_dev == root_dev and de.name != ".zfs":
                    stack.append(de.path)
                continue
            if not de.is_file(follow_symlinks=False):
                continue
            files += 1
            size = st.st_size
            total += size
            hist[sum(1 for b in BUCKETS if size >= b)] += 1
            if size >= 1 << 20:
                large_bytes += size
            if size < 64 << 10:
                small_files += 1
            if os.path.splitext(de.name)[1].lower() in DB_SUFFIXES:
                db_bytes += size
            if size and len(candidates) < sample_files * 4:
                candidates.append((size, de.path))
            if files >= max_files:
                truncated = True
                break
    ratio = sample_ratio([p for _, p in sorted(candidates, reverse=True)[:sample_files]])
    labels = ["<4K", "4K-16K", "16K-64K", "64K-128K", "128K-1M", "1M-16M", "16M-128M", ">=128M"]
    return {"files": files, "bytes": total, "truncated": truncated,
            "histogram": dict(zip(labels, hist)),
            "large_file_bytes_fraction": round(large_bytes / total, 3) if total else 0.0,
            "database_bytes_fraction": round(db_bytes / total, 3) if total else 0.0,
            "small_files_fraction": round(small_files / files, 3) if files else 0.0,
            "sampled_compress_ratio": ratio}


def sample_ratio(paths: list[str]) -> float | None:
    """Uncompressed/compressed size of the first 64 KiB of each file with zlib level 1."""
    raw = packed = 0
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read(SAMPLE_BYTES)
        except OSError:
            continue
        if not data:
            continue
        raw += len(data)
        packed += len(zlib.compress(data, 1))
    return round(raw / packed, 3) if packed else None


def recommend(profile: dict[str, Any], current: dict[str, Any], openzfs: bool) -> dict[str, Any]:
    """``{property: {"value", "current", "reason"}}`` for recordsize, compression and atime."""
    max_record = (1 << 20) if openzfs else (128 << 10)
    recs: dict[str, Any] = {}
    if profile["files"] == 0:
        record, why = 128 << 10, "empty dataset: keep the 128K default"
    elif profile["database_bytes_fraction"] >= 0.5:
        record, why = 16 << 10, "mostly database/VM image files with small random writes: 16K"
    elif profile["large_file_bytes_fraction"] >= 0.8:
        record = max_record
        why = f"{profile['large_file_bytes_fraction']:.0%} of bytes in files >= 1 MiB (streaming): " \
              f"{max_record >> 10}K"
    else:
        record, why = 128 << 10, "mixed file sizes: the 128K default"
    recs["recordsize"] = {"value": record, "current": current.get("recordsize"), "reason": why}
    ratio = profile["sampled_compress_ratio"]
    good = "lz4" if openzfs else "lzjb"
    if ratio is None:
        comp, why = good, f"no data to sample: {good} costs almost nothing on incompressible data"
    elif ratio >= 1.5:
        comp = "zstd" if openzfs else "gzip-1"
        why = f"sampled data compresses {ratio:.2f}x: a stronger codec pays off"
    elif ratio >= 1.1:
        comp, why = good, f"sampled data compresses {ratio:.2f}x"
    else:
        comp = good if openzfs else "off"
        why = f"sampled data is already compressed ({ratio:.2f}x)" + \
              ("; lz4 gives up early on such blocks" if openzfs else "")
    recs["compression"] = {"value": "on" if comp == "lzjb" else comp,
                           "current": current.get("compression") or "off", "reason": why}
    recs["atime"] = {"value": "off", "current": current.get("atime"),
                     "reason": "access-time updates turn every read into a write; nothing here needs them"}
    return recs


async def run_lattice(ctx: JobContext, params: LatticeParams) -> dict[str, Any]:
    """The LATTICE task: profile each volume, recommend, optionally apply."""
    backend = ctx.app.services[ZfsService].backend
    gen = await backend.cli.generation()
    if params.volume:
        volumes = [await backend.volume_get(pool=params.pool, name=params.volume)]
    else:
        volumes = await backend.volume_list(pool=params.pool)
    results = []
    for i, vol in enumerate(volumes):
        ctx.progress(100.0 * i / max(len(volumes), 1), f"profiling {vol['name']}")
        if not vol["path"] or vol["properties"].get("mounted") != "yes":
            results.append({"volume": vol["name"], "skipped": "not mounted"})
            continue
        profile = await ctx.to_thread(profile_tree, vol["path"], params.max_files,
                                      params.sample_files, ctx.check)
        current = {"recordsize": vol["properties"]["recordsize"],
                   "compression": vol["compression"], "atime": vol["properties"]["atime"]}
        recs = recommend(profile, current, gen.name == "openzfs")
        changes = {k: r["value"] for k, r in recs.items()
                   if str(r["value"]) != str(r["current"] if r["current"] is not None else "off")}
        applied: dict[str, Any] = {}
        if params.apply and changes:
            allowed = backend.capabilities["compression"]
            if changes.get("compression") not in (None, *allowed):
                changes.pop("compression")
            await backend.volume_update(pool=params.pool, name=vol["name"], changes=dict(changes))
            applied = changes
            ctx.log(f"{vol['name']}: set {applied}")
        results.append({"volume": vol["name"], "dataset": vol["properties"]["dataset"],
                        "profile": profile, "recommendations": recs, "changes": changes,
                        "applied": applied})
    ctx.progress(100.0, "done")
    return {"pool": params.pool, "generation": gen.name, "volumes": results,
            "applied": params.apply}


def agent() -> Agent:
    """Agent LATTICE, as ``register_agents`` registers it."""
    return Agent(
        name="LATTICE", tier="storage", specialty="ZFS tuning advisor", params_model=LatticeParams,
        run=run_lattice, concurrency=1, timeout=3600.0,
        description="profile a dataset's files (size histogram, database files, sampled "
                    "compressibility) and recommend recordsize, compression and atime; "
                    "apply=true sets them",
        lock=lambda p: f"zfs-tune:{p.pool}", tags=["zfs", "storage", "tuning"])
