"""NEXUS: cold data, files neither read nor modified for N days, grouped by top-level folder."""

from __future__ import annotations

import heapq
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from .walk import Check, Progress, iter_files, noop


def cold_report(root: Path, days: float, top: int = 20, *, now: float | None = None,
                check: Check = noop, progress: Progress = noop) -> dict[str, Any]:
    """Files below ``root`` whose last access and last modification are older than ``days``.

    With ``relatime``/``noatime`` mounts the access time lags; the last use is the later of atime
    and mtime, so a file is never called cold when it was written recently.
    """
    now = time.time() if now is None else now
    cutoff = now - days * 86400
    root = Path(root)
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # cold files, cold bytes, files, bytes
    oldest: list[tuple[float, str, int]] = []
    files = total = cold_files = cold_bytes = 0
    for path, st in iter_files(root, check):
        rel = os.path.relpath(path, root)
        group = rel.split(os.sep, 1)[0] if os.sep in rel else "."
        g = groups[group]
        g[2] += 1
        g[3] += st.st_size
        files += 1
        total += st.st_size
        last_used = max(st.st_atime, st.st_mtime)
        if last_used < cutoff:
            g[0] += 1
            g[1] += st.st_size
            cold_files += 1
            cold_bytes += st.st_size
            item = (-last_used, path, st.st_size)
            if len(oldest) < top:
                heapq.heappush(oldest, item)
            elif item > oldest[0]:
                heapq.heapreplace(oldest, item)
        if files % 1000 == 0:
            progress(description=f"{files} files examined")
    return {
        "root": str(root), "days": days, "files": files, "bytes": total,
        "cold_files": cold_files, "cold_bytes": cold_bytes,
        "cold_percent": round(100.0 * cold_bytes / total, 2) if total else 0.0,
        "by_folder": [
            {"folder": k, "cold_files": v[0], "cold_bytes": v[1], "files": v[2], "bytes": v[3]}
            for k, v in sorted(groups.items(), key=lambda kv: (-kv[1][1], kv[0]))
        ],
        "oldest": [{"path": p, "bytes": s, "idle_days": round((now + t) / 86400, 1)}
                   for t, p, s in sorted(oldest, reverse=True)],
    }
