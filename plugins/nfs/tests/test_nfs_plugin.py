"""NFS sharing end to end through the HTTP API: NAS accounts and shares of ``sigmavault-shares``
exported by the ``sigmavault-nfs`` plugin's real NFS-Ganesha on a free loopback port, read and
written with libnfs's ``nfs-cat``/``nfs-cp``/``nfs-ls`` as the NAS users' uids (sec=sys)."""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import signal
import stat
from pathlib import Path
from typing import Any

import pytest
from sigmavault.commands import run
from sigmavault.testing import (
    api_call,
    free_port,
    load_module,
    next_event,
    require_tool,
    until,
)

Nfs = load_module(Path(__file__).parent / "nfs_clients.py", "nfs_plugin_test_clients").Nfs

USERS = {"svnalice": 3001, "svnbob": 3002, "svncarol": 3003}
PASSWORD = "Nfs-Test-Pw-4711"
# alice writes (the folder's owner), bob reads through group svnreaders, carol gets nothing
ACCESS = [{"kind": "user", "name": "svnalice", "level": "write"},
          {"kind": "group", "name": "svnreaders", "level": "read"}]
TWO_WRITERS = [{"kind": "user", "name": "svnalice", "level": "write"},
               {"kind": "user", "name": "svnbob", "level": "write"}]
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
def nfs_bind() -> str:
    return "127.0.0.1"


@pytest.fixture
def nfs_versions() -> list[int]:
    return [4]


