"""VERTEX: the heaviest directories of a tree, like ncdu (allocated and apparent bytes)."""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from pathlib import Path
from typing import Any

from .walk import Check, Progress, iter_entries, noop


def space_tree(root: Path, top: int = 20, max_depth: int = 3, *, check: Check = noop,
               progress: Progress = noop) -> dict[str, Any]:
    """Sizes of every directory below ``root`` (hard links counted once), the ``top`` heaviest
    within ``max_depth`` levels, and the immediate children of ``root`` sorted by size."""
    root = Path(root)
    alloc: dict[str, int] = defaultdict(int)
    apparent: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    seen: set[tuple[int, int]] = set()
    root_s = str(root)
    n = 0
    for path, st in iter_entries(root, check):
        if stat.S_ISDIR(st.st_mode):
            alloc[path] += 0
            continue
        if st.st_nlink > 1:
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
        n += 1
        a, s = st.st_blocks * 512, st.st_size
        parent = os.path.dirname(path)
        # credit every ancestor up to and including root
        while True:
            alloc[parent] += a
            apparent[parent] += s
            counts[parent] += 1
            if parent == root_s or len(parent) <= len(root_s):
                break
            parent = os.path.dirname(parent)
        if n % 2000 == 0:
            progress(description=f"{n} files measured")

    def depth(p: str) -> int:
        return 0 if p == root_s else os.path.relpath(p, root_s).count(os.sep) + 1

    def row(p: str) -> dict[str, Any]:
        return {"path": p, "depth": depth(p), "allocated_bytes": alloc[p],
                "apparent_bytes": apparent[p], "files": counts[p]}

    heavy = sorted((p for p in alloc if p != root_s and depth(p) <= max_depth),
                   key=lambda p: (-alloc[p], p))[:top]
    children = sorted((p for p in alloc if p != root_s and os.path.dirname(p) == root_s),
                      key=lambda p: (-alloc[p], p))
    return {"root": row(root_s), "heaviest": [row(p) for p in heavy],
            "children": [row(p) for p in children]}
