"""SHIELD: SHA-256 integrity manifest of a tree, and its verification."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from .walk import Check, Progress, iter_files, noop

CHUNK = 1 << 20


def sha256_file(path: str, check: Check = noop, on_bytes: Any = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
            check()
    return h.hexdigest()


def _hash_tree(root: Path, check: Check, progress: Progress) -> dict[str, dict[str, Any]]:
    files = list(iter_files(root, check))
    total = sum(st.st_size for _, st in files)
    done = 0

    def on_bytes(k: int) -> None:
        nonlocal done
        done += k
        progress(percent=100.0 * done / total if total else None, bytes_done=done, bytes_total=total)

    out: dict[str, dict[str, Any]] = {}
    for path, st in files:
        out[os.path.relpath(path, root)] = {"size": st.st_size, "sha256": sha256_file(path, check, on_bytes)}
    return out


def build_manifest(root: Path, *, check: Check = noop, progress: Progress = noop) -> dict[str, Any]:
    """``{"root", "files": {relpath: {"size", "sha256"}}}`` for every regular file below ``root``."""
    root = Path(root)
    return {"version": 1, "root": str(root), "files": _hash_tree(root, check, progress)}


def verify_manifest(root: Path, manifest: dict[str, Any], *, check: Check = noop,
                    progress: Progress = noop) -> dict[str, Any]:
    """Compare ``root`` now against ``manifest``: modified, missing and added files."""
    now = _hash_tree(Path(root), check, progress)
    then: dict[str, dict[str, Any]] = manifest["files"]
    modified = [{"path": p, "expected_sha256": then[p]["sha256"], "actual_sha256": now[p]["sha256"],
                 "expected_size": then[p]["size"], "actual_size": now[p]["size"]}
                for p in sorted(then.keys() & now.keys()) if then[p]["sha256"] != now[p]["sha256"]]
    missing = sorted(then.keys() - now.keys())
    added = sorted(now.keys() - then.keys())
    return {"root": str(root), "files_checked": len(then.keys() & now.keys()),
            "ok": not (modified or missing), "modified": modified, "missing": missing, "added": added}
