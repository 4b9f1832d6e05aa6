"""WAVE: duplicate files by size, then a 64 KiB head hash, then a full BLAKE2b hash."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from .walk import Check, Progress, iter_files, noop

CHUNK = 1 << 20
HEAD = 64 * 1024


def blake2b_of(path: str | Path, limit: int | None = None, check: Check = noop) -> "hashlib.blake2b":
    """The BLAKE2b (digest 32 bytes) state after the file, or its first ``limit`` bytes."""
    h = hashlib.blake2b(digest_size=32)
    remaining = limit
    with open(path, "rb") as f:
        while remaining is None or remaining > 0:
            chunk = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
            check()
    return h


def blake2b_file(path: str, limit: int | None = None, check: Check = noop) -> str:
    """BLAKE2b (digest 32 bytes) of the file, or of its first ``limit`` bytes."""
    return blake2b_of(path, limit, check).hexdigest()


def _group(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for key, path in items:
        groups[key].append(path)
    return {k: v for k, v in groups.items() if len(v) > 1}


def find_duplicates(roots: list[Path], min_size: int = 1, *, check: Check = noop,
                    progress: Progress = noop) -> dict[str, Any]:
    """Groups of files with identical content below ``roots``.

    Hard links to one inode count once (deleting them reclaims nothing). ``reclaimable_bytes`` is
    what deleting all but one copy of each group would free.
    """
    by_size: dict[int, list[str]] = defaultdict(list)
    seen_inodes: set[tuple[int, int]] = set()
    scanned = 0
    for root in roots:
        for path, st in iter_files(Path(root), check):
            scanned += 1
            if st.st_size < min_size or (st.st_dev, st.st_ino) in seen_inodes:
                continue
            seen_inodes.add((st.st_dev, st.st_ino))
            by_size[st.st_size].append(path)
    candidates = {s: p for s, p in by_size.items() if len(p) > 1}
    to_hash = sum(s * len(p) for s, p in candidates.items())
    hashed = 0
    groups: list[dict[str, Any]] = []
    for size, paths in sorted(candidates.items(), reverse=True):
        heads = _group((blake2b_file(p, HEAD, check), p) for p in paths) if size > HEAD else {"": paths}
        for same_head in heads.values():
            full = _group((blake2b_file(p, None, check), p) for p in same_head)
            for digest, dup in full.items():
                groups.append({"size": size, "blake2b": digest, "paths": sorted(dup),
                               "reclaimable_bytes": size * (len(dup) - 1)})
        hashed += size * len(paths)
        progress(percent=100.0 * hashed / to_hash if to_hash else None, bytes_done=hashed,
                 bytes_total=to_hash)
    groups.sort(key=lambda g: (-g["reclaimable_bytes"], g["paths"][0]))
    return {
        "files_scanned": scanned, "groups": groups, "duplicate_files": sum(len(g["paths"]) - 1 for g in groups),
        "reclaimable_bytes": sum(g["reclaimable_bytes"] for g in groups),
    }
