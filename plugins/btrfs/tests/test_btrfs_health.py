"""Real btrfs through the API: corrupted data on one raid1 member is found by scrub and shows in the
device error counters and pool health; pools in the raid0/raid1c3/raid10 profiles; compsize
figures of a compressed volume."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from sigmavault.testing import compressible_text, require_tool, wait_job

pytestmark = pytest.mark.root
API = "/api/v1/storage"
BLOCK = 4096
PATTERN = (b"sv-btrfs-health-corrupt-me " * 200)[:BLOCK]


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0, "smart_interval": 0, "include_loop_devices": True,
                        "scrub_poll_interval": 0.2}}


async def ok(resp, status=200):
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


async def destroy(client, name):
    resp = await client.delete(f"{API}/pools/{name}", params={"confirm": name})
    assert resp.status in (204, 404), await resp.text()


def backing_file(device: str) -> Path:
    return Path(Path(f"/sys/block/{os.path.basename(device)}/loop/backing_file").read_text().strip())


def corrupt_blocks(image: Path, limit: int) -> int:
    """Overwrite the head of up to ``limit`` 4 KiB blocks holding PATTERN in a loop image."""
    done = 0
    chunk = 1 << 20
    with open(image, "r+b") as f:
        offset = 0
        while done < limit:
            f.seek(offset)
            buf = f.read(chunk)
            if not buf:
                break
            at = buf.find(PATTERN)
            while at != -1 and done < limit:
                f.seek(offset + at)
                f.write(b"\xff" * 64)
                done += 1
                at = buf.find(PATTERN, at + BLOCK)
            offset += chunk
        f.flush()
        os.fsync(f.fileno())
    return done


async def test_scrub_finds_corruption_on_one_member(client, loop_devices):
    a, b = loop_devices(2)
    pool = await ok(await client.post(f"{API}/pools", json={
        "name": "h6rot", "backend": "btrfs", "topology": {"layout": "raid1"}, "devices": [a, b]}), 201)
    try:
        assert all(not any(d["errors"].values()) for d in pool["devices"])
        vol = await ok(await client.post(f"{API}/pools/h6rot/volumes", json={"name": "v"}), 201)
        data = Path(vol["path"]) / "pattern.bin"
        with open(data, "wb") as f:
            for _ in range(4096):   # 16 MiB of a known 4 KiB block, uncompressed (no compression)
                f.write(PATTERN)
        os.sync()
        # unmount so that nothing cached hides the damage, corrupt one mirror, mount again
        await ok(await client.patch(f"{API}/pools/h6rot", json={"options": {"mount": False}}))
        assert corrupt_blocks(backing_file(b), limit=32) == 32
        await ok(await client.patch(f"{API}/pools/h6rot", json={"options": {"mount": True}}))

        job = await ok(await client.post(f"{API}/pools/h6rot/scrub"), 202)
        done = await wait_job(client, job["id"], timeout=60)
        assert done["state"] == "SUCCESS", done
        result = done["result"]
        assert result["errors"] >= 32, result            # csum errors, repaired from the mirror
        assert result["details"]["corrected"] >= 32, result

        pool = await ok(await client.get(f"{API}/pools/h6rot"))
        by_path = {d["path"]: d for d in pool["devices"]}
        assert by_path[b]["errors"]["corruption"] >= 32, by_path
        assert by_path[a]["errors"] == {"write": 0, "read": 0, "flush": 0, "corruption": 0,
                                        "generation": 0}
        health = await ok(await client.get(f"{API}/pools/h6rot/health"))
        [warning] = [p for p in health["problems"] if p["severity"] == "warning"]
        assert warning["device"] == b and "corruption" in warning["message"]
        assert health["state"] == "online"
        assert data.read_bytes() == PATTERN * 4096    # scrub rewrote the bad copies
    finally:
        await destroy(client, "h6rot")


@pytest.mark.parametrize("layout,count,metadata", [
    ("raid0", 2, "raid1"),      # raid0 data keeps its metadata mirrored by default
    ("raid1c3", 3, "raid1c3"),
    ("raid10", 4, "raid10"),
])
async def test_pool_profiles(client, loop_devices, layout, count, metadata):
    devices = loop_devices(count, size=192 << 20)
    name = f"h6{layout}"
    pool = await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "btrfs", "topology": {"layout": layout}, "devices": devices}), 201)
    mnt = pool["mountpoint"]
    try:
        assert pool["state"] == "online" and pool["layout"] == layout
        assert pool["properties"]["metadata_layout"] == metadata
        assert pool["properties"]["profiles"] == {"data": [layout], "metadata": [metadata],
                                                  "system": [metadata]}
        assert sorted(d["path"] for d in pool["devices"]) == sorted(devices)
        # raid0 stripes: the raw space is the sum of its devices; mirrors hold data twice or
        # thrice, so what may be written (size, free) is the raw space divided by the copies,
        # less the metadata/system block groups' unused room (~20 % of these tiny devices)
        copies = {"raid0": 1, "raid1c3": 3, "raid10": 2}[layout]
        raw = pool["properties"]["raw_size"]
        assert abs(raw - count * (192 << 20)) < (1 << 20)
        assert 0.75 * raw / copies <= pool["size"] <= raw / copies, (pool["size"], raw, copies)
        assert pool["size"] == pool["used"] + pool["free"]
        vol = await ok(await client.post(f"{API}/pools/{name}/volumes", json={"name": "v"}), 201)
        (Path(vol["path"]) / "f.bin").write_bytes(os.urandom(8 << 20))
        os.sync()
        got = await ok(await client.get(f"{API}/pools/{name}"))
        assert got["used"] >= 8 << 20, got["used"]           # each byte once
        assert got["properties"]["raw_used"] >= copies * (8 << 20), (got["properties"], copies)
        rejected = await client.post(f"{API}/pools", json={
            "name": "h6few", "backend": "btrfs", "topology": {"layout": layout},
            "devices": loop_devices(count - 1, size=192 << 20)})
        assert rejected.status == 400 and (await rejected.json())["error"]["code"] == "too_few_devices"
    finally:
        await destroy(client, name)
    assert not os.path.ismount(mnt)
    free = {d["path"] for d in await ok(await client.get(f"{API}/disks", params={"available": "true"}))}
    assert set(devices) <= free


async def test_compressed_volume_reports_compsize_figures(client, loop_devices, caplog):
    require_tool("compsize")
    [dev] = loop_devices(1)
    await ok(await client.post(f"{API}/pools", json={
        "name": "h6comp", "backend": "btrfs", "topology": {"layout": "single"}, "devices": [dev]}), 201)
    try:
        vol = await ok(await client.post(f"{API}/pools/h6comp/volumes", json={
            "name": "docs", "compression": "zstd"}), 201)
        assert "compressratio" not in vol["properties"]      # no data extents yet: no figure
        plain = await ok(await client.post(f"{API}/pools/h6comp/volumes", json={"name": "raw"}), 201)
        (Path(vol["path"]) / "text.txt").write_bytes(compressible_text(16 << 20, seed=6))
        (Path(plain["path"]) / "noise.bin").write_bytes(os.urandom(4 << 20))
        os.sync()
        got = await ok(await client.get(f"{API}/pools/h6comp/volumes/docs"))
        props = got["properties"]
        assert props["uncompressed_bytes"] == props["referenced_bytes"] == 16 << 20
        assert props["compressed_bytes"] < (16 << 20) / 1.5
        ratio = float(props["compressratio"].removesuffix("x"))
        assert ratio > 1.5
        assert ratio == pytest.approx(props["uncompressed_bytes"] / props["compressed_bytes"],
                                      abs=0.01)
        listed = {v["name"]: v for v in await ok(await client.get(f"{API}/pools/h6comp/volumes"))}
        assert listed["docs"]["properties"]["compressratio"] == props["compressratio"]
        raw = listed["raw"]["properties"]
        assert raw["compressratio"] == "1.00x" and raw["compressed_bytes"] == 4 << 20

        # once a later transaction has committed, the figures of the unchanged volume are kept:
        # compsize walks it at most once more (none when a listing after the commit kept them
        # already), then not again
        (Path(plain["path"]) / "later.bin").write_bytes(os.urandom(4096))
        os.sync()
        caplog.set_level(logging.INFO, "sigmavault.commands")
        for _ in range(3):
            again = await ok(await client.get(f"{API}/pools/h6comp/volumes/docs"))
            assert again["properties"]["compressratio"] == props["compressratio"]
        walks = [r for r in caplog.records if getattr(r, "argv", [""])[0] == "compsize"
                 and r.argv[-1] == vol["path"]]
        assert len(walks) <= 1, walks
    finally:
        await destroy(client, "h6comp")
