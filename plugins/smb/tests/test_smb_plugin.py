"""SMB sharing end to end through the HTTP API: NAS accounts and shares of ``sigmavault-shares``
served by the ``sigmavault-smb`` plugin's real smbd on a free loopback port, checked with real
``smbclient`` and ``smbprotocol`` sessions against the explainer."""

from __future__ import annotations

import os
import pwd
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from sigmavault.testing import api_call, free_port, load_module, next_event, require_tool, until

clients = load_module(Path(__file__).parent / "smb_clients.py", "smb_plugin_test_clients")
Cli, Proto = clients.Cli, clients.Proto

PASSWORDS = {"svtalice": "alice-Pw-1234", "svtbob": "bob-Pw-5678", "svtcarol": "carol-Pw-9012"}
ACCESS = [{"kind": "user", "name": "svtalice", "level": "write"},
          {"kind": "group", "name": "svtreaders", "level": "read"}]


@pytest.fixture
def smb_port() -> int:
    return free_port()


@pytest.fixture
def sv_config_overrides(share_root: Path, smb_port: int) -> dict[str, Any]:
    require_tool("smbd", "smbcontrol", "smbpasswd", "pdbedit", "testparm", "smbstatus",
                 "smbclient", "setfacl", "getfacl")
    return {"shares": {"first_id": 3900, "last_id": 3999},
            "smb": {"port": smb_port, "interfaces": ["127.0.0.1"], "sessions_poll_interval": 0.2,
                    "previous_versions_dir": str(share_root / "previous-versions")},
            "storage": {"pools_root": str(share_root / "pools"), "monitor_interval": 0}}


async def setup_nas(client, with_share: bool = True) -> dict[str, Any]:
    """Group svtreaders; users svtalice, svtbob (in svtreaders), svtcarol; a dir pool with a
    volume; share "data" on its subfolder "team" with [svtalice: write, svtreaders: read]."""
    await api_call(client, "POST", "/shares/groups", 201, json={"name": "svtreaders"})
    for name, groups in (("svtalice", []), ("svtbob", ["svtreaders"]), ("svtcarol", [])):
        await api_call(client, "POST", "/shares/users", 201,
                       json={"name": name, "password": PASSWORDS[name], "groups": groups})
    await api_call(client, "POST", "/storage/pools", 201, json={"name": "tank", "backend": "dir"})
    await api_call(client, "POST", "/storage/pools/tank/volumes", 201, json={"name": "vol"})
    if not with_share:
        return {}
    share = await api_call(client, "POST", "/shares", 201, json={
        "name": "data", "pool": "tank", "volume": "vol", "subfolder": "team", "guest_ok": True,
        "description": "team files", "access": ACCESS, "options": {"smb": {}}})
    Path(share["path"], "existing.txt").write_text("existing\n")
    return share


def share_event(kind: str, **data: Any):
    return lambda e: e["type"] == "share.event" and e["data"]["kind"] == kind and all(
        e["data"].get(k) == v for k, v in data.items())


def svt_accounts() -> list[str]:
    return sorted(p.pw_name for p in pwd.getpwall() if p.pw_name.startswith("svt"))


