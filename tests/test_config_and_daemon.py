"""Configuration errors are clear; the daemon starts, serves and stops cleanly as a process."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import json

import pytest

from sigmavault import config
from sigmavault.config import ConfigError


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "sigmavault.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def test_layers_toml_env_flags(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('port = 13000\nhost = "127.0.0.2"\n[events]\nring_size = 50\n')
    cfg = config.load(path, env={"SIGMAVAULT_PORT": "13001", "SIGMAVAULT_EVENTS__CLIENT_QUEUE": "8"},
                      overrides={"port": None})
    assert (cfg.port, cfg.host, cfg.events.ring_size, cfg.events.client_queue) == (13001, "127.0.0.2", 50, 8)
    assert config.load(path, env={"SIGMAVAULT_PORT": "13001"}, overrides={"port": 13002}).port == 13002


def test_bad_values_name_the_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('port = "eighty"\n[events]\nring_size = 1\n')
    with pytest.raises(ConfigError) as exc:
        config.load(path, env={})
    assert "port" in str(exc.value) and "events.ring_size" in str(exc.value)


def test_config_check_cli(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[hello]\ngreeting = "Hi"\n')
    out = run_cli("config", "check", "--config", str(good), "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 0, out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[hello]\ngreeting = ""\n')
    out = run_cli("config", "check", "--config", str(bad), "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 2
    assert "hello.greeting" in out.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    out = run_cli("config", "check", "--config", str(broken))
    assert out.returncode == 2 and "not valid TOML" in out.stderr
    out = run_cli("config", "check", "--config", str(tmp_path / "missing.toml"))
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_daemon_starts_serves_and_stops_cleanly(sv_daemon):
    daemon = sv_daemon()
    req = urllib.request.Request(f"{daemon.url}/api/v1/plugins",
                                 headers={"Authorization": f"Bearer {daemon.admin_key}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert any(p["name"] == "sigmavault-hello" for p in json.load(resp))
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log()


def test_first_run_prints_admin_secret_once(tmp_path):
    from sigmavault.testing import Daemon
    d = Daemon(tmp_path / "fresh")
    d.admin_key = "unused"  # skip provisioning: let the daemon create the admin itself
    d.start()
    d.stop()
    first = d.log()
    assert "created user 'admin' with password: " in first
    secret = first.split("with password: ")[1].split()[0]
    d.start()
    d.stop()
    assert d.log().count("created user 'admin'") == 1
    # stored nowhere in clear: not in the database (nor its WAL) nor any other file of the data dir
    stored = [p for p in (tmp_path / "fresh").rglob("*") if p.is_file()]
    assert any(p.name == "sigmavault.db" for p in stored)
    assert not [p for p in stored if secret.encode() in p.read_bytes()]
