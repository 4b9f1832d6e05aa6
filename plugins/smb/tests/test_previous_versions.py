"""Previous Versions (``vfs_shadow_copy2``) on every backend that has snapshots — dir, btrfs (a
pool on a loop device) and zfs (zfs-fuse) — through the HTTP API and real ``smbclient`` sessions
against the plugin's smbd: after a snapshot and a change the old content comes back from the
``@GMT-`` path, and a snapshot taken while the share is served appears without a restart.

zfs-fuse has no POSIX ACLs: there the access list becomes mode bits (alice owns, group readers,
setgid), new files follow them, the explainer says so, and a list mode bits cannot express is a
422 naming ``access`` that changes nothing."""

from __future__ import annotations

import asyncio
import errno
import grp
import os
import pwd
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from sigmavault.commands import run
from sigmavault.testing import api_call, free_port, load_module, require_tool, until

HERE = Path(__file__).parent
clients = load_module(HERE / "smb_clients.py", "smb_pv_test_clients")
zfs_daemon = load_module(HERE.parent.parent / "zfs" / "tests" / "conftest.py",
                         "smb_pv_zfs_fixtures").zfs_daemon
Cli = clients.Cli

PASSWORDS = {"svtalice": "alice-Pw-1234", "svtbob": "bob-Pw-5678", "svtcarol": "carol-Pw-9012"}
ACCESS = [{"kind": "user", "name": "svtalice", "level": "write"},
          {"kind": "group", "name": "svtreaders", "level": "read"}]
POOL = "svtpv"


