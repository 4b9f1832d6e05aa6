"""A CephFS volume is shared like any other: the smb plugin's Previous Versions test
(``plugins/smb/tests/test_previous_versions.py``) run on a pool of the session cluster — accounts
and a share made through the API, alice (write), bob (read through a group) and carol (none)
through real ``smbclient`` sessions, and the volume's CephFS snapshots as ``@GMT-`` versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from sigmavault.testing import api_call, load_module

SMB_TESTS = Path(__file__).resolve().parents[2] / "smb" / "tests"
pv = load_module(SMB_TESTS / "test_previous_versions.py", "ceph_shares_pv")
nas_accounts = load_module(SMB_TESTS.parent.parent / "shares" / "tests" / "nas_fixtures.py",
                           "ceph_shares_nas").nas_accounts
daemon_umask, smb_port = pv.daemon_umask, pv.smb_port
test_previous_versions_on_cephfs = pv.test_previous_versions


@pytest.fixture
def share_root(public_dir: Path) -> Path:
    return public_dir


@pytest.fixture
def backend(ceph_cluster: Any) -> str:
    return "ceph"


@pytest.fixture
def sv_config_overrides(ceph_cluster: Any, share_root: Path, smb_port: int) -> dict[str, Any]:
    return {"shares": {"first_id": 3900, "last_id": 3999},
            "smb": {"port": smb_port, "interfaces": ["127.0.0.1"], "sessions_poll_interval": 0,
                    "previous_versions_dir": str(share_root / "previous-versions")},
            "storage": {"monitor_interval": 0},
            "ceph": {"conf": str(ceph_cluster.conf), "keyring": str(ceph_cluster.admin_keyring),
                     "client_id": "admin", "mount_root": str(share_root / "ceph")}}


@pytest.fixture
async def pool(client: Any, daemon_umask: None) -> AsyncIterator[dict[str, Any]]:
    made = await api_call(client, "POST", "/storage/pools", 201,
                          json={"name": pv.POOL, "backend": "ceph", "options": {"size": 1}})
    try:
        yield made
    finally:
        resp = await client.delete(f"/api/v1/storage/pools/{pv.POOL}",
                                   params={"confirm": pv.POOL})
        assert resp.status == 204, await resp.text()
