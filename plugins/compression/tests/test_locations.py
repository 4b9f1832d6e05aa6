"""Issue 23: compression takes the location every plugin takes (``{pool, volume, subpath}``, the
core's ``sigmavault.locations.Location``) for ``source``/``target`` and the agents' ``output``,
besides absolute paths; through the API with the storage plugin's dir backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sigmavault.testing import require, wait_job
from svcomp_support import other_plugins

JOBS = "/api/v1/compression/jobs"


@pytest.fixture
def sv_config_overrides(tmp_path: Path, work: Path) -> dict:
    return {"plugins": {"disabled": other_plugins({"sigmavault-compression",
                                                   "sigmavault-storage"})},
            "storage": {"pools_root": str(tmp_path / "pools"), "monitor_interval": 0,
                        "smart_interval": 0},
            "compression": {"allowed_roots": [str(work)], "progress_interval": 0.05}}


@pytest.fixture
async def volume(client, sv_app) -> Path:
    """Volume tank/media (dir backend): its real root."""
    require(sv_app.has_method("storage.volume.path"), "the storage plugin is not installed")
    resp = await client.post("/api/v1/storage/pools", json={"name": "tank", "backend": "dir"})
    body = await resp.json()
    assert resp.status in (201, 202), body
    if resp.status == 202:
        assert (await wait_job(client, body["id"]))["state"] == "SUCCESS"
    resp = await client.post("/api/v1/storage/pools/tank/volumes", json={"name": "media"})
    assert resp.status == 201, await resp.json()
    return Path(os.path.realpath(await sv_app.call("storage.volume.path", pool="tank",
                                                   volume="media")))


def loc(subpath: str = "", **kw) -> dict:
    return {"pool": "tank", "volume": "media", "subpath": subpath, **kw}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


async def run(client, **body) -> dict:
    resp = await client.post(JOBS, json=body)
    job = await resp.json()
    assert resp.status == 202, job
    done = await wait_job(client, job["id"])
    assert done["state"] == "SUCCESS", done
    return done


async def refused(client, status: int, **body) -> dict:
    resp = await client.post(JOBS, json=body)
    data = await resp.json()
    assert resp.status == status, (body, data)
    return data["error"]


async def test_folder_location_to_location_target_and_back(client, volume: Path) -> None:
    album = volume / "album"
    (album / "sub").mkdir(parents=True)
    (album / "a.txt").write_text("photo notes\n" * 2000)
    (album / "sub" / "b.bin").write_bytes(os.urandom(20_000))
    (volume / "archives").mkdir()
    before = tree(album)

    done = await run(client, operation="compress", source=loc("album"),
                     target=loc("archives/album.tar.zst"), codec="zstd")
    archive = volume / "archives" / "album.tar.zst"
    assert archive.is_file() and done["result"]["payload"] == "tar"
    params = done["params"]
    assert params["source"] == loc("album") and params["target"] == loc("archives/album.tar.zst")
    assert params["source_path"] == str(album) and params["target_path"] == str(archive)

    (volume / "restored").mkdir()
    done = await run(client, operation="decompress", source=loc("archives/album.tar.zst"),
                     target=loc("restored"))
    assert done["result"]["operation"] == "extract"
    assert tree(volume / "restored" / "album") == before


async def test_default_target_stays_in_the_volume_and_is_reported_as_a_location(
        client, volume: Path) -> None:
    (volume / "docs").mkdir()
    (volume / "docs" / "report.txt").write_bytes(b"quarterly figures " * 10_000)
    done = await run(client, operation="compress", source={"pool": "tank", "volume": "media",
                                                           "subpath": "docs/report.txt"})
    assert (volume / "docs" / "report.txt.zst").is_file()
    assert done["params"]["source"] == loc("docs/report.txt")  # as given
    assert done["params"]["target"] == loc("docs/report.txt.zst")
    assert done["params"]["target_path"] == str(volume / "docs" / "report.txt.zst")

    # the whole volume has no place beside it inside the volume: a target is required
    pool_dir = volume.parent
    listing = sorted(p.name for p in pool_dir.iterdir())
    err = await refused(client, 400, operation="compress", source={"pool": "tank",
                                                                   "volume": "media"})
    assert err["code"] == "target_required" and "give a target" in err["message"], err
    assert err["details"]["field"] == "target" and "tank/media" in err["message"]
    assert sorted(p.name for p in pool_dir.iterdir()) == listing
    # nor inside the folder it archives: the refusal names the target, for the UI's picker
    err = await refused(client, 400, operation="compress", source=loc("docs"),
                        target=loc("docs/inside.tar.zst"))
    assert err["code"] == "target_inside_source" and err["details"]["field"] == "target", err
    assert not (volume / "docs" / "inside.tar.zst").exists()


async def test_escapes_unknown_pools_and_volumes_are_refused(client, volume: Path,
                                                             work: Path) -> None:
    (volume / "f.txt").write_bytes(b"x" * 100)
    err = await refused(client, 400, operation="compress", source=loc("../.."))
    assert err["code"] == "path_outside_volume" and err["details"]["field"] == "source.subpath"
    assert "source.subpath" in err["message"] and "tank/media" in err["message"]
    err = await refused(client, 400, operation="compress", source=loc("f.txt"),
                        target=loc("../../elsewhere.zst"))
    assert err["details"]["field"] == "target.subpath", err
    err = await refused(client, 400, operation="compress", source=loc("/etc/passwd"))
    assert err["code"] == "invalid_path" and err["details"]["field"] == "source.subpath"

    err = await refused(client, 404, operation="compress",
                        source={"pool": "nosuch", "volume": "media", "subpath": "f.txt"})
    assert "nosuch" in err["message"], err
    err = await refused(client, 404, operation="compress",
                        source={"pool": "tank", "volume": "nosuch", "subpath": "f.txt"})
    assert "nosuch" in err["message"] and "tank" in err["message"], err
    err = await refused(client, 404, operation="compress", source=loc("missing.txt"))
    assert "tank/media/missing.txt" in err["message"], err

    # {"path"} locations keep the allowed roots; mixing kinds is a 422
    err = await refused(client, 400, operation="compress", source={"path": "/etc/passwd"})
    assert err["code"] == "path_not_allowed" and err["details"]["field"] == "source.path"
    err = await refused(client, 422, operation="compress", source=loc("f.txt", path="/x"))
    assert "subpath" in str(err), err
    listed = await (await client.get(JOBS)).json()
    assert listed["total"] == 0


async def test_absolute_paths_still_work_and_mix_with_locations(client, volume: Path,
                                                                work: Path) -> None:
    src = work / "plain.txt"
    src.write_bytes(b"an existing API client " * 5000)
    done = await run(client, operation="compress", source=str(src))
    assert done["params"]["source"] == str(src)
    assert done["params"]["target"] == str(work / "plain.txt.zst")
    # an absolute source into a volume, and back out of it to an absolute path
    done = await run(client, operation="compress", source=str(src), target=loc("plain.txt.xz"),
                     codec="xz")
    assert (volume / "plain.txt.xz").is_file() and done["params"]["target"] == loc("plain.txt.xz")
    done = await run(client, operation="decompress", source=loc("plain.txt.xz"),
                     target=str(work / "again.txt"))
    assert (work / "again.txt").read_bytes() == src.read_bytes()
    # the same file as a {"path"} location
    done = await run(client, operation="verify", source={"path": str(work / "plain.txt.zst")})
    assert done["params"]["source"] == {"path": str(work / "plain.txt.zst")}


async def test_spark_output_as_a_location(client, sv_app, volume: Path) -> None:
    (volume / "logs").mkdir()
    for i in range(3):
        (volume / "logs" / f"{i}.log").write_bytes(f"line {i}\n".encode() * 5000)
    (volume / "packed").mkdir()
    spark = sv_app.registries["agents"]["SPARK"]
    params = spark.params_model.model_validate({**loc("logs"), "output": loc("packed"),
                                                "workers": 2})
    job = sv_app.jobs.submit("test.spark", lambda ctx: spark.run(ctx, params))
    done = await sv_app.jobs.wait(job.id, timeout=120)
    assert done.state.value == "SUCCESS", done.error
    assert sorted(p.name for p in (volume / "packed").iterdir()) == [
        "0.log.zst", "1.log.zst", "2.log.zst"]
    bad = spark.params_model.model_validate({**loc("logs"), "output": loc("../../x")})
    with pytest.raises(Exception) as caught:
        await bad.preflight(sv_app)
    assert getattr(caught.value, "details", {}).get("field") == "output.subpath"
