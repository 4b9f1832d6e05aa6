"""The SMB shares journey through the web UI in headless Chromium, checked with the real client.

``webui/e2e/shares.mjs`` does everything through the UI: a group and two users (a weak password
refused on its field first), a share on a dir volume picked from the pool and volume selects,
alice with write and the group ``readers`` with read, "can bob write here?" answered "read only,
because bob is in group readers", alice connected with ``smbclient`` shown live on the share, and
deleting alice refused in words while the share names her. Afterwards ``smbclient`` proves the
effect: alice can put a file, bob can list but not put. Screenshots of both pages at 1440 and
390 px go to ``test-artifacts/screenshots/`` (``shares-*``, ``accounts-*``).

Needs root, Samba (``smbd``, ``smbclient``, ``samba-vfs-modules``), ``setfacl``, node and Debian's
chromium. The accounts are real Unix accounts (uids/gids 3800-3899 so they never meet the shares
plugin's own tests at 3900-3999); they are removed at the end, whatever happened.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sigmavault.testing import free_port, require, require_root, require_tool

from tests.e2e.conftest import ROOT, ensure_webui, run_node, ui_daemon, ui_env
from tests.e2e.conftest import SCREENSHOTS as SHOTS

ARTIFACTS = ROOT / "test-artifacts" / "shares"
IDS = range(3800, 3900)
USERS = ("alice", "bob")
GROUPS = ("readers",)
PASSWORDS = {"alice": "wonder-land-42", "bob": "hammer-time-77"}  # as in shares.mjs
STEPS = ["login", "accounts", "share_from_volume", "can_bob_write", "edit_share", "client_live", "account_in_use",
         "no_page_errors"]


def _ours(kind: str, name: str) -> bool | None:
    """True: an account of this test's range; False: a foreign one; None: absent."""
    try:
        number = pwd.getpwnam(name).pw_uid if kind == "user" else grp.getgrnam(name).gr_gid
    except KeyError:
        return None
    return number in IDS


def _sweep() -> None:
    for name in USERS:
        if _ours("user", name):
            subprocess.run(["userdel", name], capture_output=True)
    for name in GROUPS:
        if _ours("group", name):
            subprocess.run(["groupdel", name], capture_output=True)


def _smbclient(port: int, user: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["smbclient", "//127.0.0.1/docs", "-p", str(port), "-U",
                           f"{user}%{PASSWORDS[user]}", "-c", command],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def nas() -> Iterator[dict[str, Any]]:
    require_root()
    require_tool("smbd", "smbclient", "setfacl", "useradd")
    for kind, names in (("user", USERS), ("group", GROUPS)):
        for name in names:
            require(_ours(kind, name) is not False, f"the system already has a {kind} {name!r}")
    ensure_webui()
    _sweep()
    # not pytest's tmp_path: the share's folder must be reachable by the NAS accounts
    root = Path(tempfile.mkdtemp(prefix="svui-shares-"))
    os.chmod(root, 0o755)
    smb_port = free_port()
    config = f"""[shares]
first_id = {IDS.start}
last_id = {IDS.stop - 1}
[smb]
enabled = true
port = {smb_port}
interfaces = ["127.0.0.1"]
sessions_poll_interval = 1
previous_versions_dir = "{root / 'pv'}"
[storage]
pools_root = "{root / 'pools'}"
monitor_interval = 0
"""
    try:
        with ui_daemon(root, config) as daemon:
            # the journey starts from a pool with a dir volume, as an administrator's NAS would
            for path, body in (("/storage/pools", {"name": "tank", "backend": "dir"}),
                               ("/storage/pools/tank/volumes", {"name": "team"})):
                subprocess.run(["curl", "-sf", "-H", f"Authorization: Bearer {daemon.admin_key}",
                                "-H", "Content-Type: application/json", "-d", json.dumps(body),
                                f"{daemon.url}/api/v1{path}"], check=True, capture_output=True)
            yield {"daemon": daemon, "smb_port": smb_port, "root": root}
    finally:
        _sweep()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def journey(nas: dict[str, Any]) -> dict[str, dict[str, Any]]:
    env = ui_env(f"{nas['daemon'].url}/", SV_POOL="tank", SV_VOLUME="team",
                 SV_SMB_PORT=str(nas["smb_port"]), SV_SCREENSHOTS=str(SHOTS),
                 SV_ARTIFACTS=str(ARTIFACTS))
    return run_node("shares.mjs", env, timeout=300)


@pytest.mark.parametrize("name", STEPS)
def test_step(journey: dict[str, dict[str, Any]], name: str) -> None:
    item = journey.get(name)
    assert item is not None, f"step {name} did not run: {journey}"
    assert item["status"] == "passed", item["detail"]


def test_bob_is_read_only_because_of_his_group(journey: dict[str, dict[str, Any]]) -> None:
    assert journey["can_bob_write"]["detail"].startswith("read only, because bob is in group readers")


def test_smbclient_agrees_with_the_ui(nas: dict[str, Any], journey: dict[str, dict[str, Any]],
                                      tmp_path: Path) -> None:
    """What the UI set up is what Samba enforces: alice writes, bob (group readers) only reads."""
    assert journey["share_from_volume"]["status"] == "passed", journey["share_from_volume"]
    src = tmp_path / "hello.txt"
    src.write_text("written by alice through SMB\n")
    put = _smbclient(nas["smb_port"], "alice", f"put {src} hello.txt")
    assert put.returncode == 0, put.stdout + put.stderr
    shared = nas["root"] / "pools" / "tank" / "team" / "hello.txt"
    assert shared.read_text() == "written by alice through SMB\n"
    listed = _smbclient(nas["smb_port"], "bob", "ls")
    assert listed.returncode == 0 and "hello.txt" in listed.stdout, listed.stdout + listed.stderr
    denied = _smbclient(nas["smb_port"], "bob", f"put {src} bob.txt")
    assert "NT_STATUS_ACCESS_DENIED" in denied.stdout + denied.stderr, denied.stdout + denied.stderr
    assert not (shared.parent / "bob.txt").exists()


def test_screenshots_of_both_pages(journey: dict[str, dict[str, Any]]) -> None:
    for page in ("shares", "accounts"):
        for width in (1440, 390):
            png = SHOTS / f"{page}-{width}.png"
            assert png.is_file() and png.stat().st_size > 5000, f"{png} missing or empty"
