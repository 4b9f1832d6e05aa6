"""Data protection tasks through the API: snapshot tasks with retention, scrub, SMART test and
replication tasks, run now and by the scheduler loop, with their history and bad input."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sigmavault.testing import require_tool, wait_job
from sigmavault_storage.protection import ProtectionService, next_after

API = "/api/v1/storage"
TASKS = f"{API}/protection/tasks"
HERE = Path(__file__).parent


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0, "smart_interval": 0, "protection_tick": 0.1,
                        "protection_smart_poll_interval": 0.1, "scrub_poll_interval": 0.2,
                        "include_loop_devices": True}}


async def ok(resp, status=200):
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


async def error(resp, status, code=None):
    body = await resp.json()
    assert resp.status == status, (resp.status, body)
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


async def dir_volume(client, pool="tank", volume="data"):
    await ok(await client.post(f"{API}/pools", json={"name": pool, "backend": "dir"}), 201)
    return await ok(await client.post(f"{API}/pools/{pool}/volumes", json={"name": volume}), 201)


async def snapshot_names(client, pool="tank", volume="data"):
    page = await ok(await client.get(f"{API}/pools/{pool}/volumes/{volume}/snapshots",
                                     params={"sort": "name"}))
    return sorted(s["name"] for s in (page["items"] if isinstance(page, dict) else page))


async def run_now(client, task_id):
    run = await ok(await client.post(f"{TASKS}/{task_id}/run"), 202)
    assert run["state"] == "running" and run["trigger"] == "manual" and run["job_id"]
    await wait_job(client, run["job_id"])
    return run


class Clock:
    """The service's "now", moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.t = start.timestamp()

    def __call__(self) -> float:
        return self.t


async def test_snapshot_task_runs_and_prunes_only_its_own_snapshots(client, readonly_client, sv_app):
    vol = await dir_volume(client)
    (Path(vol["path"]) / "f.txt").write_text("hello")
    clock = Clock(datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc))
    sv_app.services[ProtectionService].clock = clock
    await ok(await client.post(f"{API}/pools/tank/volumes/data/snapshots",
                               json={"name": "manual-keep"}), 201)
    task = await ok(await client.post(TASKS, json={
        "kind": "snapshot", "schedule": "0 2 * * *", "name": "nightly",
        "params": {"pool": "tank", "volume": "data", "retention": {"keep_last": 2}}}), 201)
    assert task["target"] == "tank/data" and task["enabled"] and task["last_run"] is None
    assert task["params"]["naming_schema"] == "auto-%Y%m%d-%H%M"
    assert task["next_run"] == "2026-03-02T02:00:00Z"      # computed from the (fake) now
    # readonly users see tasks but cannot change or run them
    assert [t["id"] for t in await ok(await readonly_client.get(TASKS))] == [task["id"]]
    await error(await readonly_client.post(f"{TASKS}/{task['id']}/run"), 403)

    for minute in range(4):
        clock.t = datetime(2026, 3, 1, 10, minute, tzinfo=timezone.utc).timestamp()
        await run_now(client, task["id"])
    assert await snapshot_names(client) == ["auto-20260301-1002", "auto-20260301-1003",
                                            "manual-keep"]
    runs = await ok(await client.get(f"{TASKS}/{task['id']}/runs"))
    assert runs["total"] == 4 and [r["state"] for r in runs["items"]] == ["success"] * 4
    last = runs["items"][0]
    assert last["result"]["snapshot"] == "auto-20260301-1003"
    assert last["result"]["deleted"] == ["auto-20260301-1001"]
    assert last["finished_at"] and last["error"] is None
    got = await ok(await client.get(f"{TASKS}/{task['id']}"))
    assert got["last_run"]["id"] == last["id"] and got["runs"] == 4 and not got["running"]
    # the same minute again: the schema gives the same name, the run fails and says why
    run = await run_now(client, task["id"])
    [failed] = (await ok(await client.get(f"{TASKS}/{task['id']}/runs",
                                          params={"limit": 1})))["items"]
    assert failed["id"] == run["id"] and failed["state"] == "failed"
    assert "already exists" in failed["error"]
    # all-zero retention keeps everything
    await ok(await client.patch(f"{TASKS}/{task['id']}", json={
        "params": {"pool": "tank", "volume": "data", "retention": {}}}))
    clock.t += 600
    await run_now(client, task["id"])
    assert len(await snapshot_names(client)) == 4
    # deleting the task drops its history, not its snapshots
    await ok(await client.delete(f"{TASKS}/{task['id']}"), 204)
    await error(await client.get(f"{TASKS}/{task['id']}"), 404, "not_found")
    assert len(await snapshot_names(client)) == 4
    assert sv_app.db.all("SELECT * FROM storage_protection_runs") == []


