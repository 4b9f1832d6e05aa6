"""Puts this folder on sys.path for the helper modules (svcomp_support, svcomp_zlib_codec); the
``work`` directory the API and agent tests may compress in."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    root.mkdir()
    return root
