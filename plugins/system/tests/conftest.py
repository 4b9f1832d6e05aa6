"""Fixtures of the system plugin's tests: a private network namespace with a veth pair."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest

from sigmavault import commands
from sigmavault.testing import require_root

sys.path.insert(0, str(Path(__file__).parent))  # for svsys_proc, the /proc reader


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