@pytest.fixture
def sv_config_overrides(share_root: Path, nfs_port: int, smb_port: int,
                        nfs_bind: str, nfs_versions: list[int]) -> dict[str, Any]:
    require_tool("ganesha.nfsd", "nfs-cat", "nfs-cp", "nfs-ls", "setfacl", "getfacl")
    return {"shares": {"first_id": 3000, "last_id": 3099},
            "nfs": {"port": nfs_port, "bind_addr": nfs_bind, "grace_period": 0,
                    "versions": nfs_versions,
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
    """Users svnalice, svnbob, svncarol (uids 3001-3003), group svnreaders (bob); a dir pool
    with a volume; share "data" on its subfolder "team" that everyone may write, exported over
    NFS to 127.0.0.1."""
    for name, uid in USERS.items():
        await api_call(client, "POST", "/shares/users", 201,
                       json={"name": name, "uid": uid, "password": PASSWORD})
    await api_call(client, "POST", "/shares/groups", 201,
                   json={"name": "svnreaders", "members": ["svnbob"]})
    await api_call(client, "POST", "/storage/pools", 201, json={"name": "tank", "backend": "dir"})
    await api_call(client, "POST", "/storage/pools/tank/volumes", 201, json={"name": "vol"})
    if share is False:
        return {}
    body = {"name": "data", "pool": "tank", "volume": "vol", "subfolder": "team",
            "protocols": ["nfs"], "access": EVERYONE_WRITE, "options": {"nfs": LOCAL}}
    created = await api_call(client, "POST", "/shares", 201, json={**body, **(share or {})})
    Path(created["path"], "existing.txt").write_text("existing\n")
    return created


async def explain(client, user: str | None, address: str = "127.0.0.1") -> dict[str, Any]:
    """The shares explainer over NFS for ``user`` (None: root) from ``address``."""
    query = f"protocol=nfs&address={address}" + (f"&user={user}" if user else "")
    return await api_call(client, "GET", f"/shares/data/access?{query}", 200)


def share_event(kind: str, **data: Any):
    return lambda e: e["type"] == "share.event" and e["data"]["kind"] == kind and all(
        e["data"].get(k) == v for k, v in data.items())


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
    # the one explainer says what each client just experienced
    for name in (*USERS, None):
        why = await explain(client, name)
        assert why["access"] == "write" and why["protocol"] == "nfs", why
        assert why["reasons"][0] == "127.0.0.1 matches client rule 127.0.0.1: rw", why
    assert "squash root: uid 0 acts as nobody (65534)" in why["reasons"], why
    assert "no NAS account: everyone has write" in why["reasons"], why

    # a read-only level for everyone: the export is read-only
    await api_call(client, "PATCH", "/shares/data", 200, json={"access": EVERYONE_READ})
    assert await bob.read("data/by-svnalice.txt") == "from svnalice\n"
    assert not await alice.write("data/new.txt", b"new\n", tmp_path)
    assert not (folder / "new.txt").exists()
    exports = await api_call(client, "GET", "/nfs/exports", 200)
    assert [(e["share"], e["pseudo"], e["read_only"]) for e in exports] == [
        ("data", "/data", True)]

    # the explainer agrees, with and without the protocol's steps
    for name in USERS:
        why = await explain(client, name)
        assert why["access"] == "read", why
        assert why["reasons"][0] == "127.0.0.1 matches client rule 127.0.0.1: rw (the export " \
            "is read-only)", why
    acl = await api_call(client, "GET", "/shares/data/access?user=svnbob", 200)
    assert acl["access"] == "read" and acl["protocol"] is None
    outside = await explain(client, "svnalice", "10.9.9.9")
    assert outside["access"] == "none" and outside["reasons"] == [
        "10.9.9.9: no client rule matches"], outside
    for query, field in (("protocol=nfs&address=10.9.9", "address"),
                         ("protocol=webdav", "protocol"), ("address=10.9.9.9", "protocol")):
        err = await api_call(client, "GET", f"/shares/data/access?{query}", 422)
        assert err["error"]["message"].startswith(field) or \
            field in str(err["error"].get("details")), err
    smb_only = await api_call(client, "GET", "/shares/data/access?protocol=smb&user=svnbob", 200)
    assert smb_only["access"] == "none" and "not served over smb" in smb_only["reasons"][0]

    # per-user rights: the folder gets the list as mode bits (what Ganesha checks), its ACL
    # says the same; alice writes, bob reads but cannot write, carol neither, as explained
    await api_call(client, "PATCH", "/shares/data", 200, json={"access": ACCESS})
    readers = grp.getgrnam("svnreaders").gr_gid
    st = folder.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (USERS["svnalice"], readers,
                                                                0o2750)
    assert {(p.stat().st_uid, p.stat().st_gid) for p in folder.iterdir()} == {
        (USERS["svnalice"], readers)}
    why = await explain(client, "svnbob")
    assert why["acl"] == ["user::rwx", "group::r-x", "other::---"], why
    exports = await api_call(client, "GET", "/nfs/exports", 200)
    assert [e["read_only"] for e in exports] == [False]
    got, said = {}, {}
    for name in USERS:
        who = as_user(nfs_port, name)
        wrote = await who.write(f"data/per-user-{name}.txt", b"mine\n", tmp_path)
        read = await who.read("data/existing.txt") == "existing\n"
        got[name] = "write" if wrote else "read" if read else "none"
        said[name] = (await explain(client, name))["access"]
    assert got == said == {"svnalice": "write", "svnbob": "read", "svncarol": "none"}, said
    assert await bob.read("data/per-user-svnalice.txt") == "mine\n"
    made = (folder / "per-user-svnalice.txt").stat()
    assert (made.st_uid, made.st_gid) == (USERS["svnalice"], readers)
    assert not (folder / "per-user-svnbob.txt").exists()

    # a list mode bits cannot express (two writers): refused, naming what they can, unchanged
    async with client.patch("/api/v1/shares/data", json={"access": TWO_WRITERS}) as resp:
        err = await resp.json()
        assert resp.status == 409, err
    assert err["error"]["code"] == "nfs_per_user_access"
    assert err["error"]["message"].startswith("options.nfs:"), err
    assert "one user with write or full" in err["error"]["message"], err
    assert (await api_call(client, "GET", "/shares/data", 200))["access"] == [
        {**e, "name": e.get("name")} for e in ACCESS]
    now = folder.stat()
    assert (now.st_uid, now.st_gid, now.st_mode) == (st.st_uid, st.st_gid, st.st_mode)
    assert (await explain(client, "svnbob"))["acl"] == ["user::rwx", "group::r-x", "other::---"]

    # squash all to alice, the folder's owner: every request writes as her
    await api_call(client, "PATCH", "/shares/data", 200, json={
        "access": [*ACCESS, *EVERYONE_READ], "options": {"nfs": {
            **LOCAL, "squash": "all", "anon_user": "svnalice"}}})
    assert await carol.write("data/as-alice.txt", b"carol, squashed\n", tmp_path)
    assert (folder / "as-alice.txt").stat().st_uid == USERS["svnalice"]
    why = await explain(client, "svncarol")
    assert why["access"] == "write" and why["acts_as"] == "svnalice", why
    assert "squash all: every uid acts as svnalice" in why["reasons"], why
    assert "checks mode bits" in why["reasons"][-1], why


async def smbclient(port: int, user: str | None, command: str) -> bool:
    """``smbclient`` on share "data" as ``user`` (None: a guest)."""
    auth = ["-U", user] if user else ["-N"]
    res = await run(["smbclient", "//127.0.0.1/data", "-p", str(port), *auth,
                     "-c", command], env={"PASSWD": PASSWORD}, check=False, timeout=60)
    return res.returncode == 0 and "NT_STATUS_" not in res.stdout + res.stderr


async def experienced(smb_port: int, nfs_port: int, name: str | None, tmp_path: Path,
                      case: int) -> dict[str, str]:
    """What ``name`` (None: an SMB guest, NFS root) can do over each protocol: write, read or
    none, found by writing and reading a file."""
    up = tmp_path / "probe.txt"
    up.write_text("probe\n")
    tag = f"{name or 'anon'}-{case}"
    smb = "write" if await smbclient(smb_port, name, f"put {up} smb-{tag}.txt") else \
        "read" if await smbclient(smb_port, name, "ls") else "none"
    nfs_client = as_user(nfs_port, name)
    nfs = "write" if await nfs_client.write(f"data/nfs-{tag}.txt", b"probe\n", tmp_path) else \
        "read" if await nfs_client.read("data/existing.txt") is not None else "none"
    return {"smb": smb, "nfs": nfs}


async def explained(client, name: str | None) -> dict[str, dict[str, Any]]:
    out = {}
    for proto in ("smb", "nfs"):
        query = f"protocol={proto}&address=127.0.0.1" + (f"&user={name}" if name else "")
        out[proto] = await api_call(client, "GET", f"/shares/data/access?{query}", 200)
    return out


async def test_one_explainer_agrees_with_smb_and_nfs_clients(nfs_accounts, client,
                                                              share_root: Path, nfs_port: int,
                                                              smb_port: int,
                                                              tmp_path: Path) -> None:
    """For each case, the explainer's verdict per protocol is what smbclient and nfs-cp get."""
    require_tool("smbd", "smbclient")
    await setup_nas(client, {"protocols": ["smb", "nfs"]})
    cases = [
        ("everyone writes; no guests", {}, {
            "svnalice": {"smb": "write", "nfs": "write"},
            None: {"smb": "none", "nfs": "write"}}),  # nfs: root, squashed to nobody
        ("guests on, SMB encryption required", {
            "guest_ok": True, "options": {"nfs": LOCAL, "smb": {"encryption": "required"}}}, {
            "svnalice": {"smb": "write", "nfs": "write"},
            None: {"smb": "none", "nfs": "write"}}),
        ("guests on, no encryption", {
            "options": {"nfs": LOCAL, "smb": {"encryption": "off"}}}, {
            None: {"smb": "write", "nfs": "write"}}),
        ("per user: alice writes, bob reads, carol nothing", {"access": ACCESS}, {
            "svnalice": {"smb": "write", "nfs": "write"},
            "svnbob": {"smb": "read", "nfs": "read"},
            "svncarol": {"smb": "none", "nfs": "none"}}),
        ("this host denied", {"hosts_deny": ["127.0.0.1"]}, {
            "svnalice": {"smb": "none", "nfs": "none"}}),
    ]
    for case, (title, change, wants) in enumerate(cases):
        if change:
            await api_call(client, "PATCH", "/shares/data", 200, json=change)
        for name, want in wants.items():
            why = await explained(client, name)
            said = {p: v["access"] for p, v in why.items()}
            got = await experienced(smb_port, nfs_port, name, tmp_path, case)
            assert said == got == want, (title, name, said, got, why)
            if title.startswith("guests on, SMB") and name is None:
                assert "guest sessions cannot encrypt" in why["smb"]["reasons"][0], why
            if title.startswith("this host"):
                assert why["smb"]["reasons"] == [
                    "smbd refuses the connection: hosts deny 127.0.0.1 refuses 127.0.0.1 "
                    "(loopback too)"], why
                assert why["nfs"]["reasons"] == [
                    "127.0.0.1: client rule 127.0.0.1 refuses"], why


async def test_smb_and_nfs_see_the_same_files(nfs_accounts, client, share_root: Path,
                                              nfs_port: int, smb_port: int,
                                              tmp_path: Path) -> None:
    """Per-user rights (alice writes, bob reads) hold over both protocols on each other's
    files, and each file is its writer's."""
    require_tool("smbd", "smbclient")
    share = await setup_nas(client, {"protocols": ["smb", "nfs"], "access": ACCESS})
    folder = Path(share["path"])
    alice_nfs, bob_nfs = as_user(nfs_port, "svnalice"), as_user(nfs_port, "svnbob")

    # alice writes over SMB; bob reads it over NFS, and the server says it is hers
    up = tmp_path / "smb-up.txt"
    up.write_text("alice over smb\n")
    assert await smbclient(smb_port, "svnalice", f"put {up} from-smb.txt")
    assert await bob_nfs.read("data/from-smb.txt") == "alice over smb\n"
    assert (folder / "from-smb.txt").stat().st_uid == USERS["svnalice"]
    # alice writes over NFS; bob reads it over SMB, and it is hers
    assert await alice_nfs.write("data/from-nfs.txt", b"alice over nfs\n", tmp_path)
    down = tmp_path / "smb-down.txt"
    assert await smbclient(smb_port, "svnbob", f"get from-nfs.txt {down}")
    assert down.read_text() == "alice over nfs\n"
    assert (folder / "from-nfs.txt").stat().st_uid == USERS["svnalice"]
    # bob can write over neither, carol reads over neither
    assert not await bob_nfs.write("data/by-bob.txt", b"bob\n", tmp_path)
    assert not await smbclient(smb_port, "svnbob", f"put {up} by-bob.txt")
    assert not (folder / "by-bob.txt").exists()
    assert await as_user(nfs_port, "svncarol").read("data/from-smb.txt") is None
    assert not await smbclient(smb_port, "svncarol", f"get from-smb.txt {down}")


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


async def test_snapshots_browsable_read_only(nfs_accounts, client, share_root: Path,
                                             nfs_port: int, tmp_path: Path) -> None:
    share = await setup_nas(client, {"options": {"nfs": {**LOCAL, "snapshots": True}}})
    folder = Path(share["path"])
    (folder / "report.txt").write_text("before\n")
    await api_call(client, "POST", "/storage/pools/tank/volumes/vol/snapshots", 201,
                   json={"name": "before-edit"})
    (folder / "report.txt").write_text("after the edit\n")

    async def exported() -> list[str]:
        return [e["pseudo"] for e in await api_call(client, "GET", "/nfs/exports", 200)]
    assert await until(lambda: _has(exported, "/.snapshots/data/before-edit"))
    bob = as_user(nfs_port, "svnbob")
    assert await bob.read("data/report.txt") == "after the edit\n"
    assert await bob.read(".snapshots/data/before-edit/report.txt") == "before\n"
    assert await bob.ls(".snapshots/data") == ["before-edit"]
    # read-only, whatever the share allows
    assert not await bob.write(".snapshots/data/before-edit/new.txt", b"no\n", tmp_path)
    # deleting the snapshot removes its export
    await api_call(client, "DELETE", "/storage/pools/tank/volumes/vol/snapshots/before-edit",
                   204)
    assert await until(lambda: _lacks(exported, "/.snapshots/data/before-edit"))
    assert await bob.read(".snapshots/data/before-edit/report.txt") is None


async def _has(get, item) -> bool:
    return item in await get()


async def _lacks(get, item) -> bool:
    return item not in await get()


async def test_ganesha_killed_is_restarted_with_alert(nfs_accounts, client, share_root: Path,
                                                      nfs_port: int, tmp_path: Path) -> None:
    await setup_nas(client)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["alert", "share.event"]})
    alice = as_user(nfs_port, "svnalice")
    assert await alice.read("data/existing.txt") == "existing\n"
    first = (await api_call(client, "GET", "/nfs/status", 200))["pid"]
    os.kill(first, signal.SIGKILL)
    alert = await next_event(ws, "alert")
    assert alert["data"]["id"] == "nfs:ganesha" and alert["data"]["severity"] == "critical"
    assert "signal 9" in alert["data"]["message"]
    down = await next_event(ws, share_event("service_down"))
    assert down["data"]["protocol"] == "nfs"
    await next_event(ws, share_event("service_up"))
    status = await api_call(client, "GET", "/nfs/status", 200)
    assert status["running"] and status["restarts"] == 1 and status["pid"] != first

    async def served() -> bool:
        return await alice.read("data/existing.txt") == "existing\n"
    assert await until(served)

    # a client holding a connection is seen (TCP table) and reported as a share event
    _, writer = await asyncio.open_connection("127.0.0.1", nfs_port)
    try:
        connected = await next_event(ws, share_event("client_connected"))
        assert connected["data"]["remote"].startswith("127.0.0.1:")
        clients = await api_call(client, "GET", "/nfs/clients", 200)
        port = int(connected["data"]["remote"].rsplit(":", 1)[1])
        assert {"address": "127.0.0.1", "port": port} in clients["connections"]
        assert any(c["address"] == "127.0.0.1" and "Libnfs" in c["owner"]
                   for c in clients["v4_clients"]), clients
    finally:
        writer.close()
    await next_event(ws, share_event("client_disconnected"))

    # deleting the last NFS share stops Ganesha
    await api_call(client, "DELETE", "/shares/data", 204)
    await next_event(ws, share_event("service_down"))
    assert not (await api_call(client, "GET", "/nfs/status", 200))["running"]
    assert await alice.read("data/existing.txt") is None
    await ws.close()


