"""The default data dir: ./var of the source checkout when run from one, /var/lib/sigmavault when
the package is installed (a wheel puts ``sigmavault`` in site-packages, with no pyproject.toml or
hookspecs/ beside it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _data_dir(cwd: Path, pythonpath: str | None = None) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGMAVAULT_")}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, "-m", "sigmavault.cli", "config", "check"], cwd=cwd,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    match = re.search(r"data dir (\S+)\)", out.stdout)
    assert match, out.stdout
    return Path(match.group(1))


def test_checkout_uses_its_var_wherever_it_is_started_from(tmp_path):
    assert _data_dir(tmp_path) == ROOT / "var"


def test_installed_package_uses_var_lib(tmp_path):
    site = tmp_path / "site"
    # the layout the wheel installs (pyproject: sigmavault = core, sigmavault.hookspecs = hookspecs)
    shutil.copytree(ROOT / "core", site / "sigmavault",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "hookspecs", site / "sigmavault" / "hookspecs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    existed = Path("/var/lib/sigmavault").exists()
    assert _data_dir(tmp_path, pythonpath=str(site)) == Path("/var/lib/sigmavault")
    assert Path("/var/lib/sigmavault").exists() == existed  # a check creates nothing

