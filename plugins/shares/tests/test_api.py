"""NAS accounts and shares through the HTTP API: the database is the source of truth and the
system (Unix accounts, folder ACLs) follows it, also after a restart."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path
from typing import Any

import pytest

from sigmavault.app import SigmaVault
from sigmavault.config import Config
from sigmavault.testing import api_call, require_tool

PASSWORD = "Correct-Horse-42"


@pytest.fixture
def sv_config_overrides(public_dir: Path) -> dict[str, Any]:
    require_tool("setfacl", "getfacl")
    return {"shares": {"first_id": 3900, "last_id": 3999},
            "storage": {"pools_root": str(public_dir), "monitor_interval": 0}}


def groups_of(user: str) -> list[str]:
    return sorted(g.gr_name for g in grp.getgrall() if user in g.gr_mem)


async def test_accounts_follow_the_database(nas_accounts, client) -> None:
    await api_call(client, "POST", "/shares/groups", 201, json={"name": "svtstaff"})
    alice = await api_call(client, "POST", "/shares/users", 201, json={
        "name": "svtalice", "password": PASSWORD, "full_name": "Alice L", "groups": ["svtstaff"]})
    assert alice == {"name": "svtalice", "uid": alice["uid"], "full_name": "Alice L",
                     "groups": ["svtstaff"], "enabled": True}
    entry = pwd.getpwnam("svtalice")
    assert entry.pw_uid == alice["uid"] and 3900 <= entry.pw_uid <= 3999
    assert entry.pw_gecos == "Alice L,,,,sigmavault" and entry.pw_shell == "/usr/sbin/nologin"
    assert groups_of("svtalice") == ["svtstaff"]
    bob = await api_call(client, "POST", "/shares/users", 201,
                         json={"name": "svtbob", "password": PASSWORD, "uid": 3950})
    assert bob["uid"] == 3950
    group = await api_call(client, "PATCH", "/shares/groups/svtstaff", 200,
                           json={"members": ["svtalice", "svtbob"]})
    assert group["members"] == ["svtalice", "svtbob"]
    assert groups_of("svtbob") == ["svtstaff"]
    assert (await api_call(client, "GET", "/shares/users/svtbob", 200))["groups"] == ["svtstaff"]
    await api_call(client, "PATCH", "/shares/users/svtbob", 200, json={"groups": []})
    assert groups_of("svtbob") == []
    # ids are not reused, names are unique across users and groups
    err = await api_call(client, "POST", "/shares/users", 409,
                         json={"name": "svtcarol", "password": PASSWORD, "uid": 3950})
    assert err["error"]["message"].startswith("uid:")
    err = await api_call(client, "POST", "/shares/users", 409,
                         json={"name": "svtstaff", "password": PASSWORD})
    assert err["error"]["message"].startswith("name:")
    err = await api_call(client, "POST", "/shares/users", 422,
                         json={"name": "svtcarol", "password": PASSWORD, "uid": 4000})
    assert err["error"]["message"].startswith("uid:")
    await api_call(client, "DELETE", "/shares/users/svtbob", 204)
    with pytest.raises(KeyError):
        pwd.getpwnam("svtbob")
    await api_call(client, "GET", "/shares/users/svtbob", 404)
    await api_call(client, "DELETE", "/shares/groups/svtstaff", 204)
    assert groups_of("svtalice") == []
    with pytest.raises(KeyError):
        grp.getgrnam("svtstaff")


async def test_share_acl_explainer_and_restart(nas_accounts, sv_app, client, tmp_path: Path,
                                               public_dir: Path) -> None:
    await api_call(client, "POST", "/shares/groups", 201, json={"name": "svtreaders"})
    for name, groups in (("svtalice", []), ("svtbob", ["svtreaders"])):
        await api_call(client, "POST", "/shares/users", 201,
                       json={"name": name, "password": PASSWORD, "groups": groups})
    await api_call(client, "POST", "/storage/pools", 201, json={"name": "tank"})
    await api_call(client, "POST", "/storage/pools/tank/volumes", 201, json={"name": "vol"})
    share = await api_call(client, "POST", "/shares", 201, json={
        "name": "Docs", "pool": "tank", "volume": "vol", "subfolder": "a/b", "protocols": [],
        "access": [{"kind": "user", "name": "svtalice", "level": "write"},
                   {"kind": "group", "name": "svtreaders", "level": "read"}]})
    folder = public_dir / "tank" / "vol" / "a" / "b"
    assert share["path"] == str(folder) and folder.is_dir()
    acl = await api_call(client, "GET", "/shares/docs/access?user=svtbob", 200)
    assert acl["access"] == "read" and acl["reasons"][0] == "via group svtreaders: read"
    assert "group:svtreaders:r-x" in acl["acl"] and "user:svtalice:rwx" in acl["acl"]
    assert (await api_call(client, "GET", "/shares/docs/access", 200))["access"] == "none"
    await api_call(client, "GET", "/shares/docs/access?user=svtnobody", 404)
    await api_call(client, "PATCH", "/shares/docs", 200, json={"read_only": True})
    alice = await api_call(client, "GET", "/shares/docs/access?user=svtalice", 200)
    assert alice["access"] == "read" and "share is read-only" in alice["reasons"]
    err = await api_call(client, "DELETE", "/shares/groups/svtreaders", 409)
    assert err["error"]["code"] == "account_in_use"

    # the database is the source of truth: an account removed behind our back comes back when
    # the daemon starts again, and nothing is duplicated
    os.system("userdel svtbob")
    uids = {p.pw_name: p.pw_uid for p in pwd.getpwall() if p.pw_name.startswith("svt")}
    assert uids.keys() == {"svtalice"}
    again = await SigmaVault.create(Config.model_validate({
        "data_dir": sv_app.data_dir, "shares": {"first_id": 3900, "last_id": 3999},
        "storage": {"pools_root": str(public_dir), "monitor_interval": 0}}))
    await again.services.start()
    try:
        names = sorted(p.pw_name for p in pwd.getpwall() if p.pw_name.startswith("svt"))
        assert names == ["svtalice", "svtbob"]
        assert groups_of("svtbob") == ["svtreaders"]
    finally:
        await again.services.stop()
        again.db.close()
    await api_call(client, "DELETE", "/shares/docs", 204)
    assert folder.is_dir()  # the files stay
    assert await api_call(client, "GET", "/shares", 200) == []
