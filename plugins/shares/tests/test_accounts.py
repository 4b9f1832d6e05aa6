"""Unix accounts reconciled from NAS users and groups: created, changed, disabled, removed,
idempotent, and never touching an account SigmaVault does not manage."""

from __future__ import annotations

import grp
import pwd
import subprocess

import pytest

from sigmavault.errors import APIError
from sigmavault_shares.models import Group, User


def shadow_expiry(name: str) -> str:
    return subprocess.run(["getent", "shadow", name], capture_output=True, text=True,
                          check=True).stdout.split(":")[7]


def supplementary(name: str) -> set[str]:
    return {g.gr_name for g in grp.getgrall() if name in g.gr_mem}


async def test_reconcile_creates_changes_and_removes(nas_accounts) -> None:
    users = [User(name="svtalice", uid=3901, full_name="Alice Liddell"),
             User(name="svtbob", uid=3902, groups=["svtreaders"])]
    groups = [Group(name="svtreaders", gid=3911), Group(name="svtstaff", gid=3912,
                                                        members=["svtalice"])]
    done = await nas_accounts(users, groups)
    assert [a[0] for a in done] == ["groupadd", "groupadd", "useradd", "useradd"]
    alice = pwd.getpwnam("svtalice")
    assert (alice.pw_uid, alice.pw_gid, alice.pw_shell, alice.pw_dir) == \
        (3901, grp.getgrnam("users").gr_gid, "/usr/sbin/nologin", "/nonexistent")
    assert alice.pw_gecos == "Alice Liddell,,,,sigmavault"
    assert supplementary("svtalice") == {"svtstaff"}
    assert supplementary("svtbob") == {"svtreaders"}
    assert grp.getgrnam("svtreaders").gr_gid == 3911

    assert await nas_accounts(users, groups) == []  # idempotent

    users = [User(name="svtalice", uid=3901, full_name="Alice L.", enabled=False,
                  groups=["svtreaders"])]
    groups = [Group(name="svtreaders", gid=3913)]
    done = await nas_accounts(users, groups)
    assert ["userdel", "svtbob"] in done and ["groupdel", "svtstaff"] in done
    assert ["groupmod", "--gid", "3913", "svtreaders"] in done
    assert ["usermod", "--expiredate", "1", "svtalice"] in done
    assert shadow_expiry("svtalice") != ""
    assert supplementary("svtalice") == {"svtreaders"}
    assert pwd.getpwnam("svtalice").pw_gecos.startswith("Alice L.,")
    with pytest.raises(KeyError):
        pwd.getpwnam("svtbob")
    assert await nas_accounts(users, groups) == []

    users[0] = users[0].model_copy(update={"enabled": True})
    assert await nas_accounts(users, groups) == [["usermod", "--expiredate", "", "svtalice"]]
    assert shadow_expiry("svtalice") == ""

    await nas_accounts([], [])
    with pytest.raises(KeyError):
        pwd.getpwnam("svtalice")
    with pytest.raises(KeyError):
        grp.getgrnam("svtreaders")


async def test_foreign_accounts_are_refused_and_left_alone(nas_accounts) -> None:
    # an account in the range without our mark: not ours, so neither removed nor taken over
    subprocess.run(["useradd", "--no-create-home", "--uid", "3950", "--no-user-group",
                    "svtforeign"], check=True)
    assert await nas_accounts([], []) == []
    assert pwd.getpwnam("svtforeign").pw_uid == 3950
    for users in ([User(name="svtforeign", uid=3951)], [User(name="svtnew", uid=3950)],
                  [User(name="root", uid=3952)]):
        with pytest.raises(APIError) as err:
            await nas_accounts(users, [])
        assert err.value.status == 409
    with pytest.raises(APIError):
        await nas_accounts([], [Group(name="users", gid=3960)])
    with pytest.raises(KeyError):
        pwd.getpwnam("svtnew")  # nothing changed before the refusal


async def test_unknown_groups_and_members_are_refused(nas_accounts) -> None:
    for users, groups in (([User(name="svtalice", uid=3901, groups=["svtghost"])], []),
                          ([], [Group(name="svtstaff", gid=3911, members=["svtghost"])])):
        with pytest.raises(APIError) as err:
            await nas_accounts(users, groups)
        assert err.value.status == 400
    with pytest.raises(KeyError):
        grp.getgrnam("svtstaff")
