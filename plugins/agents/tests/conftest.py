from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def area(tmp_path: Path) -> Path:
    """The directory agents may work in during a test (``[agents] allowed_roots``)."""
    root = tmp_path / "area"
    root.mkdir()
    return root


@pytest.fixture
def sv_config_overrides(area: Path) -> dict[str, Any]:
    return {"agents": {"allowed_roots": [str(area)], "retry_backoff": 0.01, "scheduler_interval": 0.2}}
