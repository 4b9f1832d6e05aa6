"""Helpers of the ceph tests (loaded with ``sigmavault.testing.load_module``)."""

from __future__ import annotations

import subprocess
from typing import Any

OSDS = 2   # OSDs of the session cluster (conftest.py)


def ceph(cluster: Any, *args: str) -> str:
    """The ceph CLI as the cluster's admin, for checks from tests (synchronous)."""
    out = subprocess.run(["ceph", "--cluster", cluster.name, "-c", str(cluster.conf), *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout
