"""NFS sharing end to end through the HTTP API: NAS accounts and shares of ``sigmavault-shares``
exported by the ``sigmavault-nfs`` plugin's real NFS-Ganesha on a free loopback port, read and
written with libnfs's ``nfs-cat``/``nfs-cp``/``nfs-ls`` as the NAS users' uids (sec=sys)."""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from sigmavault.commands import run
from sigmavault.testing import api_call, free_port, load_module, next_event, require_tool

Nfs = load_module(Path(__file__).parent / "nfs_clients.py", "nfs_plugin_test_clients").Nfs

USERS = {"svnalice": 3001, "svnbob": 3002, "svncarol": 3003}
PASSWORD = "Nfs-Test-Pw-4711"
ACCESS = [{"kind": "user", "name": "svnalice", "level": "write"},
          {"kind": "user", "name": "svnbob", "level": "read"}]
EVERYONE_WRITE = [{"kind": "everyone", "level": "write"}]
EVERYONE_READ = [{"kind": "everyone", "level": "read"}]
LOCAL = {"clients": [{"host": "127.0.0.1", "access": "rw"}]}


@pytest.fixture
def nfs_port() -> int:
    return free_port()


@pytest.fixture
def smb_port() -> int:
    return free_port()


@pytest.fixture
def sv_config_overrides(share_root: Path, nfs_port: int, smb_port: int) -> dict[str, Any]:
    require_tool("ganesha.nfsd", "nfs-cat", "nfs-cp", "nfs-ls", "setfacl", "getfacl")
    return {"shares": {"first_id": 3000, "last_id": 3099},
            "nfs": {"port": nfs_port, "bind_addr": "127.0.0.1", "grace_period": 0,
                    "clients_poll_interval": 0.2},
            "smb": {"port": smb_port, "interfaces": ["127.0.0.1"], "sessions_poll_interval": 0,
                    "previous_versions_dir": str(share_root / "previous-versions")},
            "storage": {"pools_root": str(share_root / "pools"), "monitor_interval": 0}}


def as_user(port: int, name: str | None, **kw: Any) -> Any:
    """A libnfs client sending ``name``'s uid and primary gid (``None``: root)."""
    if name is None:
        return Nfs(port, 0, 0, **kw)
    return Nfs(port, USERS[name], pwd.getpwnam(name).pw_gid, **kw)


async def setup_nas(client, share: Any = None) -> dict[str, Any]:
    """Users svnalice, svnbob, svncarol (uids 3001-3003); a dir pool with a volume; share
    "data" on its subfolder "team" that everyone may write, exported over NFS to 127.0.0.1."""
    for name, uid in USERS.items():
        await api_call(client, "POST", "/shares/users", 201,
                       json={"name": name, "uid": uid, "password": PASSWORD})
    await api_call(client, "POST", "/storage/pools", 201, json={"name": "tank", "backend": "dir"})
    await api_call(client, "POST", "/storage/pools/tank/volumes", 201, json={"name": "vol"})
    if share is False:
        return {}
    body = {"name": "data", "pool": "tank", "volume": "vol", "subfolder": "team",
            "protocols": ["nfs"], "access": EVERYONE_WRITE, "options": {"nfs": LOCAL}}
    created = await api_call(client, "POST", "/shares", 201, json={**body, **(share or {})})
    Path(created["path"], "existing.txt").write_text("existing\n")
    return created


def share_event(kind: str, **data: Any):
    return lambda e: e["type"] == "share.event" and e["data"]["kind"] == kind and all(
        e["data"].get(k) == v for k, v in data.items())


async def until(check, timeout: float = 10.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(step)


async def test_levels_clients_and_ownership_over_nfs(nfs_accounts, client, share_root: Path,
                                                     nfs_port: int, tmp_path: Path) -> None:
    share = await setup_nas(client)
    folder = Path(share["path"])
    status = await api_call(client, "GET", "/nfs/status", 200)
    assert status["running"] and status["server"] == "ganesha" and status["exports"] == 1
    assert status["port"] == nfs_port and status["versions"] == [4]
    assert status["kernel_nfsd"] is False  # this kernel has none: Ganesha serves
    alice, bob, carol = (as_user(nfs_port, n) for n in USERS)

    # everyone writes "data": each file is its writer's on the server
    assert await alice.read("data/existing.txt") == "existing\n"
    for who, name in ((alice, "svnalice"), (bob, "svnbob")):
        assert await who.write(f"data/by-{name}.txt", f"from {name}\n".encode(), tmp_path)
        made = folder / f"by-{name}.txt"
        assert made.read_text() == f"from {name}\n"
        assert (made.stat().st_uid, made.stat().st_gid) == (USERS[name],
                                                            pwd.getpwnam(name).pw_gid)
    # a file alice's uid wrote on the server (as SMB would) is read over NFS, hers
    local = folder / "local-alice.txt"
    local.write_text("written as alice\n")
    os.chown(local, USERS["svnalice"], pwd.getpwnam("svnalice").pw_gid)
    assert await carol.read("data/local-alice.txt") == "written as alice\n"
    assert await carol.ls("data") == ["by-svnalice.txt", "by-svnbob.txt", "existing.txt",
                                      "local-alice.txt"]
    # root is squashed to nobody (65534), whom "everyone: write" covers like any account
    root = as_user(nfs_port, None)
    assert await root.write("data/by-root.txt", b"root\n", tmp_path)
    assert (folder / "by-root.txt").stat().st_uid == pwd.getpwnam("nobody").pw_uid

    # a read-only level for everyone: the export is read-only
    await api_call(client, "PATCH", "/shares/data", 200, json={"access": EVERYONE_READ})
    assert await bob.read("data/by-svnalice.txt") == "from svnalice\n"
    assert not await alice.write("data/new.txt", b"new\n", tmp_path)
    assert not (folder / "new.txt").exists()
    exports = await api_call(client, "GET", "/nfs/exports", 200)
    assert [(e["share"], e["pseudo"], e["read_only"]) for e in exports] == [
        ("data", "/data", True)]

    # the explainers agree
    why = await api_call(client, "GET", "/nfs/shares/data/access?address=127.0.0.1"
                         "&user=svnbob", 200)
    assert why["access"] == "read" and why["client_rule"] == "127.0.0.1 (rw)", why
    acl = await api_call(client, "GET", "/shares/data/access?user=svnbob", 200)
    assert acl["access"] == "read"
    outside = await api_call(client, "GET", "/nfs/shares/data/access?address=10.9.9.9"
                             "&user=svnalice", 200)
    assert outside["access"] == "none" and "no client rule" in outside["reasons"][0]

    # different rights per user: Ganesha cannot enforce them (mode bits, not ACLs): refused
    async with client.patch("/api/v1/shares/data", json={"access": ACCESS}) as resp:
        err = await resp.json()
        assert resp.status == 409, err
    assert err["error"]["code"] == "nfs_per_user_access"
    assert err["error"]["message"].startswith("options.nfs:")
    assert (await api_call(client, "GET", "/shares/data", 200))["access"] == [
        {**EVERYONE_READ[0], "name": None}]
    # ... unless every request acts as one NAS user: squash all to alice, who may write
    await api_call(client, "PATCH", "/shares/data", 200, json={
        "access": [*ACCESS, *EVERYONE_READ], "options": {"nfs": {
            **LOCAL, "squash": "all", "anon_user": "svnalice"}}})
    assert await carol.read("data/existing.txt") == "existing\n"
    # Ganesha checks mode bits: alice's write comes from a named ACL entry, which it does not
    # see; on the root-owned folder "other" (everyone: read) applies. The explainer says so.
    assert not await carol.write("data/as-alice.txt", b"carol, squashed\n", tmp_path)
    # (the create itself runs as alice in the kernel, which honours her ACL entry: an empty
    # file can be left behind; nothing is written into it)
    assert not (folder / "as-alice.txt").exists() or \
        (folder / "as-alice.txt").read_bytes() == b""
    why = await api_call(client, "GET", "/nfs/shares/data/access?address=127.0.0.1"
                         "&user=svncarol", 200)
    assert why["access"] == "read" and why["acts_as"] == "svnalice", why
    assert "checks mode bits" in why["reasons"][-1], why
    # with "everyone: write" the squashed write goes through, and the file is alice's
    await api_call(client, "PATCH", "/shares/data", 200, json={"access": EVERYONE_WRITE})
    assert await carol.write("data/as-alice-2.txt", b"carol, squashed\n", tmp_path)
    assert (folder / "as-alice-2.txt").stat().st_uid == USERS["svnalice"]


async def smbclient(port: int, user: str, command: str) -> bool:
    res = await run(["smbclient", "//127.0.0.1/data", "-p", str(port), "-U", user,
                     "-c", command], env={"PASSWD": PASSWORD}, check=False, timeout=60)
    return res.returncode == 0 and "NT_STATUS_" not in res.stdout + res.stderr


async def test_smb_and_nfs_see_the_same_files(nfs_accounts, client, share_root: Path,
                                              nfs_port: int, smb_port: int,
                                              tmp_path: Path) -> None:
    require_tool("smbd", "smbclient")
    share = await setup_nas(client, {"protocols": ["smb", "nfs"]})
    folder = Path(share["path"])
    alice_nfs, bob_nfs = as_user(nfs_port, "svnalice"), as_user(nfs_port, "svnbob")

    # alice writes over SMB; she reads it over NFS, and the server says it is hers
    up = tmp_path / "smb-up.txt"
    up.write_text("alice over smb\n")
    assert await smbclient(smb_port, "svnalice", f"put {up} from-smb.txt")
    assert await alice_nfs.read("data/from-smb.txt") == "alice over smb\n"
    assert (folder / "from-smb.txt").stat().st_uid == USERS["svnalice"]
    # bob writes over NFS; he reads it over SMB, and it is his
    assert await bob_nfs.write("data/from-nfs.txt", b"bob over nfs\n", tmp_path)
    down = tmp_path / "smb-down.txt"
    assert await smbclient(smb_port, "svnbob", f"get from-nfs.txt {down}")
    assert down.read_text() == "bob over nfs\n"
    assert (folder / "from-nfs.txt").stat().st_uid == USERS["svnbob"]
    # a file root put there: both protocols give everybody the "everyone" level
    assert await bob_nfs.read("data/existing.txt") == "existing\n"
    assert await smbclient(smb_port, "svnbob", f"get existing.txt {down}")
    assert down.read_text() == "existing\n"


@pytest.mark.xfail(strict=True, reason="a NAS user's file is group 'users' with the shares "
                   "plugin's group::--- entry: the kernel (smbd) refuses the other NAS users, "
                   "Ganesha (mode bits: the ACL mask) lets them in. Fixed when the shares ACL "
                   "gives the owning group the 'everyone' level")
async def test_smb_and_nfs_agree_on_each_others_files(nfs_accounts, client, share_root: Path,
                                                      nfs_port: int, smb_port: int,
                                                      tmp_path: Path) -> None:
    require_tool("smbd", "smbclient")
    await setup_nas(client, {"protocols": ["smb", "nfs"]})
    up = tmp_path / "smb-up.txt"
    up.write_text("alice over smb\n")
    assert await smbclient(smb_port, "svnalice", f"put {up} from-smb.txt")
    over_nfs = await as_user(nfs_port, "svnbob").read("data/from-smb.txt") is not None
    over_smb = await smbclient(smb_port, "svnbob", f"get from-smb.txt {tmp_path / 'x'}")
    assert over_nfs == over_smb