async def test_reload_keeps_a_transfer_going(nfs_accounts, client, share_root: Path,
                                             nfs_port: int, sv_app, tmp_path: Path) -> None:
    share = await setup_nas(client)
    big = Path(share["path"]) / "big.bin"
    with open(big, "wb") as f:
        f.truncate(512 << 20)  # sparse: cheap on disk, a long read over NFS
    pid = (await api_call(client, "GET", "/nfs/status", 200))["pid"]
    alice = as_user(nfs_port, "svnalice")
    got = tmp_path / "big.copy"
    transfer = asyncio.ensure_future(alice.get("data/big.bin", got))
    await asyncio.sleep(0.3)
    assert not transfer.done()
    # a second share: a new export, re-read with SIGHUP while the copy runs
    await api_call(client, "POST", "/shares", 201, json={
        "name": "more", "pool": "tank", "volume": "vol", "subfolder": "more",
        "protocols": ["nfs"], "access": EVERYONE_READ, "options": {"nfs": LOCAL}})
    log = (sv_app.data_dir / "nfs" / "log" / "ganesha.log").read_text()
    assert "Reread exports complete" in log
    assert await transfer
    assert got.stat().st_size == 512 << 20
    status = await api_call(client, "GET", "/nfs/status", 200)
    assert status["pid"] == pid and status["exports"] == 2
    assert await alice.ls("more") == []


