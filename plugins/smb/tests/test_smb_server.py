"""A real smbd on a loopback port with real accounts: what smbclient and smbprotocol may do
matches the access list and the explainer exactly; live changes, disabled accounts, refused
configurations, crashes, sessions and Previous Versions."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from sigmavault.errors import APIError
from sigmavault.testing import load_module, require_tool
from sigmavault_shares.acl import apply_share_acl, read_acl
from sigmavault_shares.explain import explain, guest_level, resolve_levels
from sigmavault_shares.models import Group, Share, User
from sigmavault_smb.conf import SmbShare, Snapshots
from sigmavault_smb.status import disconnect_client, smb_status

clients = load_module(Path(__file__).parent / "smb_clients.py", "smb_test_clients")
Cli, Proto = clients.Cli, clients.Proto

PASSWORDS = {"svtalice": "alice-Pw-1234", "svtbob": "bob-Pw-5678", "svtcarol": "carol-Pw-9012",
             "svtdave": "dave-Pw-3456"}
USERS = [User(name="svtalice", uid=3901), User(name="svtbob", uid=3902),
         User(name="svtcarol", uid=3903), User(name="svtdave", uid=3904, enabled=False)]
GROUPS = [Group(name="svtreaders", gid=3911, members=["svtbob"])]
DATA_ACCESS = [{"kind": "user", "name": "svtalice", "level": "write"},
               {"kind": "group", "name": "svtreaders", "level": "read"},
               {"kind": "user", "name": "svtdave", "level": "write"}]


def make_share(name: str, access: list[dict], **kw) -> Share:
    return Share.model_validate({"name": name, "pool": "p", "volume": "v", "access": access, **kw})


def smb_share(share: Share, path: Path, users=USERS, **kw) -> SmbShare:
    return SmbShare(share.name, path, resolve_levels(share, users, GROUPS),
                    everyone=guest_level(share), read_only=share.read_only,
                    guest_ok=share.guest_ok, **kw)


async def prepare(folder: Path, share: Share) -> None:
    folder.mkdir()
    (folder / "existing.txt").write_text("existing\n")
    await apply_share_acl(folder, share.access)


async def start(smb_server, nas_accounts, root: Path, shares: list[tuple[Share, Path]],
                users=USERS, **server_kw):
    require_tool("setfacl", "getfacl")
    await nas_accounts(users, GROUPS)
    for share, folder in shares:
        await prepare(folder, share)
    server = smb_server(**server_kw)
    await server.start([smb_share(s, f, users) for s, f in shares])
    await server.wait_ready()
    for u in users:
        await server.set_password(u.name, PASSWORDS[u.name])
        if not u.enabled:
            await server.set_enabled(u.name, False)
    return server


async def test_clients_match_access_list_and_explain(smb_server, nas_accounts,
                                                     share_root: Path) -> None:
    data = make_share("data", DATA_ACCESS, guest_ok=True)  # guest_ok, but everyone: none
    public = make_share("public", [{"kind": "user", "name": "svtalice", "level": "write"},
                                   {"kind": "everyone", "level": "read"}], guest_ok=True)
    server = await start(smb_server, nas_accounts, share_root,
                         [(data, share_root / "data"), (public, share_root / "public")])
    assert await server.users() == {"svtalice": True, "svtbob": True, "svtcarol": True,
                                    "svtdave": False}
    local = share_root / "local.txt"
    local.write_text("from a client\n")
    port = server.settings.port
    expected_access = {"data": {"svtalice": "write", "svtbob": "read", "svtcarol": "none",
                                "svtdave": "none", None: "none"},
                       "public": {"svtalice": "write", "svtbob": "read", "svtcarol": "read",
                                  "svtdave": "none", None: "read"}}
    for share, folder in ((data, share_root / "data"), (public, share_root / "public")):
        acl = await read_acl(folder)
        for user in [*USERS, None]:
            name = user.name if user else None
            verdict = explain(share, user, GROUPS, acl)
            assert verdict["access"] == expected_access[share.name][name], (share.name, name)
            want = clients.expected_abilities(verdict["access"])
            tag = f"{share.name}-{name or 'guest'}"
            cli = Cli(port, name, PASSWORDS.get(name or "", ""))
            got = await clients.cli_abilities(cli, share.name, tag, local)
            assert got == want, (share.name, name, verdict, got)
            if user is not None:  # smbprotocol signs; a guest session cannot
                proto = Proto(port, name, PASSWORDS[name])
                try:
                    got = await clients.proto_abilities(proto, share.name, tag)
                finally:
                    proto.close()
                assert got == want, ("smbprotocol", share.name, name, verdict, got)
    # a disabled account cannot even log in; enabled again (account, Samba, rules) it can
    ok, out = await Cli(port, "svtdave", PASSWORDS["svtdave"]).run("public", "ls")
    assert not ok and "NT_STATUS_ACCOUNT_DISABLED" in out, out
    enabled = [*USERS[:3], USERS[3].model_copy(update={"enabled": True})]
    await nas_accounts(enabled, GROUPS)
    await server.set_enabled("svtdave", True)
    await server.configure([smb_share(data, share_root / "data", enabled),
                            smb_share(public, share_root / "public", enabled)])
    assert await Cli(port, "svtdave", PASSWORDS["svtdave"]).ok("public", "ls")
    assert await Cli(port, "svtdave", PASSWORDS["svtdave"]).ok("data", "mkdir dave-again")
    ok, out = await Cli(port, "svtalice", "wrong-password").run("public", "ls")
    assert not ok and "NT_STATUS_LOGON_FAILURE" in out


async def test_inheritance_and_live_change_keep_sessions(smb_server, nas_accounts,
                                                        share_root: Path) -> None:
    data = make_share("data", DATA_ACCESS)
    folder = share_root / "data"
    server = await start(smb_server, nas_accounts, share_root, [(data, folder)])
    port = server.settings.port
    alice = Proto(port, "svtalice", PASSWORDS["svtalice"])
    bob = Proto(port, "svtbob", PASSWORDS["svtbob"])
    try:
        assert await alice.mkdir("data", "made")
        assert await alice.write("data", r"made\by-alice.txt", b"alice wrote this\n")
        # inherited default ACL: bob reads what alice made, cannot change it
        assert await bob.read("data", r"made\by-alice.txt") == b"alice wrote this\n"
        assert not await bob.write("data", r"made\by-alice.txt", b"bob was here\n")
        (before,) = [s for s in (await smb_status(server.config_path)).sessions
                     if s.username == "svtalice"]

        changed = make_share("data", [DATA_ACCESS[0], {**DATA_ACCESS[1], "level": "write"},
                                      DATA_ACCESS[2]])
        await apply_share_acl(folder, changed.access)
        await server.configure([smb_share(changed, folder)])
        assert explain(changed, USERS[1], GROUPS, await read_acl(folder))["access"] == "write"

        bob2 = Proto(port, "svtbob", PASSWORDS["svtbob"])
        try:
            assert await bob2.write("data", r"made\by-alice.txt", b"bob was here\n")
        finally:
            bob2.close()
        # alice's session survived the reload and still works
        assert await alice.read("data", r"made\by-alice.txt") == b"bob was here\n"
        assert await alice.write("data", "after-reload.txt", b"still here\n")
        after = [s for s in (await smb_status(server.config_path)).sessions
                 if s.username == "svtalice"]
        assert [s.session_id for s in after] == [before.session_id]
        assert after[0].pid == before.pid

        # disconnecting alice's client ends its sessions (bob's too: smbprotocol gives both
        # connections one client GUID, so smbd serves them in one process); smbd carries on
        ended = await disconnect_client(server.config_path, before.session_id)
        assert {s.username for s in ended} == {"svtalice", "svtbob"}
        for _ in range(100):
            if not (await smb_status(server.config_path)).sessions:
                break
            await asyncio.sleep(0.05)
        assert (await smb_status(server.config_path)).sessions == []
        with pytest.raises(APIError):
            await disconnect_client(server.config_path, before.session_id)
        assert await Cli(port, "svtbob", PASSWORDS["svtbob"]).ok("data", "ls")
    finally:
        alice.close()
        bob.close()


async def test_refused_config_never_goes_live_and_crash_restarts(smb_server, nas_accounts,
                                                                 share_root: Path) -> None:
    exits: list[int | None] = []
    restarts: list[int] = []
    data = make_share("data", DATA_ACCESS)
    folder = share_root / "data"
    server = await start(smb_server, nas_accounts, share_root, [(data, folder)],
                         on_exit=exits.append, on_restart=restarts.append)
    cli = Cli(server.settings.port, "svtalice", PASSWORDS["svtalice"])
    live = server.config_path.read_text()
    with pytest.raises(APIError) as err:
        await server.configure([smb_share(data, folder, extra={"read only": "maybe"})])
    assert err.value.status == 422
    assert server.config_path.read_text() == live
    assert await cli.ok("data", "ls")

    first = server.pid
    os.kill(first, signal.SIGKILL)
    async with asyncio.timeout(10):
        while not restarts:
            await asyncio.sleep(0.02)
    second = await server.supervisor.wait_running()
    assert second != first and exits == [-signal.SIGKILL] and restarts == [1]
    await server.wait_ready()
    assert await cli.ok("data", f"get existing.txt {share_root / 'after-crash.txt'}")
    assert (share_root / "after-crash.txt").read_text() == "existing\n"


async def test_previous_versions_from_dir_snapshots(smb_server, nas_accounts,
                                                    share_root: Path) -> None:
    # the dir backend's layout: <pool>/<volume>/ and <pool>/.snapshots/<volume>/<snapshot>/;
    # scheduled snapshots are named "<prefix>-%Y%m%d-%H%M%S" in UTC
    pool = share_root / "pool"
    volume = pool / "vol"
    volume.mkdir(parents=True)
    snaps = pool / ".snapshots" / "vol"
    for name, text in (("auto-20260101-120000", "january\n"), ("auto-20260301-083000", "march\n"),
                       ("before-upgrade", "not a time\n")):
        (snaps / name / "docs").mkdir(parents=True)
        (snaps / name / "docs" / "report.txt").write_text(text)
    os.chmod(pool, 0o755)
    docs = make_share("docs", [{"kind": "user", "name": "svtalice", "level": "write"}])
    folder = volume / "docs"
    await nas_accounts(USERS, GROUPS)
    # snapshots are read-only copies (the dir backend removes write permission)
    await apply_share_acl(snaps, [a.model_copy(update={"level": "read"}) for a in docs.access])
    await prepare(folder, docs)
    (folder / "report.txt").write_text("now\n")
    server = smb_server()
    await server.start([smb_share(docs, folder, snapshots=Snapshots(
        snapdir=snaps, basedir=volume, format="%Y%m%d-%H%M%S", prefix="^auto$"))])
    await server.wait_ready()
    await server.set_password("svtalice", PASSWORDS["svtalice"])
    cli = Cli(server.settings.port, "svtalice", PASSWORDS["svtalice"])

    ok, out = await cli.run("docs", "allinfo report.txt")
    assert ok, out
    versions = [ln.strip() for ln in out.splitlines() if ln.startswith("@GMT-")]
    assert versions == ["@GMT-2026.03.01-08.30.00", "@GMT-2026.01.01-12.00.00"]
    for version, text in (("@GMT-2026.01.01-12.00.00", "january\n"),
                          ("@GMT-2026.03.01-08.30.00", "march\n")):
        got = share_root / f"{version}.txt"
        assert await cli.ok("docs", f"get {version}/report.txt {got}")
        assert got.read_text() == text
    # Previous Versions stay as they were
    assert not await cli.ok("docs", f"put {got} @GMT-2026.01.01-12.00.00/report.txt")
    assert (snaps / "auto-20260101-120000" / "docs" / "report.txt").read_text() == "january\n"


async def test_hosts_allow_and_recycle(smb_server, nas_accounts, share_root: Path) -> None:
    data = make_share("data", DATA_ACCESS)
    closed = make_share("closed", DATA_ACCESS)
    denied = make_share("denied", DATA_ACCESS)
    server = await start(smb_server, nas_accounts, share_root, [
        (data, share_root / "data"), (closed, share_root / "closed"),
        (denied, share_root / "denied")])
    await server.configure([smb_share(data, share_root / "data", recycle=True),
                            smb_share(closed, share_root / "closed", hosts_allow=["10.0.0.0/8"]),
                            smb_share(denied, share_root / "denied", hosts_deny=["127.0.0.1"])])
    cli = Cli(server.settings.port, "svtalice", PASSWORDS["svtalice"])
    assert await cli.ok("data", "ls")
    assert await cli.ok("closed", "ls")  # Samba always lets localhost in unless denied
    assert not await cli.ok("denied", "ls")
    assert await cli.ok("data", "del existing.txt")
    kept = share_root / "data" / ".recycle" / "svtalice" / "existing.txt"
    assert kept.read_text() == "existing\n"
