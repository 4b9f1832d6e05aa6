"""Agent LATTICE: profile → recommendations (pure), and a real run on a ZFS dataset, directly
and through the agents API."""

from __future__ import annotations

import importlib.util
import os
import uuid

import pytest

from sigmavault.commands import run
from sigmavault.testing import wait_job
from sigmavault_zfs.agents.lattice import LatticeParams, profile_tree, recommend

API = "/api/v1/storage"


@pytest.fixture
def sv_config_overrides(tmp_path):
    return {"storage": {"monitor_interval": 0, "include_loop_devices": True},
            "zfs": {"mount_root": str(tmp_path / "zfsmnt")}}


def test_recommendations_follow_the_profile(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "app.sqlite").write_bytes(os.urandom(3 << 20))
    (tmp_path / "notes.txt").write_text("words and words\n" * 1000)
    prof = profile_tree(str(tmp_path), max_files=100, sample_files=8)
    assert prof["files"] == 2 and prof["database_bytes_fraction"] > 0.9
    recs = recommend(prof, {"recordsize": 131072, "compression": None, "atime": "on"}, openzfs=False)
    assert recs["recordsize"]["value"] == 16384 and recs["atime"]["value"] == "off"

    media = {"files": 3, "bytes": 3 << 30, "large_file_bytes_fraction": 1.0,
             "database_bytes_fraction": 0.0, "sampled_compress_ratio": 1.0}
    assert recommend(media, {}, openzfs=True)["recordsize"]["value"] == 1 << 20
    assert recommend(media, {}, openzfs=False)["recordsize"]["value"] == 128 << 10
    assert recommend(media, {}, openzfs=False)["compression"]["value"] == "off"
    assert recommend(media, {}, openzfs=True)["compression"]["value"] == "lz4"
    text = {**media, "large_file_bytes_fraction": 0.1, "sampled_compress_ratio": 4.0}
    assert recommend(text, {}, openzfs=True)["compression"]["value"] == "zstd"
    assert recommend(text, {}, openzfs=False)["compression"]["value"] == "gzip-1"
    assert recommend(text, {}, openzfs=False)["recordsize"]["value"] == 128 << 10


async def _pool_with_media(client, loop_devices) -> tuple[str, str]:
    devs = await loop_devices(1)
    name = f"svtl{uuid.uuid4().hex[:6]}"
    r = await client.post(f"{API}/pools", json={"name": name, "backend": "zfs",
                                                "topology": {"layout": "stripe"}, "devices": devs})
    assert r.status == 201, await r.text()
    vol = await (await client.post(f"{API}/pools/{name}/volumes", json={"name": "media"})).json()
    for i in range(3):
        with open(os.path.join(vol["path"], f"clip{i}.bin"), "wb") as f:
            f.write(os.urandom(2 << 20))
    return name, vol["path"]


async def test_lattice_runs_directly_and_applies(sv_app, client, loop_devices):
    name, _ = await _pool_with_media(client, loop_devices)
    agent = sv_app.registries["agents"]["LATTICE"]
    assert agent.tier == "storage" and agent.specialty == "ZFS tuning advisor"
    params = LatticeParams(pool=name, volume="media", apply=True)
    job = sv_app.jobs.submit("agent.LATTICE", lambda ctx: agent.run(ctx, params),
                             params=params.model_dump(), description="LATTICE test")
    done = await wait_job(client, job.id, timeout=60)
    assert done["state"] == "SUCCESS", done
    [vol] = done["result"]["volumes"]
    assert vol["profile"]["files"] == 3 and vol["profile"]["large_file_bytes_fraction"] == 1.0
    assert vol["profile"]["sampled_compress_ratio"] < 1.05       # random bytes
    recs = vol["recommendations"]
    assert recs["atime"]["value"] == "off" and recs["recordsize"]["value"] in (128 << 10, 1 << 20)
    assert vol["applied"]["atime"] == "off"
    got = await run(["zfs", "get", "-Hp", "-o", "value", "atime", f"{name}/media"])
    assert got.stdout.strip() == "off"                           # really set on the dataset


async def test_lattice_through_the_agents_api(sv_app, client, loop_devices):
    if importlib.util.find_spec("sigmavault_agents") is None:
        pytest.skip("the agents plugin (its /api/v1/agents API) is not installed")
    name, _ = await _pool_with_media(client, loop_devices)
    r = await client.post("/api/v1/agents/LATTICE/task", json={"params": {"pool": name}})
    assert r.status == 202, await r.text()
    task = await r.json()
    done = await wait_job(client, task["job_id"], timeout=60)
    assert done["state"] == "SUCCESS", done
    assert [v["volume"] for v in done["result"]["volumes"]] == ["media"]
    assert done["result"]["applied"] is False
    got = await run(["zfs", "get", "-Hp", "-o", "value", "atime", f"{name}/media"])
    assert got.stdout.strip() == "on"                            # advice only
    r = await client.post("/api/v1/agents/LATTICE/task", json={"params": {"pool": "nosuchpool"}})
    if r.status == 202:
        failed = await wait_job(client, (await r.json())["job_id"], timeout=30)
        assert failed["state"] == "FAILED" and "nosuchpool" in str(failed)
    else:
        assert r.status in (400, 404)