async def test_clients_match_explainer_and_live_changes(nas_accounts, client, share_root: Path,
                                                        smb_port: int) -> None:
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["share.event"]})
    share = await setup_nas(client)
    assert share["path"] == str(share_root / "pools" / "tank" / "vol" / "team")
    created = await next_event(ws, share_event("created"))
    assert created["data"]["share"] == "data"
    status = await api_call(client, "GET", "/smb/status", 200)
    assert status["running"] and status["port"] == smb_port and status["pid"] > 0
    assert status["version"].startswith("Version 4.") and status["shares"] == 1
    users = await api_call(client, "GET", "/shares/users", 200)
    assert [(u["name"], u["groups"], u["enabled"]) for u in users] == [
        ("svtalice", [], True), ("svtbob", ["svtreaders"], True), ("svtcarol", [], True)]
    assert all(3900 <= u["uid"] <= 3999 for u in users)
    assert "password" not in str(users)

    local = share_root / "local.txt"
    local.write_text("from a client\n")
    expected = {"svtalice": "write", "svtbob": "read", "svtcarol": "none", None: "none"}
    for name, want in expected.items():
        verdict = await api_call(client, "GET", "/shares/data/access" +
                                 (f"?user={name}" if name else ""), 200)
        assert verdict["access"] == want, verdict
        assert "user:svtalice:rwx" in verdict["acl"] and "group:svtreaders:r-x" in verdict["acl"]
        assert any("filesystem ACL" in r for r in verdict["reasons"]) or want == "none"
        abilities = clients.expected_abilities(verdict["access"])
        tag = name or "guest"
        got = await clients.cli_abilities(Cli(smb_port, name, PASSWORDS.get(name or "", "")),
                                          "data", tag, local)
        assert got == abilities, ("smbclient", name, verdict, got)
        if name is not None:
            proto = Proto(smb_port, name, PASSWORDS[name])
            try:
                got = await clients.proto_abilities(proto, "data", tag)
            finally:
                proto.close()
            assert got == abilities, ("smbprotocol", name, verdict, got)

    alice = Proto(smb_port, "svtalice", PASSWORDS["svtalice"])
    bob = Proto(smb_port, "svtbob", PASSWORDS["svtbob"])
    try:
        assert await alice.write("data", "by-alice.txt", b"alice wrote this\n")
        assert await bob.read("data", "by-alice.txt") == b"alice wrote this\n"
        assert not await bob.write("data", "by-alice.txt", b"bob was here\n")
        sessions = (await api_call(client, "GET", "/smb/sessions", 200))["sessions"]
        before = [s["session_id"] for s in sessions if s["username"] == "svtalice"]
        assert before
        # the abilities checks above connected (and left) as alice too: skip their announcements
        is_alice = share_event("client_connected", user="svtalice")
        await next_event(ws, lambda e: is_alice(e) and e["data"]["session"] in before)

        # bob gets write: applied within 2 s, alice's session stays open and working
        started = time.monotonic()
        await api_call(client, "PATCH", "/shares/data", 200, json={"access": [
            *ACCESS, {"kind": "user", "name": "svtbob", "level": "write"}]})
        verdict = await api_call(client, "GET", "/shares/data/access?user=svtbob", 200)
        assert verdict["access"] == "write", verdict
        bob2 = Proto(smb_port, "svtbob", PASSWORDS["svtbob"])
        try:
            assert await until(lambda: bob2.write("data", "by-alice.txt", b"bob was here\n"),
                               timeout=2.0)
        finally:
            bob2.close()
        assert time.monotonic() - started < 2.0 + 1.0  # the PATCH itself included
        assert await alice.read("data", "by-alice.txt") == b"bob was here\n"
        assert await alice.write("data", "after-change.txt", b"still here\n")
        sessions = (await api_call(client, "GET", "/smb/sessions", 200))["sessions"]
        assert [s["session_id"] for s in sessions if s["username"] == "svtalice"] == before
        changed = await next_event(ws, share_event("changed"))
        assert changed["data"]["share"] == "data"
    finally:
        alice.close()
        bob.close()

    # disabling an account stops its logins; enabling it again lets it in
    cli = Cli(smb_port, "svtalice", PASSWORDS["svtalice"])
    await api_call(client, "PATCH", "/shares/users/svtalice", 200, json={"enabled": False})
    ok, out = await cli.run("data", "ls")
    assert not ok and "NT_STATUS_ACCOUNT_DISABLED" in out, out
    assert (await api_call(client, "GET", "/shares/data/access?user=svtalice", 200)
            )["access"] == "none"
    await api_call(client, "PATCH", "/shares/users/svtcarol", 200, json={"enabled": False})
    ok, out = await Cli(smb_port, "svtcarol", PASSWORDS["svtcarol"]).run("IPC$", "")
    assert not ok and "NT_STATUS_ACCOUNT_DISABLED" in out, out
    await api_call(client, "PATCH", "/shares/users/svtalice", 200, json={"enabled": True})
    assert await cli.ok("data", "ls")
    # a new password replaces the old one (the weak one is refused, naming the field)
    err = await api_call(client, "PATCH", "/shares/users/svtalice", 422, json={"password": "short"})
    assert "password" in err["error"]["message"]
    await api_call(client, "PATCH", "/shares/users/svtalice", 200,
                   json={"password": "Another-Secret-77"})
    assert not await cli.ok("data", "ls")
    assert await Cli(smb_port, "svtalice", "Another-Secret-77").ok("data", "ls")
    await ws.close()