async def test_the_scheduler_runs_due_tasks(client, sv_app):
    await dir_volume(client)
    service = sv_app.services[ProtectionService]
    task = await ok(await client.post(TASKS, json={
        "kind": "snapshot", "schedule": "* * * * *",
        "params": {"pool": "tank", "volume": "data", "naming_schema": "sched-%Y%m%d-%H%M%S"}}), 201)
    # next_run arithmetic: every minute, strictly after now
    now = time.time()
    nxt = datetime.fromisoformat(task["next_run"].replace("Z", "+00:00")).timestamp()
    assert now < nxt <= now + 60 and nxt % 60 == 0
    assert next_after("30 2 * * *", datetime(2026, 1, 1, 2, 30, tzinfo=timezone.utc).timestamp()) \
        == datetime(2026, 1, 2, 2, 30, tzinfo=timezone.utc).timestamp()
    # a task whose time has passed is picked up by the loop (tick 0.1 s)
    sv_app.db.execute("UPDATE storage_protection_tasks SET next_run=? WHERE id=?",
                      (time.time() - 5, task["id"]))
    deadline = time.monotonic() + 20
    while True:
        got = await ok(await client.get(f"{TASKS}/{task['id']}"))
        if got["last_run"] and got["last_run"]["state"] != "running":
            break
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.1)
    assert got["last_run"]["state"] == "success" and got["last_run"]["trigger"] == "schedule"
    assert (await snapshot_names(client))[0].startswith("sched-")
    assert datetime.fromisoformat(got["next_run"].replace("Z", "+00:00")).timestamp() > time.time()
    # disabled tasks are not run, and show no next run
    got = await ok(await client.patch(f"{TASKS}/{task['id']}", json={"enabled": False}))
    assert got["next_run"] is None and not got["enabled"]
    sv_app.db.execute("UPDATE storage_protection_tasks SET next_run=? WHERE id=?",
                      (time.time() - 5, task["id"]))
    await asyncio.sleep(0.5)
    assert (await ok(await client.get(f"{TASKS}/{task['id']}")))["runs"] == 1
    # enabling again computes the next run from now
    got = await ok(await client.patch(f"{TASKS}/{task['id']}", json={"enabled": True}))
    assert datetime.fromisoformat(got["next_run"].replace("Z", "+00:00")).timestamp() > time.time()
    assert service.run_due() == []


async def test_a_run_that_overlaps_the_previous_one_is_skipped(client, sv_app):
    await dir_volume(client)
    service = sv_app.services[ProtectionService]
    task = await ok(await client.post(TASKS, json={
        "kind": "snapshot", "schedule": "0 * * * *",
        "params": {"pool": "tank", "volume": "data", "naming_schema": "ov-%Y%m%d-%H%M%S"}}), 201)
    # hold HARBOR's lock of the pool so that the first run waits for it
    gate = asyncio.Event()

    async def holder(ctx):
        await gate.wait()
    blocker = sv_app.jobs.submit("test.hold", holder, lock="harbor:tank")
    first = await ok(await client.post(f"{TASKS}/{task['id']}/run"), 202)
    assert (await ok(await client.get(f"{TASKS}/{task['id']}")))["running"] is True
    err = await error(await client.post(f"{TASKS}/{task['id']}/run"), 409, "task_running")
    assert err["details"]["job"] == first["job_id"]
    sv_app.db.execute("UPDATE storage_protection_tasks SET next_run=? WHERE id=?",
                      (time.time() - 1, task["id"]))
    [scheduled] = service.run_due()
    assert scheduled["state"] == "skipped" and scheduled["trigger"] == "schedule"
    gate.set()
    await wait_job(client, blocker.id)
    await wait_job(client, first["job_id"])
    runs = (await ok(await client.get(f"{TASKS}/{task['id']}/runs")))["items"]
    assert [r["state"] for r in runs] == ["skipped", "skipped", "success"]
    assert "still running" in runs[0]["error"]


async def test_a_cancelled_run_is_recorded_as_aborted(client, sv_app):
    await dir_volume(client)
    task = await ok(await client.post(TASKS, json={
        "kind": "snapshot", "schedule": "0 * * * *", "params": {"pool": "tank", "volume": "data"}}), 201)
    gate = asyncio.Event()

    async def holder(ctx):
        await gate.wait()
    blocker = sv_app.jobs.submit("test.hold", holder, lock="harbor:tank")
    run = await ok(await client.post(f"{TASKS}/{task['id']}/run"), 202)
    await ok(await client.post(f"/api/v1/jobs/{run['job_id']}/cancel"), 202)
    await wait_job(client, run["job_id"])
    gate.set()
    await wait_job(client, blocker.id)
    [got] = (await ok(await client.get(f"{TASKS}/{task['id']}/runs")))["items"]
    assert got["state"] == "aborted" and got["finished_at"]


