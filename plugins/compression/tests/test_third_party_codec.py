"""A codec from another plugin plugs into the registry, the API and the engine."""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sigmavault.app import SigmaVault
from sigmavault.config import Config
from sigmavault.plugins import PluginManager
from sigmavault.testing import wait_job

from svcomp_support import other_plugins
from svcomp_zlib_codec import ZlibCodecPlugin


@pytest.fixture
async def zlib_client(tmp_path: Path):
    pm = PluginManager(disabled=other_plugins())
    assert pm.register(ZlibCodecPlugin(), "test-zlib-codec")
    work = tmp_path / "work"
    work.mkdir()
    app = await SigmaVault.create(Config.model_validate(
        {"data_dir": tmp_path / "data", "compression": {"allowed_roots": [str(work)]}}), plugins=pm)
    app.auth.create_user("admin", "admin-test-password", "admin")
    key, _ = app.auth.create_key("admin", "tests")
    server = TestServer(app.web, host="127.0.0.1")
    client = TestClient(server, headers={"Authorization": f"Bearer {key}"})
    await client.start_server()
    try:
        yield client, work
    finally:
        await client.close()


async def test_third_party_codec_round_trip_through_jobs(zlib_client) -> None:
    client, work = zlib_client
    codecs = await (await client.get("/api/v1/compression/codecs")).json()
    zlib_info = next(c for c in codecs if c["name"] == "zlib")
    assert zlib_info["plugin"] == "test-zlib-codec" and zlib_info["extension"] == ".zz"
    assert zlib_info["levels"] == {"min": 1, "max": 9, "default": 6}

    src = work / "notes.txt"
    src.write_bytes(b"third party codecs plug in\n" * 20000 + os.urandom(3000))
    resp = await client.post("/api/v1/compression/jobs",
                             json={"operation": "compress", "source": str(src), "codec": "zlib",
                                   "level": 9})
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "SUCCESS", job
    archive = work / "notes.txt.zz"
    assert zlib.decompress(archive.read_bytes()) == src.read_bytes()  # a real zlib stream

    resp = await client.post("/api/v1/compression/jobs",
                             json={"operation": "recompress", "source": str(archive),
                                   "codec": "zstd", "replace_source": True})
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "SUCCESS" and job["result"]["original_codec"] == "zlib", job
    assert not archive.exists()

    resp = await client.post("/api/v1/compression/jobs",
                             json={"operation": "decompress", "source": str(work / "notes.txt.zst"),
                                   "target": str(work / "back.txt")})
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "SUCCESS", job
    assert hashlib.sha256((work / "back.txt").read_bytes()).digest() == \
        hashlib.sha256(src.read_bytes()).digest()

    stats = await (await client.get("/api/v1/compression/stats")).json()
    assert "zlib" in stats["available_codecs"]
    assert [c["codec"] for c in stats["codecs"]] == ["zlib", "zstd"]


async def test_third_party_truncation_is_a_failed_job(zlib_client) -> None:
    client, work = zlib_client
    archive = work / "cut.zz"
    archive.write_bytes(zlib.compress(os.urandom(50000) * 2, 6)[:-20])
    resp = await client.post("/api/v1/compression/jobs",
                             json={"operation": "verify", "source": str(archive), "codec": "zlib"})
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "FAILED"
    assert "zlib: corrupt or truncated archive" in job["error"], job["error"]
