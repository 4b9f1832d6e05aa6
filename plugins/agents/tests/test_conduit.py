"""CONDUIT end to end with the real storage, compression and encryption plugins, then a restore."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sigmavault.testing import require

from .conftest import others
from .test_agents_files import run

NEEDED = {"sigmavault-storage", "sigmavault-compression", "sigmavault-encryption"}


@pytest.fixture
def sv_config_overrides(tmp_path: Path, area: Path) -> dict[str, Any]:
    return {"plugins": {"disabled": others(*NEEDED)},
            "agents": {"allowed_roots": [str(area)]},
            "encryption": {"scrypt_log_n": 10},
            "storage": {"pools_root": str(tmp_path / "pools"), "monitor_interval": 0, "smart_interval": 0}}


def restore(app: Any, backup: Path, codec_name: str, work: Path) -> dict[str, bytes]:
    """Undo the pipeline by hand: decrypt (registry), decompress (registry), untar."""
    codec = app.registries["codecs"][codec_name]
    with open(backup if backup.suffix != ".age" else work / "plain", "rb") as f:
        stream = codec.decompressor(f)
        data = b""
        while chunk := stream.read(1 << 20):
            data += chunk
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for m in tar.getmembers():
            if m.isreg():
                out[m.name] = tar.extractfile(m).read()
    return out


async def test_snapshot_archive_compress_encrypt_restore(client, sv_app, area: Path, tmp_path: Path) -> None:
    missing = NEEDED - {i.name for i in sv_app.plugins.list() if i.status == "loaded"}
    require(not missing, f"needs {sorted(missing)}")
    assert (await client.post("/api/v1/storage/pools", json={"name": "tank", "backend": "dir"})).status == 201
    assert (await client.post("/api/v1/storage/pools/tank/volumes", json={"name": "docs"})).status == 201
    vol = Path(await sv_app.call("storage.volume.path", pool="tank", volume="docs"))
    files = {"a.txt": b"alpha\n" * 1000, "sub/b.bin": os.urandom(50_000), "sub/deeper/c.md": b"# c\n"}
    for rel, data in files.items():
        (vol / rel).parent.mkdir(parents=True, exist_ok=True)
        (vol / rel).write_bytes(data)
    resp = await client.post("/api/v1/encryption/keys", json={"name": "backup", "passphrase": "correct horse battery"})
    assert resp.status == 201, await resp.json()
    dest = area / "backups"
    dest.mkdir()
    r = (await run(client, "CONDUIT", {"pool": "tank", "volume": "docs", "destination": {"path": str(dest)},
                                       "name": "docs-test"}))["result"]
    backup = Path(r["file"])
    assert backup == dest / "docs-test.tar.zst.age" and backup.exists()
    assert r["files"] == 3 and r["bytes_in"] == sum(map(len, files.values()))
    assert r["snapshot"] and r["encryptor"] == "age" and r["recipients"]
    assert [p.name for p in dest.iterdir()] == [backup.name]  # no temp files left
    assert backup.read_bytes().startswith(b"age-encryption.org/v1")
    (vol / "a.txt").write_bytes(b"changed after the snapshot")
    await sv_app.registries["encryptors"]["age"].decrypt_file(backup, tmp_path / "plain")
    assert restore(sv_app, backup, "zstd", tmp_path) == files
    snaps = await sv_app.call("storage.snapshot.list", pool="tank", volume="docs")
    assert r["snapshot"] in {s["name"] for s in snaps}


async def test_live_directory_gzip_without_encryption(client, sv_app, area: Path, tmp_path: Path) -> None:
    require("gzip" in sv_app.registries["codecs"], "needs the compression plugin")
    src = area / "live"
    src.mkdir()
    (src / "x.log").write_bytes(b"log line\n" * 5000)
    dest = area / "out"
    dest.mkdir()
    r = (await run(client, "CONDUIT", {"source": {"path": str(src)}, "destination": {"path": str(dest)},
                                       "codec": "gzip", "encryptor": None, "name": "live"}))["result"]
    assert r["snapshot"] is None and r["bytes_compressed"] < r["bytes_in"] / 10
    assert restore(sv_app, Path(r["file"]), "gzip", tmp_path) == {"x.log": b"log line\n" * 5000}
    resp = await client.post("/api/v1/agents/CONDUIT/task", json={"params": {
        "source": {"path": str(src)}, "destination": {"path": str(dest)}, "codec": "nope"}})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "codec_unavailable"
    resp = await client.post("/api/v1/agents/CONDUIT/task", json={"params": {"destination": {"path": str(dest)}}})
    assert resp.status == 422