@pytest.fixture(params=["dir", "btrfs", "zfs"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "btrfs":
        require_tool("mkfs.btrfs", "btrfs")
    elif request.param == "zfs":
        request.getfixturevalue("zfs_daemon")
    return request.param


@pytest.fixture
def daemon_umask() -> Iterator[None]:
    """The umask ``sigmavault serve`` runs with (what it creates is private unless it says
    otherwise)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def smb_port() -> int:
    return free_port()


@pytest.fixture
def sv_config_overrides(share_root: Path, smb_port: int, backend: str) -> dict[str, Any]:
    require_tool("smbd", "smbcontrol", "smbpasswd", "pdbedit", "testparm", "smbstatus",
                 "smbclient", "setfacl", "getfacl")
    return {"shares": {"first_id": 3900, "last_id": 3999},
            "smb": {"port": smb_port, "interfaces": ["127.0.0.1"], "sessions_poll_interval": 0,
                    "previous_versions_dir": str(share_root / "previous-versions")},
            "storage": {"pools_root": str(share_root / "pools"), "monitor_interval": 0,
                        "include_loop_devices": True},
            "btrfs": {"mount_root": str(share_root / "btrfs")},
            "zfs": {"mount_root": str(share_root / "zfs")}}


@pytest.fixture
async def pool(client, backend: str, loop_devices, daemon_umask) -> AsyncIterator[dict[str, Any]]:
    """Pool ``svtpv`` of ``backend`` (btrfs and zfs on one loop device), destroyed afterwards
    (before the loop devices are detached)."""
    body: dict[str, Any] = {"name": POOL, "backend": backend}
    if backend != "dir":
        body |= {"topology": {"layout": "single" if backend == "btrfs" else "stripe"},
                 "devices": loop_devices(1, 256 << 20)}
    made = await api_call(client, "POST", "/storage/pools", 201, json=body)
    try:
        yield made
    finally:
        resp = await client.delete(f"/api/v1/storage/pools/{POOL}", params={"confirm": POOL})
        if backend == "zfs" and resp.status != 204:
            for _ in range(10):  # zfs-fuse says "pool is busy" for a moment after unmounts
                if (await run(["zpool", "destroy", "-f", POOL], check=False, timeout=120)).ok:
                    break
                await asyncio.sleep(0.3)
        assert resp.status == 204, await resp.text()


def gmt(created: str) -> str:
    return time.strftime("@GMT-%Y.%m.%d-%H.%M.%S",
                         time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))


async def test_previous_versions(nas_accounts, client, sv_app, pool, backend: str,
                                 share_root: Path, smb_port: int) -> None:
    await api_call(client, "POST", "/shares/groups", 201, json={"name": "svtreaders"})
    for name, groups in (("svtalice", []), ("svtbob", ["svtreaders"]), ("svtcarol", [])):
        await api_call(client, "POST", "/shares/users", 201,
                       json={"name": name, "password": PASSWORDS[name], "groups": groups})
    vol = await api_call(client, "POST", f"/storage/pools/{POOL}/volumes", 201,
                         json={"name": "vol"})
    snapshots = f"/storage/pools/{POOL}/volumes/vol/snapshots"
    team = Path(vol["path"]) / "team"
    team.mkdir(mode=0o755)
    report = team / "report.txt"
    report.write_text("before\n")
    for item, mode in ((team, 0o755), (report, 0o644)):  # whatever the umask
        item.chmod(mode)
    # a name that is no time: Previous Versions come from the snapshot's creation time
    snap = await api_call(client, "POST", snapshots, 201, json={"name": "before-edit"})
    # folders only root may enter (a backend or an install with umask 077): the share's
    # ancestors and the snapshots' get search permission for others
    private = [Path(vol["path"])] + ([Path(snap["path"]).parent] if snap.get("path") else [])
    for folder in list(private):
        try:
            folder.chmod(0o700)
        except OSError as exc:  # CephFS: a snapshot's folder under .snap is read-only
            assert exc.errno == errno.EROFS, exc
            private.remove(folder)
    async with client.post("/api/v1/shares", json={
            "name": "data", "pool": POOL, "volume": "vol", "subfolder": "team",
            "access": ACCESS}) as resp:
        body = await resp.json()
    assert resp.status == 201, body
    for folder in private:
        assert folder.stat().st_mode & 0o777 == 0o701, folder
    alice = Cli(smb_port, "svtalice", PASSWORDS["svtalice"])
    bob = Cli(smb_port, "svtbob", PASSWORDS["svtbob"])
    if backend == "zfs":
        await mode_bits_case(client, sv_app, team, smb_port, share_root)
    report.write_text("after the edit\n")

    async def versions(cli: Cli, name: str) -> list[str]:
        # smbclient lists every snapshot of the share, then fails on those without the file
        _, out = await cli.run("data", f"allinfo {name}")
        return [ln.strip() for ln in out.splitlines() if ln.startswith("@GMT-")
                and f"pathinfo({ln.strip()}" not in out]

    assert await until(lambda: versions(alice, "report.txt")) == [gmt(snap["created"])]
    ok, out = await alice.run("data", f'get "{gmt(snap["created"])}\\report.txt" -')
    assert ok and "before\n" in out and "after the edit" not in out, out
    # bob (read through his group) sees them too; carol (no access) does not
    got = share_root / "bob-old.txt"
    assert await bob.ok("data", f"get {gmt(snap['created'])}/report.txt {got}")
    assert got.read_text() == "before\n"
    assert not await Cli(smb_port, "svtcarol", PASSWORDS["svtcarol"]).ok(
        "data", f"get {gmt(snap['created'])}/report.txt {share_root / 'carol-old.txt'}")

    # a snapshot taken while the share is served appears without restarting anything, and
    # keeps the ACLs readable: bob reads alice's old file through his group's entry ("other"
    # has nothing on files made over SMB)
    pid = (await api_call(client, "GET", "/smb/status", 200))["pid"]
    local = share_root / "v1.txt"
    local.write_text("version one\n")
    assert await alice.ok("data", f"put {local} alice.txt")
    made = team / "alice.txt"
    assert made.stat().st_mode & 0o007 == 0
    if backend == "zfs":  # mode bits: the folder's, and its group (zfs-fuse ignores setgid)
        st = made.stat()
        assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                st.st_mode & 0o7777) == ("svtalice", "svtreaders", 0o640)
        ok, out = await bob.run("data", "get alice.txt -")
        assert ok and "version one" in out, out
    await asyncio.sleep(1.1)  # a second snapshot in another second: another @GMT name
    second = await api_call(client, "POST", snapshots, 201, json={"name": "with-acls"})
    made.write_text("version two\n")
    assert await until(lambda: versions(bob, "alice.txt")) == [gmt(second["created"])]
    ok, out = await bob.run("data", f'get "{gmt(second["created"])}\\alice.txt" -')
    assert ok and "version one\n" in out and "version two" not in out, out
    assert await until(lambda: versions(alice, "report.txt")) == [
        gmt(second["created"]), gmt(snap["created"])]
    assert (await api_call(client, "GET", "/smb/status", 200))["pid"] == pid

    # deleting the snapshots removes the versions
    for name in ("before-edit", "with-acls"):
        await api_call(client, "DELETE", f"{snapshots}/{name}", 204)

    async def gone() -> bool:
        return await versions(alice, "report.txt") == [] and \
            await versions(alice, "alice.txt") == []
    assert await until(gone)


async def mode_bits_case(client, sv_app, team: Path, smb_port: int, share_root: Path) -> None:
    """Share ``data`` (alice write, readers read) on zfs-fuse: mode bits instead of ACLs, what
    each client can do equals what the explainer says, and a list they cannot express is refused
    before anything changes."""
    st = team.stat()
    assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            st.st_mode & 0o7777) == ("svtalice", "svtreaders", 0o2750)
    assert (team / "report.txt").stat().st_mode & 0o7777 == 0o640
    local = share_root / "mode-bits.txt"
    local.write_text("mode bits\n")
    can = {}
    for user, password in PASSWORDS.items():
        cli = Cli(smb_port, user, password)
        got = share_root / f"{user}-report.txt"
        can[user] = {"read": await cli.ok("data", f"get report.txt {got}"),
                     "write": await cli.ok("data", f"put {local} {user}.txt")}
        said = await api_call(client, "GET", "/shares/data/access", 200, params={"user": user})
        level = "write" if can[user]["write"] else "read" if can[user]["read"] else "none"
        assert said["access"] == level, (user, can[user], said)
        if user == "svtbob":
            assert "folder mode 2750 owner svtalice group svtreaders: svtbob reads through " \
                   "group svtreaders" in said["reasons"], said
    assert can == {"svtalice": {"read": True, "write": True},
                   "svtbob": {"read": True, "write": False},
                   "svtcarol": {"read": False, "write": False}}
    (team / "svtalice.txt").unlink()
    assert await Cli(smb_port, "svtalice", PASSWORDS["svtalice"]).ok("data", "mkdir sub")
    st = (team / "sub").stat()  # the folder's group and mode, setgid included
    assert (grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o7777) == ("svtreaders", 0o2750)
    (team / "sub").rmdir()

    conf = sv_app.data_dir / "smb" / "smb.conf"
    live = conf.read_text()
    assert "inherit permissions = yes" in live
    two = [{"kind": "user", "name": "svtalice", "level": "write"},
           {"kind": "user", "name": "svtcarol", "level": "write"}]
    for method, path, body in (
            ("POST", "/shares", {"name": "two", "pool": POOL, "volume": "vol",
                                 "subfolder": "two", "access": two}),
            ("PATCH", "/shares/data", {"access": two})):
        async with client.request(method, f"/api/v1{path}", json=body) as resp:
            err = await resp.json()
        assert resp.status == 422, err
        assert err["error"]["details"]["field"] == "access", err
        assert err["error"]["message"].startswith("access: this volume's file system "
                                                  "(zfs-fuse) has no POSIX ACLs: an access list "
                                                  "on it can name at most one user and one "
                                                  "group"), err
    assert [s["name"] for s in await api_call(client, "GET", "/shares", 200)] == ["data"]
    assert (await api_call(client, "GET", "/shares/data", 200))["access"] == ACCESS
    assert conf.read_text() == live
    assert not (team.parent / "two").exists()
    assert team.stat().st_mode & 0o7777 == 0o2750
