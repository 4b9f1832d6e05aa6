"""Fixtures of the system plugin's tests: a private network namespace with a veth pair."""

from __future__ import annotations

import secrets
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from sigmavault import commands
from sigmavault.testing import require_root

sys.path.insert(0, str(Path(__file__).parent))  # for svsys_proc, the /proc reader


# Plugins these tests need; the others are disabled so that their start-up and shutdown neither
# slow these tests down nor make them fail for reasons outside this plugin.
NEEDED = {"sigmavault-system", "sigmavault-agents"}


def other_plugins() -> list[str]:
    dists = {ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist is not None}
    return sorted(d for d in dists if d.lower().replace("_", "-") not in NEEDED)


@pytest.fixture
def sv_config_overrides():
    """A fast sampler (0.2 s, 2 s of history), no timed PULSE, only the plugins needed."""
    return {"plugins": {"disabled": other_plugins()},
            "system": {"interval": 0.2, "history_seconds": 2, "pulse_interval": 0}}


@pytest.fixture
async def veth_netns():
    """A fresh namespace ``svsys-<hex>`` holding veth pair svtest0/svtest1 (10.77.0.1/24 on svtest0)."""
    require_root()
    name = f"svsys-{secrets.token_hex(4)}"
    await commands.run(["ip", "netns", "add", name], timeout=15)
    try:
        await commands.run(["ip", "-n", name, "link", "add", "svtest0", "type", "veth",
                            "peer", "name", "svtest1"], timeout=15)
        await commands.run(["ip", "-n", name, "addr", "add", "10.77.0.1/24", "dev", "svtest0"],
                           timeout=15)
        await commands.run(["ip", "-n", name, "link", "set", "svtest0", "mtu", "1400", "up"],
                           timeout=15)
        await commands.run(["ip", "-n", name, "link", "set", "svtest1", "up"], timeout=15)
        yield name
    finally:
        await commands.run(["ip", "netns", "del", name], timeout=15, check=False)
