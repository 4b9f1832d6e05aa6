"""Helpers for core tests: throwaway plugin distributions discovered through real entry points."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], Path]]:
    """Create an installed-looking distribution (dist-info + module) and put it on sys.path.

    ``make_dist("sigmavault-broken", "raise ImportError('boom')")`` → importlib.metadata finds its
    ``sigmavault`` entry point exactly as it finds a pip-installed plugin.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", f"{site}:{':'.join(sys.path)}")
    made: list[str] = []

    def make(dist: str, source: str) -> Path:
        module = dist.replace("-", "_") + "_plugin"
        (site / f"{module}.py").write_text(source)
        info = site / f"{dist.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
        (info / "entry_points.txt").write_text(f"[sigmavault]\n{dist} = {module}\n")
        made.append(module)
        return site

    yield make
    for module in made:
        sys.modules.pop(module, None)