async def test_smbd_killed_is_restarted_with_alert(nas_accounts, client, share_root: Path,
                                                   smb_port: int) -> None:
    await setup_nas(client)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["alert", "share.event"]})
    first = (await api_call(client, "GET", "/smb/status", 200))["pid"]
    os.kill(first, signal.SIGKILL)
    alert = await next_event(ws, "alert")
    assert alert["data"]["id"] == "smb:smbd" and alert["data"]["severity"] == "critical"
    assert "signal 9" in alert["data"]["message"]
    down = await next_event(ws, share_event("service_down"))
    assert down["data"]["protocol"] == "smb"
    await next_event(ws, share_event("service_up"))
    status = await api_call(client, "GET", "/smb/status", 200)
    assert status["running"] and status["restarts"] == 1 and status["pid"] != first
    cli = Cli(smb_port, "svtalice", PASSWORDS["svtalice"])
    assert await until(lambda: cli.ok("data", f"get existing.txt {share_root / 'after.txt'}"))
    assert (share_root / "after.txt").read_text() == "existing\n"

    # disconnecting a client through the API; deleting the last share stops smbd
    proto = Proto(smb_port, "svtalice", PASSWORDS["svtalice"])
    try:
        assert await proto.listdir("data")
        sessions = (await api_call(client, "GET", "/smb/sessions", 200))["sessions"]
        (mine,) = [s for s in sessions if s["username"] == "svtalice"]
        assert mine["shares"] == ["data"] and mine["remote"].startswith("ipv4:127.0.0.1")
        ended = await api_call(client, "DELETE", f"/smb/sessions/{mine['session_id']}", 200)
        assert [s["username"] for s in ended["ended"]] == ["svtalice"]

        async def no_sessions() -> bool:
            return (await api_call(client, "GET", "/smb/sessions", 200))["sessions"] == []
        assert await until(no_sessions)
        await api_call(client, "DELETE", f"/smb/sessions/{mine['session_id']}", 404)
    finally:
        proto.close()
    await api_call(client, "DELETE", "/shares/data", 204)
    await next_event(ws, share_event("service_down"))  # smbd stops before the share is gone
    await next_event(ws, share_event("deleted", share="data"))
    assert not (await api_call(client, "GET", "/smb/status", 200))["running"]
    assert not await cli.ok("data", "ls")
    await ws.close()


BAD_NAMES = [*(f"bad{c}name" for c in '[]/\\:|<>+=;,*?"'), "x" * 81, "global", "homes",
             "printers", "IPC$", "Global"]


