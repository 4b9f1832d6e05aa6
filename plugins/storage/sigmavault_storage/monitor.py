"""The storage monitor: disks appearing or vanishing, pool state changes and SMART health, as
``storage.event``s, every ``[storage] monitor_interval`` seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from sigmavault.errors import APIError

from .disks import DiskService
from .pools import PoolService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.storage")


class StorageMonitor:
    def __init__(self, app: "SigmaVault") -> None:
        self.app = app
        self.disk_names: set[str] | None = None

    async def start(self) -> None:
        if self.app.services[PoolService].config.monitor_interval > 0:
            self.app.spawn(self.run())

    async def once(self, with_smart: bool = False) -> None:
        """One pass: disks appeared/vanished, pool state changes, (optionally) SMART health."""
        pools, disks = self.app.services[PoolService], self.app.services[DiskService]
        try:
            current = await disks.list_disks()
        except APIError as exc:
            log.warning("disk scan failed: %s", exc.message)
            current = None
        if current is not None:
            names = {d["name"] for d in current}
            if self.disk_names is not None:
                by_name = {d["name"]: d for d in current}
                for n in sorted(names - self.disk_names):
                    d = by_name[n]
                    pools.publish(kind="disk_added", disk=n, message=f"disk {n} appeared",
                                  details={k: d[k] for k in ("path", "model", "serial", "size", "type")})
                for n in sorted(self.disk_names - names):
                    pools.publish(kind="disk_removed", disk=n, message=f"disk {n} vanished")
            self.disk_names = names
            if with_smart:
                for d in current:
                    if d["type"] in ("loop", "virtual"):
                        continue
                    try:
                        await disks.smart(d["name"])
                    except APIError as exc:
                        log.info("SMART of %s unavailable: %s", d["name"], exc.message)
        for p in await pools.list_pools():
            try:
                await pools.pool_health(p.name)
            except APIError as exc:
                pools.note_state(p.name, "unavailable",
                                 [{"severity": "critical", "message": exc.message}])

    async def run(self) -> None:
        config = self.app.services[PoolService].config
        interval = config.monitor_interval
        last_smart = 0.0
        me = asyncio.current_task()
        await asyncio.sleep(min(interval, 5.0))  # let the daemon finish starting first
        while True:
            now = time.monotonic()
            with_smart = bool(config.smart_interval) and now - last_smart >= config.smart_interval
            try:
                await self.once(with_smart)
            except Exception:  # the monitor must survive one bad pass
                log.exception("storage monitor pass failed")
            if with_smart:
                last_smart = now
            if me is not None and me.cancelling():
                # a cancel can be swallowed by asyncio.wait_for (3.11) inside a command: honour it
                raise asyncio.CancelledError
            await asyncio.sleep(interval)
