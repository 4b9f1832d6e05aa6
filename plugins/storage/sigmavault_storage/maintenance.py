"""Pool maintenance as jobs: scrub, balance, and replacing or removing a device."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Callable

from sigmavault import operation
from sigmavault.errors import APIError, bad_request, conflict

from .disks import DiskService
from .models import Balance, DeviceRemove, DeviceReplace, Pool, ScrubStatus
from .pools import P, PoolService, ROUTES

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault
    from sigmavault.jobs import Job, JobContext


def _progress(ctx: "JobContext") -> Callable[[float | None, str | None], None]:
    def report(percent: float | None = None, description: str | None = None) -> None:
        ctx.progress(percent=percent, description=description)
    return report


def _device_ref(value: str, field: str) -> str:
    if not value or "\x00" in value or len(value) > 200:
        raise bad_request(f"{field} must be a device path or a device id", code="invalid_device")
    return value


class MaintenanceService:
    route_defaults = ROUTES

    def __init__(self, app: "SigmaVault") -> None:
        self.app = app

    @property
    def pools(self) -> PoolService:
        return self.app.services[PoolService]

    def _submit(self, kind: str, job: Callable[["JobContext"], Any], pool: str,
                params: dict[str, Any], description: str) -> "Job":
        return self.app.jobs.submit(kind, job, params={"pool": pool, **params},
                                    lock=f"pool:{pool}", description=description)

    # --- devices ---------------------------------------------------------------------------------

    @operation("storage.pool.device_replace", post=P + "/devices/replace", body=DeviceReplace,
               job=True, summary="Replace a (missing or failing) device (job)")
    async def replace_device(self, pool: str, old: str, new: str) -> "Job":
        b = await self.pools.pool_backend(pool)
        self.pools.need(b, "device_replace", "replacing devices")
        _device_ref(old, "old")
        [new_dev] = await self.app.services[DiskService].validate_devices([new])

        async def job(ctx: "JobContext") -> Any:
            result = await b.device_replace(  # type: ignore[attr-defined]
                pool=pool, old=old, new=new_dev, progress=_progress(ctx))
            self.pools.publish(kind="device_replaced", pool=pool, old=old, new=new_dev,
                               message=f"{old} replaced by {new_dev} in {pool}")
            await self.pools.pool_health(pool)
            return Pool.model_validate(result).model_dump()

        return self._submit("storage.device_replace", job, pool, {"old": old, "new": new_dev},
                            f"replace {old} in {pool}")

    @operation("storage.pool.device_remove", post=P + "/devices/remove", body=DeviceRemove,
               job=True, summary="Remove a device, migrating its data (job)")
    async def remove_device(self, pool: str, device: str) -> "Job":
        b = await self.pools.pool_backend(pool)
        self.pools.need(b, "device_remove", "removing devices")
        _device_ref(device, "device")

        async def job(ctx: "JobContext") -> Any:
            result = await b.device_remove(  # type: ignore[attr-defined]
                pool=pool, device=device, progress=_progress(ctx))
            await self.pools.pool_health(pool)
            return Pool.model_validate(result).model_dump()

        return self._submit("storage.device_remove", job, pool, {"device": device},
                            f"remove {device} from {pool}")

    # --- balance ---------------------------------------------------------------------------------

    @operation("storage.pool.balance", post=P + "/balance", body=Balance, job=True,
               summary="Balance / convert profiles (job)")
    async def balance(self, pool: str, body: Balance) -> "Job":
        options = body.model_dump(exclude_none=True, exclude_defaults=True)
        b = await self.pools.pool_backend(pool)
        self.pools.need(b, "balance")
        levels = b.capabilities.get("raid_levels") or []
        minimum = b.capabilities.get("min_devices") or {}
        online = [d for d in (await b.pool_get(name=pool))["devices"] if d.get("state") == "online"]
        for key in ("data_profile", "metadata_profile"):
            profile = options.get(key)
            if profile is not None and profile not in levels:
                raise bad_request(f"{key} {profile!r} is not one of {levels}", code="bad_layout")
            if profile is not None and minimum.get(profile, 1) > len(online):
                raise bad_request(f"{profile} needs {minimum[profile]} devices; pool {pool} has "
                                  f"{len(online)} online", code="too_few_devices")

        async def job(ctx: "JobContext") -> Any:
            return await b.balance(  # type: ignore[attr-defined]
                pool=pool, options=options, progress=_progress(ctx))

        return self._submit("storage.balance", job, pool, options, f"balance {pool}")

    # --- scrub -----------------------------------------------------------------------------------

    @operation("storage.pool.scrub_status", get=P + "/scrub", response=ScrubStatus,
               summary="Scrub status as the backend reports it")
    async def scrub_status(self, pool: str) -> ScrubStatus:
        b = await self.pools.pool_backend(pool)
        self.pools.need(b, "scrub")
        return ScrubStatus.model_validate(await b.scrub_status(pool=pool))  # type: ignore[attr-defined]

    @operation("storage.pool.scrub", post=P + "/scrub", job=True,
               summary="Start a scrub (job; one per pool)")
    async def start_scrub(self, pool: str) -> "Job":
        b = await self.pools.pool_backend(pool)
        self.pools.need(b, "scrub")
        running = self.pools.busy
        if pool in running:
            raise conflict(f"a scrub of {pool} is already running (job {running[pool]})",
                           code="scrub_running", job=running[pool])
        status = await b.scrub_status(pool=pool)  # type: ignore[attr-defined]
        if status.get("state") == "running":
            raise conflict(f"a scrub of {pool} is already running", code="scrub_running")

        async def job(ctx: "JobContext") -> Any:
            try:
                return await self._run_scrub(ctx, b, pool)
            finally:
                running.pop(pool, None)

        job_info = self._submit("storage.scrub", job, pool, {}, f"scrub {pool}")
        running[pool] = job_info.id
        return job_info

    async def _run_scrub(self, ctx: "JobContext", b: Any, pool: str) -> Any:
        interval = self.pools.config.scrub_poll_interval
        publish = self.pools.publish
        await b.scrub_start(pool=pool)
        started = time.monotonic()
        last_percent = None
        try:
            while True:
                await asyncio.sleep(interval)
                st = ScrubStatus.model_validate(await b.scrub_status(pool=pool))
                if st.state in ("idle",) and time.monotonic() - started < 10:
                    continue  # the kernel has not written the first status yet
                if st.percent is not None and st.percent != last_percent:
                    last_percent = st.percent
                    ctx.progress(percent=st.percent, description=f"scrubbing {pool}",
                                 bytes_done=st.bytes_scrubbed, bytes_total=st.bytes_total)
                    publish(kind="scrub_progress", pool=pool, message=f"scrub {pool}: "
                            f"{st.percent:.1f}%", details=st.model_dump())
                if st.state != "running":
                    break
        except asyncio.CancelledError:
            try:
                await asyncio.shield(b.scrub_cancel(pool=pool))
            finally:
                publish(kind="scrub_finished", pool=pool, new="canceled",
                        message=f"scrub of {pool} canceled")
            raise
        result = st.model_dump()
        publish(kind="scrub_finished", pool=pool, new=st.state,
                message=f"scrub of {pool} {st.state}: {st.errors} error(s)", details=result)
        if st.state not in ("finished",):
            raise APIError(500, "scrub_failed", f"scrub of {pool} ended {st.state}", result)
        return result
