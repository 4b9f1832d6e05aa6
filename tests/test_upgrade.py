"""A database written by the release before issue 26 (tests/fixtures/upgrade) is upgraded by the
current daemon's migrations: the old admin signs in, the old API key works, the data is there."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path

import aiohttp

from sigmavault.testing import ADMIN_PASSWORD

FIXTURE = Path(__file__).parent / "fixtures" / "upgrade"


def test_the_previous_release_database_is_upgraded(sv_daemon, tmp_path):
    expected = json.loads((FIXTURE / "expected.json").read_text())
    d = sv_daemon(config=f'[storage]\npools_root = "{tmp_path / "pools"}"\n', name="upgraded",
                  start=False)
    shutil.copy(FIXTURE / "sigmavault-c8023c1.db", d.data_dir / "sigmavault.db")
    d.admin_key = expected["admin_key"]  # the old release's key; no new user or key is made
    d.start(timeout=60)

    async def check() -> None:
        async with aiohttp.ClientSession(d.url) as anon:
            async with anon.post("/api/v1/auth/login", json={"username": "admin",
                                                              "password": ADMIN_PASSWORD}) as r:
                assert r.status == 200, await r.text()
        async with d.session() as s:
            async def get(path: str) -> dict:
                async with s.get(f"/api/v1{path}") as r:
                    body = await r.json()
                    assert r.status == 200, (path, body)
                    return body
            assert (await get("/auth/me"))["username"] == "admin"
            plugins = {p["name"] for p in await get("/plugins") if p["status"] == "loaded"}
            if "sigmavault-storage" in plugins:
                pools = await get("/storage/pools")
                assert expected["pool"] in [p["name"] for p in pools]
            if "sigmavault-agents" in plugins:
                schedules = await get("/agents/schedules")
                assert expected["schedule"] in [s["name"] for s in schedules]
            verify = await get("/audit/verify")
            assert verify["ok"], verify
    asyncio.run(check())
    assert d.stop() == 0

    # every namespace the old release wrote is at this release's version or above, none went back
    conn = sqlite3.connect(d.data_dir / "sigmavault.db")
    versions = dict(conn.execute("SELECT namespace, version FROM schema_versions").fetchall())
    conn.close()
    for namespace, old in expected["schema_versions"].items():
        assert versions[namespace] >= old, namespace
    assert any(versions[ns] > old for ns, old in expected["schema_versions"].items()), \
        "no migration ran: the fixture is not older than this release"
