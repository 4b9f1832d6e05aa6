"""One access list applied as POSIX ACLs on a real folder; the kernel, the ACL read back and the
explainer agree for every user."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from sigmavault.commands import run
from sigmavault.testing import require_tool
from sigmavault_shares.acl import acl_spec, apply_share_acl, effective_level, read_acl
from sigmavault_shares.explain import explain, list_level, memberships
from sigmavault_shares.models import Group, Share, User

USERS = [User(name="svtalice", uid=3901), User(name="svtbob", uid=3902),
         User(name="svtcarol", uid=3903), User(name="svtdave", uid=3904)]
GROUPS = [Group(name="svtreaders", gid=3911, members=["svtbob", "svtdave"])]
ACCESS = [{"kind": "user", "name": "svtalice", "level": "write"},
          {"kind": "group", "name": "svtreaders", "level": "read"},
          {"kind": "user", "name": "svtdave", "level": "none"}]
EXPECTED = {"svtalice": "write", "svtbob": "read", "svtcarol": "none", "svtdave": "none"}


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder every test account can reach (pytest's tmp_path is under a 0700 directory)."""
    root = Path(tempfile.mkdtemp(prefix="svt-acl-"))
    os.chmod(root, 0o755)
    share = root / "share"
    share.mkdir()
    try:
        yield share
    finally:
        shutil.rmtree(root)


async def as_user(user: User, *argv: str) -> bool:
    """Run ``argv`` with ``user``'s uid and groups; whether it succeeded."""
    res = await run(["setpriv", f"--reuid={user.uid}", "--regid=users", "--init-groups", "--",
                     *argv], check=False, timeout=30)
    return res.ok


def test_spec() -> None:
    share = Share(name="s", pool="p", volume="v", access=ACCESS + [
        {"kind": "everyone", "level": "read"}])
    assert acl_spec(share.access) == ("u::rwX,g::r-X,o::r-X,u:svtalice:rwX,g:svtreaders:r-X,"
                                      "u:svtdave:---,m::rwX")


async def test_acl_matches_list_and_kernel(nas_accounts, folder: Path) -> None:
    require_tool("setfacl", "getfacl", "setpriv")
    await nas_accounts(USERS, GROUPS)
    (folder / "old.txt").write_text("before\n")
    (folder / "sub").mkdir()
    share = Share(name="s", pool="p", volume="v", access=ACCESS)
    await apply_share_acl(folder, share.access)

    top = await read_acl(folder)
    assert [e.tag for e in top.default] == [e.tag for e in top.access]  # defaults on directories
    assert (await read_acl(folder / "sub")).default == top.default
    assert (await read_acl(folder / "old.txt")).default == []
    for user in USERS:
        groups = memberships(user, GROUPS)
        want = EXPECTED[user.name]
        assert list_level(share, user.name, groups)[0] == want
        assert effective_level(top, user.name, groups) == want
        assert explain(share, user, GROUPS, top)["access"] == want
        assert await as_user(user, "ls", os.fspath(folder)) == (want != "none"), user.name
        assert await as_user(user, "cat", os.fspath(folder / "old.txt")) == (want != "none")
        assert await as_user(user, "touch", os.fspath(folder / f"{user.name}.new")) == \
            (want == "write"), user.name

    # a file alice creates inherits the default ACL: bob reads it, cannot change it
    alice, bob, carol = USERS[:3]
    assert await as_user(alice, "mkdir", os.fspath(folder / "sub" / "deeper"))
    assert await as_user(alice, "cp", os.fspath(folder / "old.txt"),
                         os.fspath(folder / "sub" / "deeper" / "made-by-alice.txt"))
    made = folder / "sub" / "deeper" / "made-by-alice.txt"
    assert await as_user(bob, "cat", os.fspath(made))
    assert not await as_user(bob, "truncate", "-s", "0", os.fspath(made))
    assert not await as_user(carol, "cat", os.fspath(made))

    # the list changes: bob may write, existing files included
    share = share.model_copy(update={"access": [*share.access[:1], share.access[1].model_copy(
        update={"level": "write"}), share.access[2]]})
    await apply_share_acl(folder, share.access)
    assert await as_user(bob, "truncate", "-s", "0", os.fspath(made))
    assert explain(share, bob, GROUPS, await read_acl(folder))["access"] == "write"