async def test_bad_input_names_the_field_and_changes_nothing(nas_accounts, client, sv_app,
                                                             share_root: Path) -> None:
    await setup_nas(client)
    conf = sv_app.data_dir / "smb" / "smb.conf"
    live = conf.read_text()
    volume = share_root / "pools" / "tank" / "vol"
    body = {"pool": "tank", "volume": "vol", "access": ACCESS}

    async def refused(method: str, path: str, field: str, json: dict) -> dict:
        async with client.request(method, f"/api/v1{path}", json=json) as resp:
            err = await resp.json()
            assert 400 <= resp.status < 500, (path, json, resp.status, err)
        assert field in err["error"]["message"], (field, err)
        assert conf.read_text() == live
        return err

    for name in BAD_NAMES:
        await refused("POST", "/shares", "name", {**body, "name": name})
    await refused("POST", "/shares", "name", {**body, "name": "DATA"})  # case-insensitive clash
    await refused("POST", "/shares", "subfolder", {**body, "name": "esc", "subfolder": "../x"})
    os.symlink("/etc", volume / "link-out")
    await refused("POST", "/shares", "subfolder", {**body, "name": "esc",
                                                   "subfolder": "link-out/ssh"})
    await refused("POST", "/shares", "access", {**body, "name": "n1", "access": [
        {"kind": "user", "name": "svtnobody", "level": "read"}]})
    await refused("POST", "/shares", "protocols", {**body, "name": "n2", "protocols": ["nfs9"]})
    await refused("POST", "/shares", "encryption", {**body, "name": "n3",
                                                    "options": {"smb": {"encryption": "maybe"}}})
    await refused("POST", "/shares", "volume", {**body, "name": "n4", "volume": "novol"})
    await refused("PATCH", "/shares/data", "subfolder", {"subfolder": "../.."})
    assert [s["name"] for s in await api_call(client, "GET", "/shares", 200)] == ["data"]
    assert not (share_root / "pools" / "tank" / "x").exists()
    assert (await api_call(client, "GET", "/shares/data", 200))["subfolder"] == "team"

    accounts = svt_accounts()
    for name in ("root", "daemon"):
        await refused("POST", "/shares/users", "name", {"name": name, "password": "Good-Pw-1234"})
    for uid in (0, 1):
        await refused("POST", "/shares/users", "uid", {"name": "svtzed", "uid": uid,
                                                       "password": "Good-Pw-1234"})
    os.system("useradd -M -u 3990 -s /usr/sbin/nologin svtforeign")  # not a NAS account
    await refused("POST", "/shares/users", "uid", {"name": "svtzed", "uid": 3990,
                                                   "password": "Good-Pw-1234"})
    await refused("POST", "/shares/users", "name", {"name": "svtforeign",
                                                    "password": "Good-Pw-1234"})
    await refused("POST", "/shares/groups", "name", {"name": "daemon"})
    await refused("POST", "/shares/groups", "gid", {"name": "svtg", "gid": 1})
    for weak in ("short", "svtzed-password", "aaaaaaaaaa"):
        await refused("POST", "/shares/users", "password", {"name": "svtzed", "password": weak})
    await refused("POST", "/shares/users", "groups", {"name": "svtzed", "password": "Good-Pw-1234",
                                                      "groups": ["svtnogroup"]})
    assert svt_accounts() == sorted([*accounts, "svtforeign"])
    assert [u["name"] for u in await api_call(client, "GET", "/shares/users", 200)] == [
        "svtalice", "svtbob", "svtcarol"]
    # an account in an access list cannot be deleted
    await refused("DELETE", "/shares/users/svtalice", "svtalice", {})
    await refused("DELETE", "/shares/groups/svtreaders", "svtreaders", {})


async def test_daemon_restart_serves_again_without_duplicates(nas_accounts, sv_daemon,
                                                              share_root: Path) -> None:
    require_tool("smbd", "smbclient", "setfacl")
    port = free_port()
    config = f"""
[shares]
first_id = 3900
last_id = 3999
[smb]
port = {port}
interfaces = ["127.0.0.1"]
previous_versions_dir = "{share_root / 'pv'}"
[storage]
pools_root = "{share_root / 'pools'}"
monitor_interval = 0
"""
    daemon = sv_daemon(config)
    async with daemon.session() as s:
        await setup_nas(s)
    cli = Cli(port, "svtbob", PASSWORDS["svtbob"])
    assert await cli.ok("data", f"get existing.txt {share_root / 'one.txt'}")
    accounts = svt_accounts()
    assert accounts == ["svtalice", "svtbob", "svtcarol"]
    assert daemon.stop() == 0
    assert not await cli.ok("data", "ls")  # smbd went with the daemon
    daemon.start()
    assert await until(lambda: cli.ok("data", f"get existing.txt {share_root / 'two.txt'}"))
    assert svt_accounts() == accounts
    async with daemon.session() as s:
        status = await api_call(s, "GET", "/smb/status", 200)
        assert status["running"] and status["restarts"] == 0
        users = await api_call(s, "GET", "/shares/users", 200)
        assert [u["name"] for u in users] == accounts
