"""PRISM: file census by type (extension and magic bytes), age histogram, largest files."""

from __future__ import annotations

import heapq
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import filetype

from .walk import Check, Progress, iter_files, noop

AGE_BUCKETS: list[tuple[str, float]] = [
    ("1d", 86400), ("7d", 7 * 86400), ("30d", 30 * 86400), ("365d", 365 * 86400), ("older", float("inf")),
]


def sniff(path: str) -> str:
    """The MIME type from the file's magic bytes, ``text/plain`` for text, else ``unknown``."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return "unreadable"
    if not head:
        return "empty"
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    try:
        head.decode("utf-8")
        return "text/plain"
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the sample is still text
        try:
            head[:-3].decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError:
            return "application/octet-stream"


def census(root: Path, top: int = 20, *, now: float | None = None, check: Check = noop,
           progress: Progress = noop) -> dict[str, Any]:
    """Count files and bytes below ``root`` by extension and by detected MIME type."""
    now = time.time() if now is None else now
    by_ext: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_mime: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ages = {name: [0, 0] for name, _ in AGE_BUCKETS}
    largest: list[tuple[int, str]] = []
    files = total = 0
    for path, st in iter_files(Path(root), check):
        files += 1
        total += st.st_size
        ext = os.path.splitext(path)[1].lower() or "(none)"
        by_ext[ext][0] += 1
        by_ext[ext][1] += st.st_size
        mime = sniff(path)
        by_mime[mime][0] += 1
        by_mime[mime][1] += st.st_size
        age = now - st.st_mtime
        for name, limit in AGE_BUCKETS:
            if age < limit:
                ages[name][0] += 1
                ages[name][1] += st.st_size
                break
        if len(largest) < top:
            heapq.heappush(largest, (st.st_size, path))
        elif st.st_size > largest[0][0]:
            heapq.heapreplace(largest, (st.st_size, path))
        if files % 1000 == 0:
            progress(description=f"{files} files counted")

    def table(d: dict[str, list[int]], key: str) -> list[dict[str, Any]]:
        return [{key: k, "files": v[0], "bytes": v[1]}
                for k, v in sorted(d.items(), key=lambda kv: (-kv[1][1], kv[0]))]

    return {
        "root": str(root), "files": files, "bytes": total,
        "by_extension": table(by_ext, "extension"), "by_type": table(by_mime, "mime"),
        "age_histogram": [{"max_age": n, "files": ages[n][0], "bytes": ages[n][1]} for n, _ in AGE_BUCKETS],
        "largest": [{"path": p, "bytes": s} for s, p in sorted(largest, reverse=True)],
    }
