"""SENTINEL: ransomware heuristic, a burst of high-entropy rewrites/renames since a baseline.

A baseline records size, mtime and the byte entropy of a sample of every file. A scan reads only
files that changed or appeared since then. A change is *suspicious* when its content now looks
encrypted, high entropy with no known file signature (so a fresh JPEG or ZIP is not), while the
file it replaced did not. An alert fires when enough suspicious changes fall inside one time
window and make up a large enough share of all changes.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import filetype

from .walk import Check, Progress, iter_files, noop

SAMPLE = 64 * 1024


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (0 … 8)."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def sample(path: str) -> tuple[float, bool]:
    """``(entropy, has_known_signature)`` of the file's first 64 KiB."""
    with open(path, "rb") as f:
        head = f.read(SAMPLE)
    return entropy(head), filetype.guess(head[:8192]) is not None if head else False


def take_baseline(root: Path, *, check: Check = noop, progress: Progress = noop) -> dict[str, Any]:
    """``{relpath: {"size", "mtime_ns", "entropy"}}`` for every regular file below ``root``."""
    root = Path(root)
    files: dict[str, dict[str, Any]] = {}
    for n, (path, st) in enumerate(iter_files(root, check), 1):
        try:
            ent, _ = sample(path)
        except OSError:
            continue
        files[os.path.relpath(path, root)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                              "entropy": round(ent, 4)}
        if n % 500 == 0:
            progress(description=f"{n} files sampled")
    return files


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def scan(root: Path, baseline: dict[str, dict[str, Any]], *, high_entropy: float = 7.5,
         min_files: int = 5, min_ratio: float = 0.5, window_seconds: float = 600.0,
         check: Check = noop, progress: Progress = noop) -> dict[str, Any]:
    """Compare ``root`` with ``baseline``; ``alert`` is true on a burst of encrypted-looking changes."""
    root = Path(root)
    seen: set[str] = set()
    changed = added = 0
    suspicious: list[dict[str, Any]] = []
    new_files: list[tuple[str, float, bool, float]] = []
    for n, (path, st) in enumerate(iter_files(root, check), 1):
        rel = os.path.relpath(path, root)
        seen.add(rel)
        old = baseline.get(rel)
        if old and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
            continue
        try:
            ent, known = sample(path)
        except OSError:
            continue
        if old:
            changed += 1
            if ent >= high_entropy and not known and old["entropy"] < high_entropy:
                suspicious.append({"path": rel, "kind": "rewrite", "entropy": round(ent, 3),
                                   "was_entropy": old["entropy"], "mtime": st.st_mtime})
        else:
            added += 1
            new_files.append((rel, ent, known, st.st_mtime))
        if n % 500 == 0:
            progress(description=f"{n} files compared")
    deleted = sorted(set(baseline) - seen)
    deleted_set = set(deleted)
    renamed_from: set[str] = set()
    for rel, ent, known, mtime in new_files:
        if ent < high_entropy or known:
            continue
        stem = os.path.splitext(rel)[0]
        if stem in deleted_set and baseline[stem]["entropy"] < high_entropy:
            renamed_from.add(stem)
            suspicious.append({"path": rel, "kind": "rename", "renamed_from": stem,
                               "entropy": round(ent, 3), "was_entropy": baseline[stem]["entropy"],
                               "mtime": mtime})
        elif deleted:
            suspicious.append({"path": rel, "kind": "replacement", "entropy": round(ent, 3),
                               "mtime": mtime})
    changes = changed + added + len(deleted_set - renamed_from)
    burst = _max_in_window([s["mtime"] for s in suspicious], window_seconds)
    ratio = len(suspicious) / changes if changes else 0.0
    alert = burst >= min_files and ratio >= min_ratio
    return {
        "root": str(root), "alert": alert, "files": len(seen), "changed": changed, "added": added,
        "deleted": len(deleted), "suspicious_count": len(suspicious), "burst": burst,
        "suspicious_ratio": round(ratio, 3), "suspicious": suspicious[:500],
        "thresholds": {"high_entropy": high_entropy, "min_files": min_files, "min_ratio": min_ratio,
                       "window_seconds": window_seconds},
    }
