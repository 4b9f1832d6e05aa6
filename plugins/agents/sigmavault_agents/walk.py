"""Walking a tree without following symlinks, with cancellation.

The agents' work (census, dupes, copier, manifest …) is plain synchronous functions beside the
runtime, not in ``agents/``: each takes ``check`` (raises when the task is cancelled) and
``progress`` (``**kw`` like ``JobContext.progress``) callables, the :data:`Check` and
:data:`Progress` below, so it can run in a worker thread through ``ctx.to_thread``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Iterator

Check = Callable[[], None]
Progress = Callable[..., None]


def noop(*_a: object, **_k: object) -> None:
    """A ``check``/``progress`` that does nothing."""


def iter_entries(root: Path, check: Check = noop) -> Iterator[tuple[str, os.stat_result]]:
    """Yield ``(path, lstat)`` for every entry below ``root`` (directories included), depth first.

    Symlinks are reported but never followed; unreadable directories are skipped.
    """
    stack = [str(root)]
    n = 0
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            n += 1
            if n % 512 == 0:
                check()
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield entry.path, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)


def iter_files(root: Path, check: Check = noop) -> Iterator[tuple[str, os.stat_result]]:
    """Yield ``(path, lstat)`` for every regular file below ``root`` (or ``root`` itself if a file)."""
    root = Path(root)
    st = os.lstat(root)
    if stat.S_ISREG(st.st_mode):
        yield str(root), st
        return
    for path, st in iter_entries(root, check):
        if stat.S_ISREG(st.st_mode):
            yield path, st
