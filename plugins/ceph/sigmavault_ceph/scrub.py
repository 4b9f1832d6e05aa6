"""Scrub: a deep scrub of every placement group of the file system's RADOS pools
(``ceph osd pool deep-scrub``), progress = PGs whose ``last_deep_scrub_stamp`` is newer than the
start, errors = their ``num_scrub_errors``. Cancel sets ``nodeep-scrub`` on the pools (cleared at
the next start)."""

from __future__ import annotations

import time
from typing import Any

from sigmavault.errors import not_found

from . import status
from .base import CephBase


class ScrubOps(CephBase):
    async def _pool_names(self, pool: str) -> tuple[Any, list[int], list[str]]:
        cluster = await self.locate(pool)
        view = await self.view(cluster)
        if pool not in view.fs:
            raise not_found("pool", pool)
        ids = view.pools_of(pool)
        return cluster, ids, [view.sizes[i]["name"] for i in ids if i in view.sizes]

    async def scrub_start(self, *, pool: str) -> None:
        cluster, ids, names = await self._pool_names(pool)
        started = time.time()
        for name in names:
            await cluster.cli.raw("osd", "pool", "set", name, "nodeep-scrub", "0",
                                  what=f"allow deep scrub of {name}", check=False)
            await cluster.cli.raw("osd", "pool", "deep-scrub", name, what=f"deep-scrub {name}")
        self.scrubs[pool] = {"started": started, "ids": ids, "names": names, "state": "running",
                             "finished": None}

    async def scrub_status(self, *, pool: str) -> dict[str, Any]:
        run = self.scrubs.get(pool)
        if run is None:
            await self._pool_names(pool)
            return {"state": "idle", "percent": None, "bytes_scrubbed": None, "bytes_total": None,
                    "errors": 0, "started": None, "finished": None, "details": {}}
        cluster = await self.locate(pool)
        pgs = await cluster.cli.json("pg", "dump", "pgs", what="pg dump pgs")
        prog = status.scrub_progress(pgs, run["ids"], run["started"] - 1.0)
        if run["state"] == "running" and prog["total"] and prog["done"] >= prog["total"]:
            run["state"], run["finished"] = "finished", time.time()
        percent = 100.0 * prog["done"] / prog["total"] if prog["total"] else None
        return {"state": run["state"], "percent": percent, "bytes_scrubbed": None,
                "bytes_total": None, "errors": prog["errors"],
                "started": status.rfc3339(run["started"]),
                "finished": status.rfc3339(run["finished"]),
                "details": {"pgs_total": prog["total"], "pgs_done": prog["done"],
                            "pgs_scrubbing": prog["scrubbing"], "pools": run["names"]}}

    async def scrub_cancel(self, *, pool: str) -> None:
        run = self.scrubs.get(pool)
        if run is None or run["state"] != "running":
            return
        cluster = await self.locate(pool)
        for name in run["names"]:
            await cluster.cli.raw("osd", "pool", "set", name, "nodeep-scrub", "1",
                                  what=f"stop deep scrub of {name}", check=False)
        run["state"], run["finished"] = "canceled", time.time()
