from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest


def others(*keep: str) -> list[str]:
    """Every installed SigmaVault plugin distribution except this one and ``keep``: the agents
    tests run against the core and this plugin alone, so another plugin's startup cannot sway them."""
    names = {ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist}
    return sorted(names - {"sigmavault-agents", *keep})


@pytest.fixture
def area(tmp_path: Path) -> Path:
    """The directory agents may work in during a test (``[agents] allowed_roots``)."""
    root = tmp_path / "area"
    root.mkdir()
    return root


@pytest.fixture
def sv_config_overrides(area: Path) -> dict[str, Any]:
    return {"plugins": {"disabled": others()},
            "agents": {"allowed_roots": [str(area)], "retry_backoff": 0.01, "scheduler_interval": 0.2}}
