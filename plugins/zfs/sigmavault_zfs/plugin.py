"""Hook implementations of the zfs plugin (entry point ``sigmavault: zfs``)."""

from __future__ import annotations

import logging
import os
from typing import Any

from aiohttp import web

from sigmavault import hookimpl
from sigmavault.errors import APIError, bad_request, conflict
from sigmavault.hookspecs import Agent
from sigmavault.jobs import Job
from sigmavault.validation import check_name

from . import api, daemon
from .backend import ZfsBackend, check_device, check_pool_name
from .cli import ZfsCli
from .config import ZfsConfig
from .lattice import LatticeParams, run_lattice

log = logging.getLogger("sigmavault.zfs")
_DAEMONS: dict[int, daemon.DaemonHandle] = {}


def backend_of(app: Any) -> ZfsBackend:
    """The zfs backend registered for ``app``."""
    backend = app.registries["storage_backends"].get("zfs")
    if not isinstance(backend, ZfsBackend):
        raise APIError(503, "backend_unavailable", "the zfs backend is not registered")
    return backend


@hookimpl
def register_config(register: Any) -> None:
    register("zfs", ZfsConfig)


@hookimpl
def register_storage_backends(register: Any) -> None:
    register(ZfsBackend())


@hookimpl
def register_agents(register: Any) -> None:
    register(Agent(
        name="LATTICE", tier="storage", specialty="ZFS tuning advisor", params_model=LatticeParams,
        run=run_lattice, concurrency=1, timeout=3600.0,
        description="profile a dataset's files (size histogram, database files, sampled "
                    "compressibility) and recommend recordsize, compression and atime; "
                    "apply=true sets them",
        lock=lambda p: f"zfs-tune:{p.pool}", tags=["zfs", "storage", "tuning"]))


@hookimpl
async def startup(app: Any) -> None:
    cfg: ZfsConfig = app.config.section("zfs")
    backend = app.registries["storage_backends"].get("zfs")
    if not isinstance(backend, ZfsBackend):
        return
    backend.cli = ZfsCli(cfg.zpool, cfg.zfs, cfg.command_timeout)
    backend.mount_root = cfg.mount_root
    if cfg.start_daemon:
        try:
            handle = await daemon.ensure_running(str(app.data_dir / "zfs-fuse.pid"))
            _DAEMONS[id(app)] = handle
        except (RuntimeError, APIError) as exc:
            log.warning("zfs-fuse daemon not started: %s", exc)

    def on_change(pool: str, data: dict[str, Any]) -> None:
        if "storage.event" not in app.events.types:
            return
        try:
            app.events.publish("storage.event", _storage_event(pool, data))
        except Exception:
            log.exception("could not publish storage.event for pool %s", pool)

    backend.on_change = on_change


def _storage_event(pool: str, data: dict[str, Any]) -> dict[str, Any]:
    """A ``storage.event`` (kind ``pool_state``) for a state change or moved error counters."""
    bad = [d for d in data["devices"] if d["read"] or d["write"] or d["checksum"]]
    counters = "; ".join(f"{d['device']}: {d['read']} read, {d['write']} write, "
                         f"{d['checksum']} checksum errors" for d in data["devices"])
    if data["state"] != data["previous_state"]:
        message = f"pool {pool} is {data['zfs_state']} (was {data['previous_state']})"
        if counters:
            message += f"; {counters}"
    else:
        message = f"pool {pool}: {counters}" if bad else f"pool {pool}: error counters cleared"
        scan = data.get("scan") or {}
        if bad and scan.get("function") == "scrub" and scan.get("state") == "finished" \
                and not scan.get("errors"):
            message += " (repaired by scrub)"
    return {"kind": "pool_state", "pool": pool, "old": data["previous_state"],
            "new": data["state"], "disk": bad[0]["device"] if bad else None,
            "message": message, "details": {"backend": "zfs", **data}}


@hookimpl
async def shutdown(app: Any) -> None:
    handle = _DAEMONS.pop(id(app), None)
    if handle is not None:
        await daemon.stop(handle)