async def test_scrub_task_on_a_dir_pool_is_a_failed_run(client):
    await dir_volume(client)
    task = await ok(await client.post(TASKS, json={
        "kind": "scrub", "schedule": "0 3 * * 0", "params": {"pool": "tank"}}), 201)
    assert task["target"] == "tank"
    run = await run_now(client, task["id"])
    [got] = (await ok(await client.get(f"{TASKS}/{task['id']}/runs")))["items"]
    assert got["id"] == run["id"] and got["state"] == "failed"
    assert "does not support scrub" in got["error"]
    job = await ok(await client.get(f"/api/v1/jobs/{run['job_id']}"))
    assert job["state"] == "FAILED" and job["kind"] == "storage.protection.scrub"


async def test_scrub_task_on_btrfs(client, loop_devices):
    require_tool("mkfs.btrfs", "btrfs")
    devices = loop_devices(1, size=128 << 20)
    await ok(await client.post(f"{API}/pools", json={"name": "bt", "backend": "btrfs",
                                                     "devices": devices}), 201)
    try:
        task = await ok(await client.post(TASKS, json={
            "kind": "scrub", "schedule": "0 3 1 * *", "params": {"pool": "bt"}}), 201)
        run = await run_now(client, task["id"])
        [got] = (await ok(await client.get(f"{TASKS}/{task['id']}/runs")))["items"]
        assert got["state"] == "success", got
        scrub_job = await ok(await client.get(f"/api/v1/jobs/{got['result']['job']}"))
        assert scrub_job["kind"] == "storage.scrub" and scrub_job["state"] == "SUCCESS"
        assert got["job_id"] == run["job_id"] != scrub_job["id"]
    finally:
        await ok(await client.delete(f"{API}/pools/bt", params={"confirm": "bt"}), 204)


def _smart_fixtures() -> Path:
    for candidate in (HERE.parents[2].parent / "shared" / "fixtures" / "smartctl",
                      Path("/work/shared/fixtures/smartctl")):
        if candidate.is_dir():
            return candidate
    if os.environ.get("CI"):
        pytest.fail("shared/fixtures/smartctl is missing")
    pytest.skip("shared/fixtures/smartctl is missing")


async def test_smart_test_task(client, loop_devices, fake_smartctl, tmp_path):
    [dev] = loop_devices(1, size=16 << 20)
    folder = tmp_path / "ssd"
    shutil.copytree(_smart_fixtures() / "sata_ssd_0_issue_49", folder)
    (folder / "_-d_ata_-t_long__dev_sda").write_text(
        "smartctl 7.2 (derived)\n\n=== START OF OFFLINE IMMEDIATE AND SELF-TEST SECTION ===\n"
        'Sending command: "Execute SMART Extended self-test routine immediately in off-line mode".\n'
        'Drive command "Execute SMART Extended self-test routine immediately in off-line mode" '
        "successful.\nTesting has begun.\nPlease wait 30 minutes for test to complete.\n"
        "Test will complete after Fri Nov 27 15:40:00 2026\n")
    fake_smartctl({dev: folder})
    disk = os.path.basename(dev)
    err = await error(await client.post(TASKS, json={
        "kind": "smart_test", "schedule": "0 4 * * 6", "params": {"disk": "nosuchdisk"}}), 422,
        "unknown_disk")
    assert err["details"]["field"] == "params.disk"
    err = await error(await client.post(TASKS, json={
        "kind": "smart_test", "schedule": "0 4 * * 6", "params": {"disk": disk, "type": "erase"}}),
        422, "validation_error")
    assert err["details"]["errors"][0]["loc"] == ["body", "params", "type"]
    task = await ok(await client.post(TASKS, json={
        "kind": "smart_test", "schedule": "0 4 * * 6", "params": {"disk": disk, "type": "long"}}), 201)
    assert task["target"] == disk and task["params"] == {"disk": disk, "type": "long"}
    await run_now(client, task["id"])
    [got] = (await ok(await client.get(f"{TASKS}/{task['id']}/runs")))["items"]
    assert got["state"] == "success", got
    assert got["result"]["result"]["type"] == "long" and got["result"]["result"]["started"]


async def test_replication_task_copies_snapshots(client):
    vol = await dir_volume(client)
    (Path(vol["path"]) / "a.txt").write_text("one")
    await ok(await client.post(f"{API}/pools", json={"name": "backup", "backend": "dir"}), 201)
    await ok(await client.post(f"{API}/pools/tank/volumes/data/snapshots", json={"name": "s1"}), 201)
    task = await ok(await client.post(TASKS, json={
        "kind": "replication", "schedule": "15 * * * *",
        "params": {"pool": "tank", "volume": "data", "target_pool": "backup"}}), 201)
    assert task["target"] == "tank/data → backup/data"
    await run_now(client, task["id"])
    [got] = (await ok(await client.get(f"{TASKS}/{task['id']}/runs")))["items"]
    assert got["state"] == "success", got
    assert [s["snapshot"] for s in got["result"]["sent"]] == ["s1"]
    assert await snapshot_names(client, "backup", "data") == ["s1"]