async def test_bad_input_names_the_field_and_changes_nothing(nfs_accounts, client, sv_app,
                                                             share_root: Path) -> None:
    await setup_nas(client)
    conf = sv_app.data_dir / "nfs" / "ganesha.conf"
    live = conf.read_text()
    body = {"pool": "tank", "volume": "vol", "protocols": ["nfs"], "access": EVERYONE_WRITE}

    async def refused(method: str, path: str, field: str, json: dict,
                      status: int | None = None) -> dict:
        async with client.request(method, f"/api/v1{path}", json=json) as resp:
            err = await resp.json()
            assert 400 <= resp.status < 500, (path, json, resp.status, err)
            assert status is None or resp.status == status, (resp.status, err)
        assert field in err["error"]["message"], (field, err)
        assert conf.read_text() == live
        return err

    for i, host in enumerate(["10.0.0.1/24", "10.0.0.0/33", "300.1.1.1", "1.2.3", "a..b",
                              "host_name", "bad host", "-lead.example", "10.0.0.0/8x", "",
                              "fe80::/129", "*.*.", "x" * 254]):
        await refused("POST", "/shares", "options.nfs: clients.1.host", {
            **body, "name": f"c{i}", "options": {"nfs": {"clients": [
                {"host": "127.0.0.1"}, {"host": host}]}}}, 422)
    await refused("POST", "/shares", "options.nfs: clients.0.access", {
        **body, "name": "acc", "options": {"nfs": {"clients": [{"host": "*", "access": "all"}]}}})
    await refused("POST", "/shares", "options.nfs: squash", {
        **body, "name": "sq", "options": {"nfs": {"squash": "everyone"}}})
    await refused("POST", "/shares", "options.nfs", {
        **body, "name": "sq2", "options": {"nfs": {"squash": "all"}}})  # no anon_user
    await refused("POST", "/shares", "options.nfs.anon_user", {
        **body, "name": "sq3", "options": {"nfs": {"squash": "all", "anon_user": "svnnobody"}}})
    await refused("POST", "/shares", "hosts_deny.0", {
        **body, "name": "hd", "hosts_deny": ["10.0.0.0/8/"]})
    # paths outside the volume
    await refused("POST", "/shares", "subfolder", {**body, "name": "esc", "subfolder": "../x"})
    os.symlink("/etc", share_root / "pools" / "tank" / "vol" / "link-out")
    await refused("POST", "/shares", "subfolder", {**body, "name": "esc",
                                                   "subfolder": "link-out/ssh"})
    await refused("POST", "/shares", "volume", {**body, "name": "nov", "volume": "novol"})
    # exports that clash: the same pseudo path, or one inside another export
    await refused("POST", "/shares", "options.nfs.pseudo", {
        **body, "name": "twin", "options": {"nfs": {"pseudo": "/data"}}}, 409)
    await refused("POST", "/shares", "options.nfs.pseudo", {
        **body, "name": "inner", "options": {"nfs": {"pseudo": "/data/inner"}}}, 409)
    await refused("POST", "/shares", "options.nfs: pseudo", {
        **body, "name": "rel", "options": {"nfs": {"pseudo": "data"}}}, 422)
    await refused("PATCH", "/shares/data", "options.nfs: clients.0.host", {
        "options": {"nfs": {"clients": [{"host": "10.1.1.1/8"}]}}}, 422)
    assert [s["name"] for s in await api_call(client, "GET", "/shares", 200)] == ["data"]
    assert (await api_call(client, "GET", "/nfs/status", 200))["exports"] == 1


