"""Fixtures of the SMB tests: real accounts (the shares plugin's fixture), a folder every test
account can reach, and real smbd servers on free loopback ports."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Callable

import pytest

from sigmavault.testing import free_port, load_module, require_root, require_tool
from sigmavault_smb.conf import GlobalSettings
from sigmavault_smb.server import SmbServer

HERE = Path(__file__).parent
nas_accounts = load_module(HERE.parent.parent / "shares" / "tests" / "nas_fixtures.py",
                           "smb_nas_fixtures").nas_accounts


@pytest.fixture
def share_root(public_dir: Path) -> Path:
    return public_dir


@pytest.fixture
async def smb_server(tmp_path: Path) -> AsyncIterator[Callable[..., SmbServer]]:
    """``smb_server(**server_kwargs)`` → an SmbServer on a free loopback port (not started)."""
    require_root()
    require_tool("smbd", "smbcontrol", "smbpasswd", "pdbedit", "testparm", "smbstatus",
                 "smbclient")
    servers: list[SmbServer] = []

    def make(**kw) -> SmbServer:
        settings = GlobalSettings(data_dir=tmp_path / f"samba{len(servers)}", port=free_port(),
                                  interfaces=["127.0.0.1"], server_string="SigmaVault test")
        server = SmbServer(settings, backoff_initial=0.05, **kw)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for s in servers:
            await s.stop()
