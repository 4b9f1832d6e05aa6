"""Disks: the inventory with what uses each disk, the devices a pool may take, and SMART."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import stat
from typing import TYPE_CHECKING, Any

from sigmavault import operation
from sigmavault.backends import check_device_path
from sigmavault.errors import APIError, bad_request, conflict, not_found
from sigmavault.validation import check_name

from . import inventory, smart
from .models import Disk, DiskQuery, SmartReport, SmartTestStart
from .pools import PoolService, ROUTES

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault
    from sigmavault.jobs import Job, JobContext

D = "/storage/disks/{disk}"
log = logging.getLogger("sigmavault.storage")


def describe_use(in_use_by: dict[str, Any] | None) -> str:
    if not in_use_by:
        return "unknown"
    if in_use_by.get("description"):
        return str(in_use_by["description"])
    if in_use_by.get("kind") == "pool":
        return f"by pool {in_use_by.get('pool')} ({in_use_by.get('backend')})"
    if in_use_by.get("kind") == "mounted":
        return "mounted at " + ", ".join(in_use_by.get("mountpoints") or [])
    if in_use_by.get("kind") == "filesystem":
        return f"has a {in_use_by.get('fstype')} signature"
    return str(in_use_by.get("kind"))


def apply_roles(disks: list[dict[str, Any]], roles: dict[str, dict[str, Any]]) -> None:
    """Mark disks (or a disk whose partition) a plugin's ``disk_roles`` names as in use by it."""
    for disk in disks:
        role = roles.get(inventory.real(disk["path"])) or next(
            (roles[r] for p in disk["partitions"] if (r := inventory.real(p["path"] or "")) in roles),
            None)
        if role is not None:
            disk["in_use"] = True
            disk["in_use_by"] = role