async def _unused_device(backend: ZfsBackend, path: str) -> str:
    check_device(path)
    for pool in await backend.pool_list():
        if any(d["path"] == path for d in pool["devices"]):
            raise conflict(f"{path} is already used by pool {pool['name']}", code="device_in_use")
    return path


@hookimpl
def register_routes(app: Any) -> None:
    tags = ["zfs"]

    def pool_name(pool: str) -> str:
        return check_pool_name(check_name(pool, "pool"))

    @app.api.get("/zfs/status", response=api.Generation, tags=tags)
    async def zfs_status(request: web.Request) -> dict[str, Any]:
        """Which ZFS CLI is installed (OpenZFS 2.x or zfs-fuse), and whether it answers."""
        backend = backend_of(app)
        info = await backend.available()
        try:
            gen = await backend.cli.generation()
        except APIError:
            return info
        return {**info, "cli": gen.name, "parsable": gen.parsable, "json_output": gen.json,
                "diff": gen.diff}

    @app.api.get("/zfs/importable", response=list[api.Importable], query=api.ImportableQuery,
                 tags=tags)
    async def importable(request: web.Request, query: api.ImportableQuery) -> list[dict]:
        """Exported pools whose members are in a directory (``zpool import -d``)."""
        if not os.path.isabs(query.dir) or ".." in query.dir or not os.path.isdir(query.dir):
            raise bad_request("dir must be an existing absolute directory", field="dir")
        return await backend_of(app).importable(dirs=[query.dir])

    @app.api.get("/zfs/pools/{pool}/status", response=api.PoolStatus, tags=tags)
    async def pool_status(request: web.Request, pool: str) -> dict[str, Any]:
        """Vdev tree (data, log, cache, spare) with read/write/checksum counters and scan state."""
        return api.pool_status(await backend_of(app).pool_get(name=pool_name(pool)))

    @app.api.post("/zfs/pools/{pool}/devices", body=api.AddBody, response=api.PoolStatus,
                  status=200, tags=tags)
    async def add_devices(request: web.Request, pool: str, body: api.AddBody) -> dict[str, Any]:
        """Add a data vdev of the pool's layout, or log/cache/spare devices."""
        backend = backend_of(app)
        for dev in body.devices:
            await _unused_device(backend, dev)
        result = await backend.device_add(pool=pool_name(pool), devices=body.devices, role=body.role)
        app.audit("zfs.device.add", pool, details={"devices": body.devices, "role": body.role})
        return api.pool_status(result)

    @app.api.post("/zfs/pools/{pool}/attach", body=api.AttachBody, response=Job, status=202,
                  tags=tags)
    async def attach(request: web.Request, pool: str, body: api.AttachBody) -> Any:
        """Mirror a device onto a new one; a job that ends when the resilver is done."""
        backend = backend_of(app)
        name = pool_name(pool)
        await _unused_device(backend, body.new)
        await backend._find_leaf(name, body.device)

        async def run(ctx: Any) -> dict[str, Any]:
            result = await backend.device_attach(
                pool=name, device=body.device, new=body.new,
                progress=lambda pct, desc: ctx.progress(percent=pct, description=desc))
            return api.pool_status(result)

        app.audit("zfs.device.attach", name, details={"device": body.device, "new": body.new})
        return app.jobs.submit("zfs.attach", run, params={"pool": name, **body.model_dump()},
                               lock=f"pool:{name}", description=f"attach {body.new} to {name}")

    for verb in ("detach", "offline", "online"):
        _device_route(app, verb, pool_name, tags)

    @app.api.post("/zfs/pools/{pool}/clear", body=api.ClearBody, response=api.PoolStatus,
                  status=200, tags=tags)
    async def clear(request: web.Request, pool: str, body: api.ClearBody) -> dict[str, Any]:
        """Reset read/write/checksum error counters (``zpool clear``)."""
        result = await backend_of(app).pool_clear(pool=pool_name(pool), device=body.device)
        app.audit("zfs.pool.clear", pool, details={"device": body.device})
        return api.pool_status(result)

    @app.api.get("/zfs/pools/{pool}/volumes/{volume}/properties", response=api.VolumeProperties,
                 tags=tags)
    async def get_props(request: web.Request, pool: str, volume: str) -> dict[str, Any]:
        """Dataset properties: quota, compression and compressratio, recordsize, atime, readonly."""
        vol = await backend_of(app).volume_get(pool=pool_name(pool), name=check_name(volume, "volume"))
        return _props(vol)

    @app.api.patch("/zfs/pools/{pool}/volumes/{volume}/properties", body=api.VolumePropertiesPatch,
                   response=api.VolumeProperties, tags=tags)
    async def patch_props(request: web.Request, pool: str, volume: str,
                          body: api.VolumePropertiesPatch) -> dict[str, Any]:
        """Change dataset properties; all or nothing."""
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise bad_request("nothing to change")
        if "quota" in changes and changes["quota"] == 0:
            changes["quota"] = None
        vol = await backend_of(app).volume_update(pool=pool_name(pool),
                                                  name=check_name(volume, "volume"), changes=changes)
        app.audit("zfs.volume.properties", f"{pool}/{volume}", details=changes)
        return _props(vol)

    base = "/zfs/pools/{pool}/volumes/{volume}/snapshots/{snapshot}/holds"

    @app.api.post(base, body=api.HoldBody, response=api.SnapshotHolds, status=200, tags=tags)
    async def hold(request: web.Request, pool: str, volume: str, snapshot: str,
                   body: api.HoldBody) -> dict[str, Any]:
        """Hold a snapshot (``zfs hold``): it cannot be deleted until every hold is released."""
        snap = await backend_of(app).snapshot_hold(
            pool=pool_name(pool), volume=check_name(volume, "volume"),
            name=check_name(snapshot, "snapshot"), tag=body.tag)
        app.audit("zfs.snapshot.hold", f"{pool}/{volume}@{snapshot}", details={"tag": body.tag})
        return {"snapshot": snap["properties"]["dataset"], "holds": snap["properties"]["holds"]}

    @app.api.delete(base + "/{tag}", response=api.SnapshotHolds, tags=tags)
    async def release(request: web.Request, pool: str, volume: str, snapshot: str,
                      tag: str) -> dict[str, Any]:
        """Release a hold (``zfs release``)."""
        snap = await backend_of(app).snapshot_release(
            pool=pool_name(pool), volume=check_name(volume, "volume"),
            name=check_name(snapshot, "snapshot"), tag=check_name(tag, "tag"))
        app.audit("zfs.snapshot.release", f"{pool}/{volume}@{snapshot}", details={"tag": tag})
        return {"snapshot": snap["properties"]["dataset"], "holds": snap["properties"]["holds"]}


