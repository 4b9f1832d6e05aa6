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
    err = await api_call(client, "POST", "/replication", 422, json={**base, "pool": "nope"})
    assert err["error"]["details"]["field"] == "pool"
    err = await api_call(client, "POST", "/replication", 422, json={**base, "volume": "nope"})
    assert err["error"]["details"]["field"] == "volume"
    err = await api_call(client, "POST", "/replication", 422, json=base)
    assert err["error"]["code"] == "unknown_peer" and err["error"]["details"]["field"] == "peer"
    err = await api_call(client, "POST", "/replication", 422, json={**base, "schedule": "every day"})
    assert err["error"]["code"] == "invalid_schedule"
    err = await api_call(client, "POST", "/replication", 422, json={**base, "bwlimit": 10})
    assert err["error"]["code"] == "validation_error"
    assert await api_call(client, "GET", "/replication") == []
    await api_call(client, "GET", "/replication/r-000000000000", 404)


async def test_allow_list_validation(client: Any) -> None:
    await _volume(client)
    err = await api_call(client, "POST", "/replication/targets", 422, json={"peer": "beta", "pool": "p1"})
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
