"""Feature bundles as wheels: sigmavault[all] from dist/ into a fresh virtualenv, no checkout."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sigmavault.testing import Daemon

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = {"sigmavault-system", "sigmavault-storage", "sigmavault-btrfs", "sigmavault-zfs",
           "sigmavault-agents", "sigmavault-compression", "sigmavault-encryption",
           "sigmavault-phantommesh", "sigmavault-shares", "sigmavault-smb", "sigmavault-nfs",
           "sigmavault-notifications", "sigmavault-ceph", "sigmavault-replication"}


def test_all_bundle_installs_from_wheels(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run(["bash", str(ROOT / "scripts" / "build-wheels.sh"), str(dist)],
                           capture_output=True, text=True, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert built.returncode == 0, built.stderr
    wheels = {p.name.split("-")[0].replace("_", "-") for p in dist.glob("*.whl")}
    assert {"sigmavault"} | BUNDLED <= wheels
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--find-links", str(dist),
                          "sigmavault[all]"], capture_output=True, text=True, cwd=tmp_path)
    assert pip.returncode == 0, pip.stderr[-3000:]
    out = subprocess.run([str(venv / "bin" / "sigmavault"), "plugins", "--json", "--data-dir",
                          str(tmp_path / "data")], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    loaded = {name for name, p in plugins.items() if p["status"] == "loaded"}
    assert loaded == BUNDLED | {"sigmavault-storage:storage-agents"}
    origin = subprocess.run([str(venv / "bin" / "python"), "-c", "import sigmavault; print(sigmavault.__file__)"],
                            capture_output=True, text=True, cwd=tmp_path).stdout
    assert str(venv) in origin and str(ROOT) not in origin

    # and that installation serves: the daemon starts with every plugin and answers the API
    daemon = Daemon(tmp_path / "served", python=str(venv / "bin" / "python"),
                    env={"PYTHONPATH": "", "PATH": f"{venv / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"})
    daemon.start(timeout=60)
    try:
        served = asyncio.run(_get(daemon, "/api/v1/plugins"))
        assert {p["name"] for p in served if p["status"] == "loaded"} == loaded
        assert len(asyncio.run(_get(daemon, "/api/v1/agents"))) == 40
    finally:
        assert daemon.stop() == 0


async def _get(daemon: Daemon, path: str) -> Any:
    async with daemon.session() as s, s.get(path) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()
