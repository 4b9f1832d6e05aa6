"""Fixtures of the NFS tests: real NAS accounts (uids 3000-3099, names starting with ``svn``,
removed at teardown whatever the test did) and a folder every test account can reach."""

from __future__ import annotations

import grp
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sigmavault.testing import require_root, require_tool

FIRST, LAST, PREFIX = 3000, 3099, "svn"


def sweep() -> None:
    for p in pwd.getpwall():
        if FIRST <= p.pw_uid <= LAST and p.pw_name.startswith(PREFIX):
            subprocess.run(["userdel", p.pw_name], check=False, capture_output=True)
    for g in grp.getgrall():
        if FIRST <= g.gr_gid <= LAST and g.gr_name.startswith(PREFIX):
            subprocess.run(["groupdel", g.gr_name], check=False, capture_output=True)


@pytest.fixture
def nfs_accounts() -> Iterator[None]:
    """NAS accounts made by the tests through the API are swept away afterwards."""
    require_root()
    require_tool("useradd", "userdel", "groupdel", "setfacl", "getfacl")
    sweep()
    try:
        yield
    finally:
        sweep()


@pytest.fixture
def share_root(public_dir: Path) -> Path:
    return public_dir
