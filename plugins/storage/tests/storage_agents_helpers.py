"""Helpers for the storage agents' tests (driven through /api/v1/agents/{NAME}/task)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from sigmavault.testing import wait_job

API = "/api/v1/storage"


def others(*keep: str) -> list[str]:
    """Every installed plugin distribution except storage, agents and ``keep`` (faster, isolated)."""
    names = {ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist}
    return sorted(names - {"sigmavault-storage", "sigmavault-agents", *keep})


def overrides(tmp_path: Path, *keep: str, **extra: Any) -> dict[str, Any]:
    area = tmp_path / "area"
    area.mkdir(exist_ok=True)
    return {"plugins": {"disabled": others(*keep)},
            "storage": {"pools_root": str(tmp_path / "pools"), "monitor_interval": 0,
                        "smart_interval": 0, **extra.pop("storage", {})},
            "storage_agents": {"allowed_roots": [str(area)], "sentry_interval": 0,
                               "oracle_interval": 0, **extra.pop("storage_agents", {})},
            **extra}


async def ok(resp: Any, status: int = 200) -> Any:
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


async def task(client: Any, agent: str, params: dict[str, Any], state: str = "SUCCESS") -> dict[str, Any]:
    """Dispatch an agent task through the API and wait for it; returns the job."""
    body = await ok(await client.post(f"/api/v1/agents/{agent}/task", json={"params": params}), 202)
    job = await wait_job(client, body["id"], 60)
    assert job["state"] == state, job
    return job


async def direct(client: Any, app: Any, agent: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run the agent's function as a plain job (independent of the agents runtime)."""
    a = app.registries["agents"][agent]
    p = a.params_model.model_validate(params)
    job = app.jobs.submit(f"test.{agent}", lambda ctx: a.run(ctx, p), params=params)
    done = await wait_job(client, job.id, 60)
    assert done["state"] == "SUCCESS", done
    return done["result"]


async def pool(client: Any, name: str, body: dict[str, Any] | None = None) -> None:
    await ok(await client.post(f"{API}/pools", json=body or {"name": name, "backend": "dir"}), 201)


async def volume(client: Any, pool_: str, name: str) -> Path:
    return Path((await ok(await client.post(f"{API}/pools/{pool_}/volumes", json={"name": name}), 201))["path"])


async def snap(client: Any, pool_: str, vol: str, name: str) -> dict[str, Any]:
    return await ok(await client.post(f"{API}/pools/{pool_}/volumes/{vol}/snapshots",
                                      json={"name": name}), 201)


async def snap_names(client: Any, pool_: str, vol: str) -> set[str]:
    body = await ok(await client.get(f"{API}/pools/{pool_}/volumes/{vol}/snapshots",
                                     params={"limit": "1000"}))
    items = body["items"] if isinstance(body, dict) else body
    return {s["name"] for s in items}


def tree(root: Path) -> dict[str, bytes | str]:
    """Relative path → file bytes, symlink target or "dir" (for comparing replicas)."""
    out: dict[str, bytes | str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = f"->{p.readlink()}" if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
    return out
