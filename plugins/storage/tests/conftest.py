"""Fixtures shared by the storage tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def fake_smartctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Path]], None]:
    """``attach({"/dev/loop5": recording_dir, ...})``: a ``smartctl`` first on PATH that replays
    the recorded real output in each device's folder (virtual disks have no SMART)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "smartctl").symlink_to(HERE / "fake_smartctl.py")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    def attach(mapping: dict[str, Path]) -> None:
        monkeypatch.setenv("FAKE_SMARTCTL_MAP", ";".join(
            f"{os.path.realpath(dev)}={folder}" for dev, folder in mapping.items()))
    return attach
