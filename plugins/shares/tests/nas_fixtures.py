"""Real Unix accounts for tests: uids/gids 3900-3999, names starting with ``svt``; every one of
them is removed at teardown, whatever the test did. Loaded by this folder's conftest and by the
SMB plugin's (``sigmavault.testing.load_module``)."""

from __future__ import annotations

import grp
import pwd
import subprocess
from typing import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from sigmavault.testing import require_root, require_tool
from sigmavault_shares.unix_accounts import IdRange, reconcile
from sigmavault_shares.models import Group, User

TEST_IDS = IdRange(3900, 3999)
PREFIX = "svt"

Reconcile = Callable[[Sequence[User], Sequence[Group]], Awaitable[list[list[str]]]]


def sweep() -> None:
    """Remove every test account and group, managed-looking or not."""
    for p in pwd.getpwall():
        if p.pw_uid in TEST_IDS and p.pw_name.startswith(PREFIX):
            subprocess.run(["userdel", p.pw_name], capture_output=True)
    for g in grp.getgrall():
        if g.gr_gid in TEST_IDS and g.gr_name.startswith(PREFIX):
            subprocess.run(["groupdel", g.gr_name], capture_output=True)


@pytest.fixture
async def nas_accounts() -> AsyncIterator[Reconcile]:
    """``await nas_accounts(users, groups)`` reconciles the system to them (test id range)."""
    require_root()
    require_tool("useradd", "groupadd", "usermod", "userdel", "groupdel", "getent")
    sweep()

    async def apply(users: Sequence[User], groups: Sequence[Group] = ()) -> list[list[str]]:
        return await reconcile(users, groups, ids=TEST_IDS)

    try:
        yield apply
    finally:
        sweep()
