"""The replication API in one daemon: task and allow-list validation, node endpoints refusing
unsigned callers, the scheduler's bookkeeping. Two nodes over a real mesh are in
tests/integration/test_replication_mesh.py."""

from __future__ import annotations

from typing import Any

import pytest

from sigmavault.testing import api_call


async def _volume(client: Any, pool: str = "p1", volume: str = "docs") -> None:
    await api_call(client, "POST", "/storage/pools", 201, json={"name": pool, "backend": "dir"})
    await api_call(client, "POST", f"/storage/pools/{pool}/volumes", 201, json={"name": volume})


async def test_task_validation_names_the_field(client: Any) -> None:
    await _volume(client)
    base = {"pool": "p1", "volume": "docs", "peer": "beta", "target_pool": "backup"}
    err = await api_call(client, "POST", "/replication", 404, json={**base, "pool": "nope"})
    assert err["error"]["details"]["field"] == "pool"
    err = await api_call(client, "POST", "/replication", 404, json={**base, "volume": "nope"})
    assert err["error"]["details"]["field"] == "volume"
    err = await api_call(client, "POST", "/replication", 404, json=base)
    assert err["error"]["code"] == "unknown_peer" and err["error"]["details"]["field"] == "peer"
    err = await api_call(client, "POST", "/replication", 422, json={**base, "schedule": "every day"})
    assert err["error"]["code"] == "invalid_schedule"
    err = await api_call(client, "POST", "/replication", 422, json={**base, "bwlimit": 10})
    assert err["error"]["code"] == "validation_error"
    assert await api_call(client, "GET", "/replication") == []
    await api_call(client, "GET", "/replication/r-000000000000", 404)


async def test_allow_list_validation(client: Any) -> None:
    await _volume(client)
    err = await api_call(client, "POST", "/replication/targets", 404, json={"peer": "beta", "pool": "p1"})
    assert err["error"]["details"]["field"] == "peer"
    assert await api_call(client, "GET", "/replication/targets") == []
    await api_call(client, "DELETE", "/replication/targets/beta/p1", 404)
    assert await api_call(client, "GET", "/replication/replicas") == []


async def test_node_endpoints_refuse_unsigned_and_readonly_cannot_change(client: Any,
                                                                       readonly_client: Any) -> None:
    await _volume(client)
    for method, path, body in (("POST", "/replication/node/hello", {"pool": "p1"}),
                               ("POST", "/replication/node/inventory", {"pool": "p1", "volume": "docs"}),
                               ("POST", "/replication/node/uploads", {
                                   "pool": "p1", "volume": "docs", "kind": "stream", "key": "k1",
                                   "size": 1, "sha256": "0" * 64})):
        err = await api_call(readonly_client, method, path, 401, json=body)
        assert err["error"]["code"] == "unsigned"
    await api_call(readonly_client, "POST", "/replication/targets", 403, json={"peer": "b", "pool": "p1"})
    await api_call(readonly_client, "GET", "/replication/targets", 200)


async def test_fleet_without_peers_is_empty(client: Any) -> None:
    assert await api_call(client, "GET", "/replication/fleet") == []


def test_sealed_retention_keeps_the_chains_of_kept_snapshots() -> None:
    from sigmavault_replication.transfer import sealed_retention

    def row(name: str, base: str | None, t: int) -> dict:
        return {"snapshot": name, "base": base, "created": t}
    # full a, incrementals b c; full d, incremental e
    cat = [row("a", None, 1), row("b", "a", 2), row("c", "b", 3), row("d", None, 4), row("e", "d", 5)]
    assert [r["snapshot"] for r in sealed_retention(cat, 2)] == ["a", "b", "c"]
    assert sealed_retention(cat, 3) == []            # c is kept, and needs b and a
    assert sealed_retention(cat, 0) == []
    chain = [row("a", None, 1), row("b", "a", 2), row("c", "b", 3)]
    assert sealed_retention(chain, 1) == []          # c needs b needs a


async def test_scheduler_starts_due_runs_and_skips_overlaps(sv_app: Any, client: Any) -> None:
    from sigmavault_replication.service import ReplicationService
    await _volume(client)
    svc = sv_app.services[ReplicationService]
    sv_app.db.execute(
        "INSERT INTO replication_tasks(id, name, pool, volume, peer, target_pool, target_volume, "
        "schedule, enabled, match, take_snapshot, retention, bwlimit, encrypt, pad, recipients, created, "
        "next_run) VALUES('r-0123456789ab','','p1','docs','beta','backup','docs','*/5 * * * *',1,'*',0,"
        "'{\"keep_last\": 0}',NULL,0,0,'[]',0,?)", (svc.clock() - 1,))
    svc.tick()
    runs = await api_call(client, "GET", "/replication/r-0123456789ab/runs")
    assert runs[0]["trigger"] == "schedule" and runs[0]["job_id"]
    task = await api_call(client, "GET", "/replication/r-0123456789ab")
    assert task["next_run"] > svc.clock()
    # a run that fails (no such mesh peer here) is recorded failed with its code
    from sigmavault.testing import wait_job
    await wait_job(client, runs[0]["job_id"], 30)
    runs = await api_call(client, "GET", "/replication/r-0123456789ab/runs")
    assert runs[0]["state"] == "failed" and runs[0]["error"], runs[0]
    # overlapping: a scheduled run while one is active is recorded skipped
    svc.active["r-0123456789ab"] = "run-x"
    sv_app.db.execute("UPDATE replication_tasks SET next_run=? WHERE id='r-0123456789ab'", (svc.clock() - 1,))
    svc.tick()
    runs = await api_call(client, "GET", "/replication/r-0123456789ab/runs")
    assert runs[0]["state"] == "skipped"
    await api_call(client, "POST", "/replication/r-0123456789ab/run", 409)
    svc.active.clear()
    await api_call(client, "PATCH", "/replication/r-0123456789ab", 200, json={"enabled": False})
    assert (await api_call(client, "GET", "/replication/r-0123456789ab"))["next_run"] is None
    await api_call(client, "DELETE", "/replication/r-0123456789ab")
    await api_call(client, "GET", "/replication/r-0123456789ab", 404)


def test_padme_and_padding_round_trip(tmp_path: Any) -> None:
    import os
    from sigmavault_replication.transfer import pad_file, padme, unpad_file
    assert [padme(n) for n in (0, 1, 2, 9, 1000, 1 << 20, (1 << 20) + 1)] == \
        [0, 1, 2, 10, 1024, 1 << 20, (1 << 20) + (1 << 15)]
    for n in (3, 65_537, 10_000_019):
        assert n <= padme(n) <= n * 1.12 + 1
    for size in (0, 5, 123_457):
        src = tmp_path / f"s{size}.stream"
        data = os.urandom(size)
        src.write_bytes(data)
        padded = pad_file(src)
        assert padded.stat().st_size == padme(size + 16) and not src.exists()
        unpad_file(padded)
        assert padded.read_bytes() == data
