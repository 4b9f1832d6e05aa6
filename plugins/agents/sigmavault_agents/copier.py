"""PHOTON: bulk copy or move with progress, BLAKE2b verification and resume.

Each file is written to ``.<name>.photon-part`` beside its target, fsync'd, verified by reading
it back, then renamed into place, so a target path never holds a half-written file. An
interrupted run leaves the part file; the next run hashes what is there, checks it against the
same prefix of the source and continues from its end. A target that already matches the source
(same size and hash) is skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import Any, Callable

from .dupes import CHUNK, blake2b_of as _hash
from .walk import Check, Progress, iter_entries, noop

def plan(src: Path, dst: Path) -> list[tuple[Path, Path, int]]:
    """``(source file, target file, size)`` for a file or a whole tree copied into ``dst``.

    ``dst`` is a directory: ``src`` lands at ``dst/<src name>``.
    """
    src, dst = Path(src), Path(dst)
    target = dst / src.name
    st = os.lstat(src)
    if stat.S_ISREG(st.st_mode):
        return [(src, target, st.st_size)]
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{src} is neither a file nor a directory")
    items = []
    for path, est in iter_entries(src):
        if stat.S_ISREG(est.st_mode):
            items.append((Path(path), target / os.path.relpath(path, src), est.st_size))
    return sorted(items)


def copy_file(src: Path, dst: Path, *, check: Check = noop,
              on_bytes: Callable[[int], None] = lambda k: None) -> dict[str, Any]:
    """Copy one file with resume and verification; return what happened to it."""
    size = os.stat(src).st_size
    if dst.exists() and dst.stat().st_size == size:
        if _hash(dst, None, check).digest() == _hash(src, None, check).digest():
            on_bytes(size)
            return {"path": str(dst), "action": "skipped", "bytes": size}
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(f".{dst.name}.photon-part")
    offset = part.stat().st_size if part.exists() else 0
    h = hashlib.blake2b(digest_size=32)
    if 0 < offset <= size and _hash(part, None, check).digest() == _hash(src, offset, check).digest():
        h = _hash(src, offset, check)
        action = "resumed"
        on_bytes(offset)
    else:
        offset, action = 0, "copied"
    with open(src, "rb") as fin, open(part, "r+b" if offset else "wb") as fout:
        fin.seek(offset)
        fout.seek(offset)
        fout.truncate()
        while chunk := fin.read(CHUNK):
            check()
            fout.write(chunk)
            h.update(chunk)
            on_bytes(len(chunk))
        fout.flush()
        os.fsync(fout.fileno())
    if _hash(part, None, check).digest() != h.digest():
        part.unlink(missing_ok=True)
        raise OSError(f"verification failed for {dst}: the copy differs from what was read")
    shutil.copystat(src, part)
    os.replace(part, dst)
    dfd = os.open(dst.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return {"path": str(dst), "action": action, "bytes": size, "resumed_at": offset if offset else None,
            "blake2b": h.hexdigest()}


def transfer(src: Path, dst: Path, *, move: bool = False, check: Check = noop,
             progress: Progress = noop) -> dict[str, Any]:
    """Copy (or move: copy, verify, then delete the source) ``src`` into directory ``dst``."""
    src, dst = Path(src), Path(dst)
    if not dst.is_dir():
        raise NotADirectoryError(f"{dst} is not a directory")
    if Path(os.path.realpath(dst)).is_relative_to(os.path.realpath(src)):
        raise ValueError("the destination lies inside the source")
    items = plan(src, dst)
    total = sum(s for _, _, s in items)
    done = 0

    def on_bytes(k: int) -> None:
        nonlocal done
        done += k
        progress(percent=100.0 * done / total if total else None, bytes_done=done, bytes_total=total)

    results = [copy_file(s, d, check=check, on_bytes=on_bytes) for s, d, _ in items]
    if move:
        for s, _, _ in items:
            os.unlink(s)
        if src.is_dir():
            for path, st in sorted(iter_entries(src), key=lambda e: len(e[0]), reverse=True):
                if stat.S_ISDIR(st.st_mode):
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass
            try:
                src.rmdir()
            except OSError:
                pass
    counts = {a: sum(1 for r in results if r["action"] == a) for a in ("copied", "resumed", "skipped")}
    return {"source": str(src), "target": str(dst / src.name), "move": move, "files": len(items),
            "bytes": total, **counts, "verified": True}