HOST_IP, NS_IP = "10.213.7.1", "10.213.7.2"


@pytest.fixture
def netns() -> Any:
    """A network namespace joined to this one by a veth pair: here 10.213.7.1, there
    10.213.7.2 (a second client address). Removed afterwards."""
    require_tool("ip")
    import subprocess
    name, host_if, ns_if = f"svnfs{os.getpid() % 100000}", f"svnh{os.getpid() % 100000}", \
        f"svnp{os.getpid() % 100000}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)
    ip("netns", "add", name)
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        ip("link", "set", ns_if, "netns", name)
        ip("addr", "add", f"{HOST_IP}/24", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", name, "addr", "add", f"{NS_IP}/24", "dev", ns_if)
        ip("-n", name, "link", "set", ns_if, "up")
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.mark.parametrize("nfs_bind", [HOST_IP])
async def test_client_outside_the_rules_is_refused(nfs_accounts, netns, client,
                                                   share_root: Path, nfs_port: int,
                                                   tmp_path: Path) -> None:
    await setup_nas(client, {"options": {"nfs": {"clients": [{"host": HOST_IP}]}}})
    here = as_user(nfs_port, "svnalice", host=HOST_IP)
    there = as_user(nfs_port, "svnalice", host=HOST_IP, netns=netns)
    assert await here.read("data/existing.txt") == "existing\n"
    assert await there.read("data/existing.txt") is None
    assert not await there.write("data/from-ns.txt", b"ns\n", tmp_path)
    why = await explain(client, "svnalice", NS_IP)
    assert why["access"] == "none", why
    assert (await explain(client, "svnalice", HOST_IP))["access"] == "write"
    # the namespace's network, read-only: it reads, and cannot write
    await api_call(client, "PATCH", "/shares/data", 200, json={"options": {"nfs": {"clients": [
        {"host": HOST_IP}, {"host": "10.213.7.0/30", "access": "ro"}]}}})
    assert await there.read("data/existing.txt") == "existing\n"
    assert not await there.write("data/from-ns.txt", b"ns\n", tmp_path)
    assert await here.write("data/from-host.txt", b"host\n", tmp_path)
    why = await explain(client, "svnalice", NS_IP)
    assert why["access"] == "read" and f"{NS_IP} matches client rule 10.213.7.0/30: ro" in \
        why["reasons"], why
    # a denied host beats every rule
    await api_call(client, "PATCH", "/shares/data", 200, json={"hosts_deny": [NS_IP]})
    assert await there.read("data/existing.txt") is None
    assert (await explain(client, "svnalice", NS_IP))["reasons"] == [
        f"{NS_IP}: client rule {NS_IP} refuses"]


async def test_daemon_restart_serves_again(nfs_accounts, sv_daemon, share_root: Path) -> None:
    require_tool("ganesha.nfsd", "nfs-cat", "setfacl")
    port = free_port()
    config = f"""
[shares]
first_id = 3000
last_id = 3099
[nfs]
port = {port}
bind_addr = "127.0.0.1"
grace_period = 0
[smb]
enabled = false
[storage]
pools_root = "{share_root / 'pools'}"
monitor_interval = 0
"""
    daemon = sv_daemon(config)
    async with daemon.session() as s:
        await setup_nas(s)
        first = (await api_call(s, "GET", "/nfs/exports", 200))[0]["export_id"]
    bob = as_user(port, "svnbob")
    assert await bob.read("data/existing.txt") == "existing\n"
    assert daemon.stop() == 0
    assert await bob.read("data/existing.txt") is None  # Ganesha went with the daemon
    daemon.start()
    assert await until(lambda: _reads(bob, "data/existing.txt", "existing\n"), timeout=30)
    async with daemon.session() as s:
        status = await api_call(s, "GET", "/nfs/status", 200)
        assert status["running"] and status["restarts"] == 0 and status["exports"] == 1
        # the same export id: clients' file handles stay valid
        assert (await api_call(s, "GET", "/nfs/exports", 200))[0]["export_id"] == first
    daemon.kill()
    # a daemon killed by SIGKILL takes Ganesha with it (die_with_parent)
    assert await until(lambda: _refused(bob, "data/existing.txt"), timeout=15)


async def _reads(client, path: str, text: str) -> bool:
    return await client.read(path) == text


async def _refused(client, path: str) -> bool:
    return await client.read(path) is None


@pytest.mark.parametrize("nfs_versions", [[3, 4]])
async def test_nfsv3_brings_rpcbind(nfs_accounts, client, share_root: Path, nfs_port: int,
                                    tmp_path: Path, nfs_versions: list[int]) -> None:
    require_tool("rpcbind", "rpcinfo")
    from sigmavault_nfs.server import rpcbind_running
    if rpcbind_running():
        pytest.skip("an rpcbind runs already: this test starts and stops its own")
    await setup_nas(client)
    status = await api_call(client, "GET", "/nfs/status", 200)
    assert status["versions"] == [3, 4] and status["rpcbind"] is True
    registered = (await run(["rpcinfo", "-p", "127.0.0.1"], timeout=30)).stdout.split("\n")
    assert any(line.split()[1:] == ["3", "tcp", str(nfs_port), "nfs"] for line in registered
               if line.strip()), registered
    assert any(line.split()[-1] == "mountd" for line in registered if line.strip())
    # NFSv3 through rpcbind (MOUNT of the pseudo path), and a write bigger than libnfs's
    # NFSv4 WRITE can carry
    v3 = Nfs(nfs_port, USERS["svnalice"], pwd.getpwnam("svnalice").pw_gid, version=3)
    data = os.urandom(256 << 10)
    assert await v3.write("data/v3.bin", data, tmp_path)
    assert (Path(share_root / "pools" / "tank" / "vol" / "team" / "v3.bin")).read_bytes() == data
    assert await v3.read("data/existing.txt") == "existing\n"
    # NFSv4 still goes straight to the port
    assert await as_user(nfs_port, "svnbob").read("data/existing.txt") == "existing\n"
    # the last share gone: Ganesha stops, and so does the rpcbind the plugin started
    await api_call(client, "DELETE", "/shares/data", 204)
    assert not (await api_call(client, "GET", "/nfs/status", 200))["running"]
    assert not rpcbind_running()
