"""Feature bundles as wheels: sigmavault[all] from dist/ into a fresh virtualenv, no checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = {"sigmavault-system", "sigmavault-storage", "sigmavault-btrfs", "sigmavault-zfs",
           "sigmavault-agents", "sigmavault-compression", "sigmavault-encryption",
           "sigmavault-phantommesh"}


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