class DiskService:
    route_defaults = ROUTES

    def __init__(self, app: "SigmaVault") -> None:
        self.app = app
        self.smart_health: dict[str, str] = {}

    @property
    def pools(self) -> PoolService:
        return self.app.services[PoolService]

    async def device_owners(self) -> dict[str, dict[str, Any]]:
        """Real device path -> ``{"pool", "backend"}`` of every pool's devices."""
        owners: dict[str, dict[str, Any]] = {}
        for p in await self.pools.list_pools():
            b = self.pools.backends.get(p.backend)
            if b is None:
                continue
            try:
                devices = await b.pool_devices(name=p.name)
            except Exception:
                devices = [d.path for d in p.devices if d.path]
            for dev in devices:
                owners[inventory.real(dev)] = {"pool": p.name, "backend": p.backend}
        return owners

    async def device_roles(self) -> dict[str, dict[str, Any]]:
        """Real device path -> role of the disks plugins use outside pools (``disk_roles`` hook:
        Ceph OSDs …). A plugin whose hook fails is left out of the listing, logged."""
        roles: dict[str, dict[str, Any]] = {}
        for plugin, call in self.app.plugins.impls("disk_roles"):
            try:
                got = call(app=self.app)
                if inspect.isawaitable(got):
                    got = await got
            except Exception:
                log.exception("disk_roles of %s failed", plugin)
                continue
            for dev, role in (got or {}).items():
                roles[inventory.real(dev)] = dict(role)
        return roles

    @operation("storage.disks.list", get="/storage/disks", query=DiskQuery, response=list[Disk],
               summary="Disk inventory (lsblk/udev) with what uses each disk (pools, and roles "
                       "plugins report such as Ceph OSDs)")
    async def list_disks(self, available: bool | None = None) -> list[dict[str, Any]]:
        found = await inventory.scan(self.pools.config.include_loop_devices)
        apply_roles(found, await self.device_roles())
        inventory.apply_pools(found, await self.device_owners())
        if available is not None:
            found = [d for d in found if (not d["in_use"]) == available]
        return found

    @operation("storage.disk.get", get=D, response=Disk, summary="One disk")
    async def get_disk(self, disk: str) -> dict[str, Any]:
        check_name(disk, "disk")
        for d in await self.list_disks():
            if d["name"] == disk:
                return d
        raise not_found("disk", disk)

    async def validate_devices(self, devices: list[str]) -> list[str]:
        """Real paths of ``devices``: whole, unused disks the inventory offers (4xx otherwise)."""
        if len(set(devices)) != len(devices):
            raise bad_request("a device is listed twice", code="duplicate_device")
        by_path = {inventory.real(d["path"]): d for d in await self.list_disks()}
        out = []
        for dev in devices:
            real = inventory.real(check_device_path(dev))
            try:
                if not stat.S_ISBLK(os.stat(real).st_mode):
                    raise bad_request(f"{dev} is not a block device", code="invalid_device",
                                      device=dev)
            except FileNotFoundError:
                raise bad_request(f"device {dev} does not exist", code="invalid_device",
                                  device=dev) from None
            disk = by_path.get(real)
            if disk is None:
                raise bad_request(f"{dev} is not a whole disk offered by GET /storage/disks",
                                  code="device_not_offered", device=dev)
            if disk["in_use"]:
                raise conflict(f"{dev} is in use ({describe_use(disk['in_use_by'])})",
                               code="device_in_use", device=dev, in_use_by=disk["in_use_by"])
            out.append(real)
        return out

    # --- SMART -----------------------------------------------------------------------------------

    @operation("storage.smart.read", get=D + "/smart", response=SmartReport,
               summary="SMART: health, attributes, temperature, power-on hours, self-test log")
    async def smart(self, disk: str) -> SmartReport:
        found = await self.get_disk(disk)
        cfg = self.pools.config
        rep = await smart.read(disk, found["path"], configured_path=cfg.smartctl_path,
                               timeout=cfg.smart_timeout)
        self._note_smart(disk, rep)
        return rep

    def _note_smart(self, name: str, rep: SmartReport) -> None:
        old = self.smart_health.get(name)
        self.smart_health[name] = rep.health
        if old is not None and old != rep.health:
            self.pools.publish(kind="smart_health", disk=name, old=old, new=rep.health,
                               message=f"SMART health of {name}: {rep.health} (was {old})",
                               details={"messages": rep.messages})

    @operation("storage.smart.test", post=D + "/smart/test", body=SmartTestStart, job=True,
               summary="Start a SMART self-test (job)")
    async def smart_test(self, disk: str, type: str, wait: bool, poll_interval: float) -> "Job":
        found = await self.get_disk(disk)
        cfg = self.pools.config
        name, test_type = disk, type

        async def job(ctx: "JobContext") -> Any:
            dev = await smart.open_device(found["path"], configured_path=cfg.smartctl_path,
                                          timeout=cfg.smart_timeout)
            if not dev.smart_capable:
                raise APIError(400, "smart_unsupported", f"{name} has no SMART support")
            code, message, eta = await smart.start_test(dev, test_type)
            ctx.log(f"smartctl: {message} (eta {eta})")
            if code != 0:
                raise APIError(409 if code == 1 else 400, "smart_test_refused", message,
                               {"code": code})
            ctx.progress(percent=0, description=f"{test_type} self-test on {name}")
            while wait:
                await asyncio.sleep(poll_interval)
                await smart.refresh(dev)
                if not dev._test_running:
                    break
                if dev._test_progress is not None:
                    ctx.progress(percent=float(dev._test_progress),
                                 description=f"{test_type} self-test on {name}")
            rep = smart.report(name, dev)
            self._note_smart(name, rep)
            latest = rep.self_tests[0].model_dump() if rep.self_tests else None
            return {"disk": name, "type": test_type, "started": True,
                    "eta": str(eta) if eta else None, "finished": wait, "latest": latest,
                    "health": rep.health}

        return self.app.jobs.submit("storage.smart_test", job, params={"disk": name,
                                                                       "type": test_type},
                                    lock=f"disk:{name}", description=f"SMART {test_type} test {name}")
