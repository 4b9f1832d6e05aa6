"""Pools: which backend owns each pool, and creating, importing, changing and destroying them."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from sigmavault import operation
from sigmavault.backends import StorageBackend, check_device_path, not_supported, supports
from sigmavault.errors import APIError, bad_request, conflict, not_found
from sigmavault.validation import Name, check_name

from . import inventory
from .config import StorageConfig
from .models import BackendInfo, Health, Pool, PoolCreate, PoolDelete, PoolImport, PoolUpdate, StorageEvent

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.storage")

MIGRATIONS = [
    """CREATE TABLE storage_pools (
        name TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        created_at TEXT NOT NULL
    );""",
    # data protection tasks and their runs (protection.py)
    """CREATE TABLE storage_protection_tasks (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        params TEXT NOT NULL,
        schedule TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        next_run REAL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE storage_protection_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES storage_protection_tasks(id) ON DELETE CASCADE,
        trigger TEXT NOT NULL,
        state TEXT NOT NULL,
        job_id TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        result TEXT,
        error TEXT
    );
    CREATE INDEX storage_protection_runs_task ON storage_protection_runs(task_id, id);""",
]
P = "/storage/pools/{pool}"
# What every storage route may answer through the shared helpers (a pool, volume, device or
# directory a body names missing 404, a busy pool or another conflict 409, a missing tool 501, a
# command over its time 504) and its path parameters' names.
ROUTES: dict = {"errors": (404, 409, 501, 504),
                "params": {"pool": Name, "volume": Name, "snapshot": Name, "disk": Name}}


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PoolService:
    """The pools of every backend, and what the other storage services share: the backend that
    owns a pool, a lock per pool, the last seen pool states and ``storage.event``."""

    route_defaults = ROUTES

    def __init__(self, app: "SigmaVault", config: StorageConfig) -> None:
        self.app = app
        self.config = config
        self.states: dict[str, str] = {}   # last seen pool state (events on change)
        self.busy: dict[str, str] = {}     # pool -> id of the scrub job running on it
        self.forgotten: list[Callable[[str], None]] = []  # called with a pool that went away
        self._locks: dict[str, asyncio.Lock] = {}

    # --- backends --------------------------------------------------------------------------------

    @property
    def backends(self) -> dict[str, StorageBackend]:
        return self.app.registries["storage_backends"]

    def backend(self, name: str) -> StorageBackend:
        try:
            return self.backends[name]
        except KeyError:
            raise bad_request(f"unknown storage backend {name!r}; installed: "
                              f"{sorted(self.backends)}", code="unknown_backend") from None

    @staticmethod
    def need(backend: StorageBackend, capability: str, what: str | None = None) -> None:
        """400 ``not_supported`` unless ``backend`` offers ``capability``."""
        if not supports(backend, capability):
            raise not_supported(backend.name, what or capability.replace("_", " "))

    @operation("storage.backends.list", get="/storage/backends", response=list[BackendInfo],
               summary="Storage backends and their capabilities")
    async def backend_infos(self) -> list[dict[str, Any]]:
        out = []
        for name, b in sorted(self.backends.items()):
            try:
                avail = await b.available()
            except Exception as exc:  # a broken probe must not hide the other backends
                avail = {"available": False, "reason": str(exc), "version": None}
            out.append({"name": name, "description": getattr(b, "description", ""),
                        "capabilities": dict(b.capabilities), **avail})
        return out

    def publish(self, **data: Any) -> None:
        self.app.events.publish("storage.event", StorageEvent(**data))

    def lock(self, pool: str) -> asyncio.Lock:
        return self._locks.setdefault(pool, asyncio.Lock())

    # --- ownership -------------------------------------------------------------------------------

    def _owner(self, pool: str) -> str | None:
        row = self.app.db.one("SELECT backend FROM storage_pools WHERE name=?", (pool,))
        return row["backend"] if row else None

    def _record(self, pool: str, backend: str) -> None:
        self.app.db.execute("INSERT OR REPLACE INTO storage_pools(name, backend, created_at) "
                            "VALUES(?,?,?)", (pool, backend, utcnow()))

    def _forget(self, pool: str) -> None:
        self.app.db.execute("DELETE FROM storage_pools WHERE name=?", (pool,))
        self.states.pop(pool, None)
        for forget in self.forgotten:
            forget(pool)

    async def pool_backend(self, pool: str) -> StorageBackend:
        """The backend that owns ``pool`` (404 when no backend knows it)."""
        check_name(pool, "pool")
        owner = self._owner(pool)
        if owner in self.backends:
            return self.backends[owner]
        for b in self.backends.values():   # adopt pools a backend can see (mounted, imported)
            try:
                names = {p["name"] for p in await b.pool_list()}
            except Exception:  # one broken backend must not hide the others' pools
                continue
            if pool in names:
                self._record(pool, b.name)
                return b
        raise not_found("pool", pool)

    # --- pools -----------------------------------------------------------------------------------

    @operation("storage.pools.list", get="/storage/pools", response=list[Pool],
               summary="List pools of every backend")
    async def list_pools(self) -> list[Pool]:
        pools: dict[str, dict[str, Any]] = {}
        for b in self.backends.values():
            try:
                listed = await b.pool_list()
            except Exception as exc:  # one broken backend must not hide the others' pools
                log.warning("backend %s could not list pools: %s", b.name, exc)
                continue
            for p in listed:
                pools.setdefault(p["name"], p)
        owned = {r["name"]: r["backend"] for r in self.app.db.all("SELECT name, backend FROM storage_pools")}
        for name, backend in owned.items():
            if name not in pools and backend in self.backends:
                pools[name] = {"name": name, "backend": backend, "state": "unavailable",
                               "devices": [], "properties": {}}
        return [Pool.model_validate(pools[n]) for n in sorted(pools)]

    @operation("storage.pool.get", get=P, response=Pool, summary="One pool")
    async def get_pool(self, pool: str) -> Pool:
        b = await self.pool_backend(pool)
        return Pool.model_validate(await b.pool_get(name=pool))

    @operation("storage.pool.create", post="/storage/pools", body=PoolCreate, response=Pool,
               status=201, summary="Create a pool (backend, topology, devices)")
    async def create_pool(self, body: PoolCreate) -> Pool:
        b = self.backend(body.backend)
        if self._owner(body.name) is not None or any(
                p.name == body.name for p in await self.list_pools()):
            raise conflict(f"pool {body.name!r} already exists", code="pool_exists")
        avail = await b.available()
        if not avail.get("available"):
            raise APIError(409, "backend_unavailable", f"the {b.name} backend cannot run here: "
                           f"{avail.get('reason')}", {"backend": b.name})
        topology = self._topology(b, body)
        async with self.lock(body.name):
            devices = await self._disks().validate_devices(body.devices) if body.devices else []
            pool = Pool.model_validate(await b.pool_create(
                name=body.name, topology=topology, devices=devices, options=body.options))
            self._record(body.name, b.name)
        self.states[body.name] = pool.state
        self.publish(kind="pool_created", pool=body.name, new=pool.state,
                     message=f"pool {body.name} created ({b.name}, "
                             f"{topology.get('layout') or 'no layout'})")
        return pool

    @staticmethod
    def _topology(b: StorageBackend, body: PoolCreate) -> dict[str, Any]:
        """The topology to create, checked against the backend's layouts and device counts."""
        caps = b.capabilities
        topology = body.topology.model_dump()
        if not caps.get("needs_devices"):
            if body.devices:
                raise bad_request(f"the {b.name} backend takes no devices",
                                  code="devices_not_supported")
            return topology
        if not body.devices:
            raise bad_request(f"the {b.name} backend needs devices", code="devices_required")
        levels = caps.get("raid_levels") or []
        layout = topology["layout"] = body.topology.layout or (levels[0] if levels else None)
        if layout not in levels:
            raise bad_request(f"layout {layout!r} is not one of {levels}", code="bad_layout")
        meta = body.topology.metadata_layout
        if meta is not None and meta not in levels:
            raise bad_request(f"metadata layout {meta!r} is not one of {levels}", code="bad_layout")
        need = (caps.get("min_devices") or {}).get(layout, 1)
        if len(body.devices) < need:
            raise bad_request(f"layout {layout} needs at least {need} devices, got "
                              f"{len(body.devices)}", code="too_few_devices")
        return topology

    def _disks(self) -> Any:
        from .disks import DiskService  # the two services call each other
        return self.app.services[DiskService]

    @operation("storage.pool.import", post="/storage/pools/import", body=PoolImport, response=Pool,
               status=201, summary="Import (adopt, mount) an existing pool")
    async def import_pool(self, body: PoolImport) -> Pool:
        b = self.backend(body.backend)
        self.need(b, "import", "importing pools")
        if self._owner(body.name) is not None:
            raise conflict(f"pool {body.name!r} is already known", code="pool_exists")
        devices = [inventory.real(check_device_path(d)) for d in body.devices] if body.devices else None
        pool = Pool.model_validate(await b.pool_import(  # type: ignore[attr-defined]
            name=body.name, devices=devices, options=body.options))
        self._record(body.name, b.name)
        self.states[body.name] = pool.state
        self.publish(kind="pool_imported", pool=body.name, new=pool.state,
                     message=f"pool {body.name} imported ({b.name})")
        return pool

    @operation("storage.pool.export", post=P + "/export", summary="Export a pool: unmount and "
               "forget it, data kept (import brings it back)")
    async def export_pool(self, pool: str) -> None:
        """Detach ``pool`` from this machine with its data kept; importing brings it back."""
        b = await self.pool_backend(pool)
        self.need(b, "import", "exporting pools")
        self._not_busy(pool)
        async with self.lock(pool):
            await b.pool_export(name=pool)  # type: ignore[attr-defined]
            self._forget(pool)
        self.publish(kind="pool_exported", pool=pool, message=f"pool {pool} exported")

    @operation("storage.pool.update", patch=P, body=PoolUpdate, response=Pool,
               summary="Add devices or change pool options")
    async def update_pool(self, pool: str, add_devices: list[str],
                          options: dict[str, Any]) -> Pool:
        b = await self.pool_backend(pool)
        async with self.lock(pool):
            if add_devices:
                self.need(b, "device_add", "adding devices")
                devices = await self._disks().validate_devices(add_devices)
                await b.device_add(pool=pool, devices=devices)  # type: ignore[attr-defined]
            if options:
                await b.pool_update(name=pool, changes=options)
        return await self.get_pool(pool)

    @operation("storage.pool.destroy", delete=P, query=PoolDelete,
               summary="Destroy a pool and all its data (?confirm=<pool name>)")
    async def destroy_pool(self, pool: str, confirm: str) -> None:
        b = await self.pool_backend(pool)
        if confirm != pool:
            raise bad_request(f"to destroy pool {pool!r} and all its data, pass confirm={pool!r}",
                              code="confirmation_required")
        self._not_busy(pool)
        async with self.lock(pool):
            await b.pool_destroy(name=pool)
            self._forget(pool)
        self.publish(kind="pool_destroyed", pool=pool, message=f"pool {pool} destroyed")

    def _not_busy(self, pool: str) -> None:
        if pool in self.busy:
            raise conflict(f"a scrub is running on {pool}; cancel it first", code="pool_busy")

    @operation("storage.pool.health", get=P + "/health", response=Health,
               summary="Pool health: state, problems, devices")
    async def pool_health(self, pool: str) -> Health:
        b = await self.pool_backend(pool)
        health = Health.model_validate(await b.pool_health(name=pool))
        self.note_state(pool, health.state, [p.model_dump() for p in health.problems])
        return health

    def note_state(self, pool: str, state: str, problems: list[dict[str, Any]] | None = None) -> None:
        """Remember ``pool``'s state; a change is a ``pool_state`` storage event."""
        old = self.states.get(pool)
        self.states[pool] = state
        if old is not None and old != state:
            problems = problems or []
            self.publish(kind="pool_state", pool=pool, old=old, new=state,
                         message=f"pool {pool} is {state} (was {old})"
                         + (f": {problems[0]['message']}" if problems else ""),
                         details={"problems": problems})
