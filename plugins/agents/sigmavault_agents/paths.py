"""Keeping agent paths inside the configured roots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


class PathNotAllowed(ValueError):
    """The path is relative, or resolves outside every allowed root."""


def resolve_in_roots(path: str, roots: Iterable[Path | str]) -> Path:
    """Resolve ``path`` (symlinks included) and return it if it lies inside one of ``roots``."""
    if not path or "\0" in path:
        raise PathNotAllowed("empty or malformed path")
    if not os.path.isabs(path):
        raise PathNotAllowed(f"path must be absolute: {path!r}")
    real = Path(os.path.realpath(path))
    roots = [Path(os.path.realpath(r)) for r in roots]
    if not roots:
        raise PathNotAllowed("no allowed roots are configured (config section 'agents', key 'allowed_roots')")
    for root in roots:
        if real == root or real.is_relative_to(root):
            return real
    raise PathNotAllowed(f"{path!r} is outside the allowed roots: {', '.join(map(str, roots))}")
