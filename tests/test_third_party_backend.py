"""A storage backend written outside this repository: installed with pip from a temporary
directory, it passes the public backend conformance suite (``sigmavault.testing.backend_suite``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "folder-backend"

SUITE = '''
import pytest
from sigmavault.testing.backend_suite import BackendSuite


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0}}


class TestFolderBackend(BackendSuite):
    @pytest.fixture
    def pool_body(self):
        return lambda name: {"name": name, "backend": "folder"}
'''


def test_an_outside_backend_plugin_passes_the_conformance_suite(tmp_path: Path) -> None:
    source = tmp_path / "folder-backend"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__",
                                                                  "build"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(source)], check=True)
    (tmp_path / "test_folder_suite.py").write_text(SUITE)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["sigmavault.testing"]\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n"
                                         "asyncio_default_fixture_loop_scope = function\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "test_folder_suite.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
