"""Fixtures shared by the encryption plugin's API and agent tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "files"
    path.mkdir()
    return path


@pytest.fixture
def sv_config_overrides(root: Path) -> dict:
    return {"encryption": {"allowed_roots": [str(root)], "scrypt_log_n": 10}}