async def test_bad_input_names_the_field(client):
    await dir_volume(client)
    base = {"kind": "snapshot", "schedule": "0 * * * *", "params": {"pool": "tank", "volume": "data"}}

    async def refused(body, status, code, field):
        err = await error(await client.post(TASKS, json=body), status, code)
        if "field" in err["details"]:
            assert err["details"]["field"] == field, err
        else:
            assert ".".join(err["details"]["errors"][0]["loc"][1:]) == field, err
        return err

    await refused({**base, "schedule": "61 * * * *"}, 422, "invalid_schedule", "schedule")
    await refused({**base, "schedule": "every day"}, 422, "invalid_schedule", "schedule")
    await refused({**base, "schedule": "0 0 * * * *"}, 422, "invalid_schedule", "schedule")
    await refused({**base, "kind": "backup"}, 422, "validation_error", "kind")
    await refused({**base, "params": {"pool": "nope", "volume": "data"}}, 422, "unknown_pool",
                  "params.pool")
    await refused({**base, "params": {"pool": "tank", "volume": "nope"}}, 422, "unknown_volume",
                  "params.volume")
    await refused({**base, "params": {"pool": "tank"}}, 422, "validation_error", "params.volume")
    await refused({**base, "params": {"pool": "tank", "volume": "data", "naming_schema": "fixed"}},
                  422, "validation_error", "params.naming_schema")
    await refused({**base, "params": {"pool": "tank", "volume": "data", "naming_schema": "a/%H"}},
                  422, "validation_error", "params.naming_schema")
    await refused({**base, "params": {"pool": "tank", "volume": "data",
                                      "retention": {"keep_last": -1}}},
                  422, "validation_error", "params.retention.keep_last")
    await refused({**base, "params": {"pool": "tank", "volume": "data", "extra": 1}},
                  422, "validation_error", "params.extra")
    await refused({"kind": "scrub", "schedule": "0 3 * * *", "params": {"pool": "../x"}},
                  422, "validation_error", "params.pool")
    await refused({"kind": "replication", "schedule": "0 3 * * *",
                   "params": {"pool": "tank", "volume": "data", "target_pool": "tank"}},
                  422, "same_volume", "params.target_pool")
    await refused({"kind": "replication", "schedule": "0 3 * * *",
                   "params": {"pool": "tank", "volume": "data", "target_pool": "gone"}},
                  422, "unknown_pool", "params.target_pool")
    assert await ok(await client.get(TASKS)) == []
    # PATCH checks the same way and changes nothing when refused
    task = await ok(await client.post(TASKS, json=base), 201)
    await error(await client.patch(f"{TASKS}/{task['id']}", json={"schedule": "x"}), 422,
                "invalid_schedule")
    await error(await client.patch(f"{TASKS}/{task['id']}", json={"kind": "scrub"}), 422)
    await error(await client.patch(f"{TASKS}/{task['id']}",
                                   json={"params": {"pool": "tank", "volume": "zz"}}), 422,
                "unknown_volume")
    assert await ok(await client.get(f"{TASKS}/{task['id']}")) == task
    await error(await client.get(f"{TASKS}/nope"), 404, "not_found")
    await error(await client.post(f"{TASKS}/nope/run"), 404, "not_found")
    # schedule preview
    prev = await ok(await client.post(f"{API}/protection/schedule",
                                      json={"schedule": " 0  2 * * * ", "count": 3}))
    assert prev["schedule"] == "0 2 * * *" and len(prev["next"]) == 3
    assert all(t.endswith("T02:00:00Z") for t in prev["next"])
    await error(await client.post(f"{API}/protection/schedule", json={"schedule": "0 25 * * *"}),
                422, "invalid_schedule")


async def test_tasks_list_by_kind_and_named_operations(client, sv_app):
    await dir_volume(client)
    await ok(await client.post(TASKS, json={"kind": "scrub", "schedule": "0 3 * * *",
                                            "params": {"pool": "tank"}}), 201)
    snap = await sv_app.call("storage.protection.task.create", body={
        "kind": "snapshot", "schedule": "0 * * * *", "params": {"pool": "tank", "volume": "data"}})
    assert [t["id"] for t in await ok(await client.get(TASKS, params={"kind": "snapshot"}))] == [snap["id"]]
    assert len(await sv_app.call("storage.protection.tasks.list")) == 2
    await error(await client.get(TASKS, params={"kind": "nope"}), 422)