def _device_route(app: Any, verb: str, pool_name: Any, tags: list[str]) -> None:
    body_model = api.OfflineBody if verb == "offline" else api.DeviceBody

    @app.api.post(f"/zfs/pools/{{pool}}/{verb}", body=body_model, response=api.PoolStatus,
                  status=200, tags=tags, summary=f"zpool {verb} a device")
    async def handler(request: web.Request, pool: str, body: Any) -> dict[str, Any]:
        backend = backend_of(app)
        name = pool_name(pool)
        if verb == "detach":
            result = await backend.device_detach(pool=name, device=body.device)
        elif verb == "offline":
            result = await backend.device_offline(pool=name, device=body.device,
                                                  temporary=body.temporary)
        else:
            result = await backend.device_online(pool=name, device=body.device)
        app.audit(f"zfs.device.{verb}", name, details=body.model_dump())
        return api.pool_status(result)


def _props(vol: dict[str, Any]) -> dict[str, Any]:
    p = vol["properties"]
    return {"dataset": p["dataset"], "quota": vol["quota"], "compression": vol["compression"] or "off",
            "compressratio": p["compressratio"], "recordsize": p["recordsize"], "atime": p["atime"],
            "readonly": p["readonly"], "used": vol["used"], "referenced": p["referenced"],
            "available": p["available"], "usedbysnapshots": p["usedbysnapshots"],
            "mountpoint": vol["path"], "origin": vol["origin"], "sources": p["sources"]}
