"""What the daemon keeps on disk is its own: a 0700 data directory and no file that group or
others can read (the database's -wal and -shm included, which hold hashes, tokens and keys)."""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path

import aiohttp

from sigmavault.testing import ADMIN_PASSWORD, Daemon


def exposed(root: Path) -> list[str]:
    """Every path under ``root`` (itself included) with a group or other permission bit, but the
    ``dir`` backend's pools (``pools/``, 0755 on purpose: share users pass through them)."""
    found = []
    pools = root / "pools"
    for path in [root, *root.rglob("*")]:
        if path == pools or pools in path.parents:
            continue
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        if mode & 0o077 and not path.is_symlink():
            found.append(f"{path.relative_to(root.parent)} {mode:04o}")
    return found


async def exercise(daemon: Daemon) -> None:
    """Endpoints that make the daemon write: a session, a sealed key, a mesh peer, an audit export."""
    tls = ssl._create_unverified_context()
    async with daemon.session() as admin:
        async with admin.post("/api/v1/encryption/keys", ssl=tls,
                              json={"name": "private", "passphrase": "correct horse"}) as r:
            assert r.status == 201, await r.text()
        async with admin.post("/api/v1/network/phantommesh/peers", ssl=tls,
                              json={"name": "laptop"}) as r:
            assert r.status == 201, await r.text()
        async with admin.post("/api/v1/agents/CHRONICLE/task", ssl=tls,
                              json={"params": {"action": "export"}}) as r:
            assert r.status == 202, await r.text()
            job = (await r.json())["job_id"]
        for _ in range(200):
            async with admin.get(f"/api/v1/jobs/{job}", ssl=tls) as r:
                if (await r.json())["state"] in ("SUCCESS", "FAILED"):
                    break
    async with aiohttp.ClientSession(daemon.url) as browser:
        async with browser.post("/api/v1/auth/login", ssl=tls,
                                json={"username": "admin", "password": ADMIN_PASSWORD}) as r:
            assert r.status == 200, await r.text()


async def test_first_run_leaves_nothing_readable_by_others(tmp_path: Path) -> None:
    data = tmp_path / "data"
    daemon = Daemon(data, "tls_self_signed = true\n", scheme="https")
    daemon.provision()  # the first run: `sigmavault user create` makes the database
    os.chmod(data, 0o755)  # as an installer's mkdir would leave it: tightened at start
    try:
        daemon.start(60)
        await exercise(daemon)
        assert (data / "sigmavault.db-wal").exists() and (data / "tls" / "selfsigned.key").exists()
        assert exposed(data) == []
        assert "tightened to 0700" in daemon.log()
    finally:
        daemon.kill()


async def test_database_files_are_private_whatever_the_umask(sv_app, client) -> None:
    """An app built in-process (umask 022 here, not the CLI's 077): the -wal and -shm files
    take the database's 0600, which it has before SQLite writes a byte."""
    resp = await client.post("/api/v1/hello", json={"name": "wal"})
    assert resp.status == 200
    assert os.umask(os.umask(0o022)) & 0o077 != 0o077, "the test needs a permissive umask"
    db = sv_app.data_dir / "sigmavault.db"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (db, db.with_name(db.name + "-wal"),
                                                               db.with_name(db.name + "-shm"))}
    assert set(modes.values()) == {0o600}, modes
