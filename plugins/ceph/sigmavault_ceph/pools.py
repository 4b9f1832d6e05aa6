"""Pools: a pool is a CephFS file system (its own metadata and data RADOS pools, one MDS rank),
mounted with ceph-fuse under the mount root."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import status
from .base import CephBase, Cluster, ceph_name

POOL_OPTIONS = {"size", "pg_num", "cluster"}


class PoolOps(CephBase):
    async def available(self) -> dict[str, Any]:
        import shutil
        missing = [p for p in ("ceph", "ceph-fuse") if shutil.which(p) is None]
        if missing:
            return {"available": False, "version": None,
                    "reason": f"missing program(s) {', '.join(missing)} (Debian ceph-common, "
                              f"ceph-fuse)"}
        import os
        if not os.path.exists("/dev/fuse"):
            return {"available": False, "version": None, "reason": "no /dev/fuse for ceph-fuse"}
        if not self.clusters:
            return {"available": False, "version": None,
                    "reason": "no Ceph cluster configured: adopt one ([ceph] conf and keyring, or "
                              "POST /api/v1/ceph/clusters) or bootstrap one "
                              "(POST /api/v1/ceph/clusters/bootstrap)"}
        if self._version is None:
            from sigmavault.commands import run
            res = await run(["ceph", "--version"], check=False, timeout=30)
            words = res.stdout.split()   # "ceph version 16.2.15 (…) pacific (stable)"
            self._version = words[2] if res.ok and len(words) > 2 else ""
        return {"available": True, "reason": None, "version": self._version or None}

    # --- listing --------------------------------------------------------------------------------

    async def pool_list(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for cluster in list(self.clusters.values()):
            view = await self.view(cluster)
            for name, fs in sorted(view.fs.items()):
                if not fs["joinable"]:
                    continue  # failed on purpose: exported
                self.owner.setdefault(name, cluster.fsid)
                rows.append(status.pool_row(view, name, str(self.mounts.path(name))))
        return rows

    def _present(self, view: status.View, name: str) -> None:
        if name not in view.fs or not view.fs[name]["joinable"]:
            self.owner.pop(name, None)
            raise not_found("pool", name)

    async def pool_get(self, *, name: str) -> dict[str, Any]:
        cluster = await self.locate(name)
        view = await self.view(cluster)
        self._present(view, name)
        mnt = await self.mount(name, cluster)
        return status.pool_row(view, name, str(mnt))

    async def pool_health(self, *, name: str) -> dict[str, Any]:
        cluster = await self.locate(name)
        view = await self.view(cluster, with_status=True)
        self._present(view, name)
        return status.health_row(view, name)

    async def pool_devices(self, *, name: str) -> list[str]:
        return []  # OSDs sit on sparse files or on other hosts: no local block device to claim

    # --- create / destroy -------------------------------------------------------------------

    @staticmethod
    def _size(osd_dump: dict[str, Any], options: dict[str, Any]) -> int:
        """The replica count asked for (default min(3, OSDs in)), checked against the OSDs."""
        usable = status.osd_counts(osd_dump)["in"]
        raw = options.get("size", min(3, usable) or 1)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise bad_request("options.size (replicas) must be an integer", code="bad_size",
                              field="options.size")
        if raw < 1 or raw > 10:
            raise bad_request("options.size (replicas) must be between 1 and 10",
                              code="bad_size", field="options.size")
        if raw > usable:
            raise bad_request(f"options.size={raw} replicas needs at least {raw} OSDs, but the "
                              f"cluster has {usable} OSD(s) in", code="bad_size",
                              field="options.size", osds=usable)
        return raw

    async def pool_create(self, *, name: str, topology: dict[str, Any], devices: list[str],
                          options: dict[str, Any]) -> dict[str, Any]:
        ceph_name(name, "pool")
        unknown = set(options) - POOL_OPTIONS
        if unknown:
            raise bad_request(f"unknown ceph pool options {sorted(unknown)}; known: "
                              f"{sorted(POOL_OPTIONS)}", code="bad_options")
        if devices:
            raise bad_request("the ceph backend takes no devices (OSDs are the cluster's)",
                              code="devices_not_supported")
        cluster = self.pick_cluster(options)
        pg_num = options.get("pg_num", self.pg_num)
        if isinstance(pg_num, bool) or not isinstance(pg_num, int) or not 1 <= pg_num <= 1024:
            raise bad_request("options.pg_num must be an integer from 1 to 1024",
                              code="bad_pg_num", field="options.pg_num")
        cli = cluster.cli
        dump, osd_dump = await asyncio.gather(cli.json("fs", "dump", what="fs dump"),
                                              cli.json("osd", "dump", what="osd dump"))
        size = self._size(osd_dump or {}, options)
        if name in status.filesystems(dump or {}):
            raise conflict(f"a Ceph file system {name!r} already exists", code="pool_exists")
        meta, data = f"cephfs.{name}.meta", f"cephfs.{name}.data"
        existing = {p["name"] for p in status.pool_sizes(osd_dump or {}).values()}
        if meta in existing or data in existing:
            raise conflict(f"RADOS pool {meta if meta in existing else data} already exists",
                           code="pool_exists")
        if not status.standby_count(dump or {}):
            if cluster.local is not None and cluster.local.daemons:
                await cluster.local.add_mds()   # a cluster this daemon runs grows one
            else:
                raise conflict("no standby MDS daemon is available to serve a new file system; "
                               "start one more ceph-mds", code="no_standby_mds")
        made: list[str] = []
        try:
            for pool, pgs in ((meta, max(pg_num // 2, 1)), (data, pg_num)):
                await cli.raw("osd", "pool", "create", pool, str(pgs), str(pgs), "replicated",
                              "--size", str(size), "--autoscale-mode", "off",
                              what=f"create RADOS pool {pool}")
                made.append(pool)
            await cli.raw("fs", "new", name, meta, data, what=f"create file system {name}")
            made.append("fs")
            self.owner[name] = cluster.fsid
            await self._wait_ready(cluster, name)
            mnt = await self.mounts.ensure(name, cli)
        except BaseException:
            await self._remove_fs(cluster, name, made_pools=[p for p in made if p != "fs"],
                                  fs="fs" in made)
            raise
        view = await self.view(cluster)
        return status.pool_row(view, name, str(mnt))

    async def _wait_ready(self, cluster: Cluster, name: str) -> None:
        """Until rank 0 of ``name`` is up:active and its placement groups are active."""
        deadline = time.monotonic() + self.mds_wait
        last = ""
        while True:
            view = await self.view(cluster)
            fs = view.fs.get(name)
            if fs is not None:
                active = any(m["state"] == "up:active" for m in fs["mds"])
                pgs = [s for p in view.pools_of(name) for s in view.pgs.get(p, [])]
                ready = pgs and all(s.startswith("active") for s in pgs)
                if active and ready:
                    return
                last = (f"MDS {[m['state'] for m in fs['mds']]}, "
                        f"{sum(1 for s in pgs if s.startswith('active'))}/{len(pgs)} PGs active")
            if time.monotonic() > deadline:
                raise APIError(504, "ceph_timeout", f"file system {name} was not ready within "
                               f"{self.mds_wait:g} s ({last})")
            await asyncio.sleep(0.5)

    async def _remove_fs(self, cluster: Cluster, name: str, made_pools: list[str] | None = None,
                         fs: bool = True) -> None:
        """Unmount, then fail and remove the file system and remove its RADOS pools (the
        monitor's ``mon_allow_pool_delete`` decides; an adopted cluster may refuse: 409)."""
        cli = cluster.cli
        await self.mounts.release(name)
        pools: list[str] = list(made_pools or [])
        if fs:
            view = await self.view(cluster)
            if name in view.fs:
                pools = [view.sizes[p]["name"] for p in view.pools_of(name) if p in view.sizes]
                await cli.raw("fs", "fail", name, what=f"fail file system {name}")
                await cli.raw("fs", "rm", name, "--yes-i-really-mean-it",
                              what=f"remove file system {name}")
        for pool in pools:
            await cli.raw("osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it",
                          what=f"remove RADOS pool {pool}")
        self.owner.pop(name, None)
        self.scrubs.pop(name, None)

    async def pool_destroy(self, *, name: str) -> None:
        cluster = await self.locate(name, joinable_only=False)
        await self._remove_fs(cluster, name)

    async def pool_update(self, *, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        cluster = await self.locate(name)
        unknown = set(changes) - {"size"}
        if unknown:
            raise bad_request(f"ceph pools can change only 'size' (replicas), not "
                              f"{sorted(unknown)}", code="bad_options")
        if "size" in changes:
            size = self._size(await cluster.cli.json("osd", "dump", what="osd dump") or {},
                              changes)
            view = await self.view(cluster)
            for p in view.pools_of(name):
                pool = view.sizes[p]["name"]
                await cluster.cli.raw("osd", "pool", "set", pool, "size", str(size),
                                      "--yes-i-really-mean-it", what=f"{pool} size {size}")
        return await self.pool_get(name=name)

    # --- export / import: fail the file system (kept, not joinable) and bring it back -------

    async def pool_export(self, *, name: str) -> None:
        cluster = await self.locate(name)
        await self.mounts.release(name)
        await cluster.cli.raw("fs", "fail", name, what=f"fail file system {name}")
        self.owner.pop(name, None)

    async def pool_import(self, *, name: str, devices: list[str] | None,
                          options: dict[str, Any]) -> dict[str, Any]:
        ceph_name(name, "pool")
        if devices:
            raise bad_request("the ceph backend takes no devices", code="devices_not_supported")
        unknown = set(options) - {"cluster"}
        if unknown:
            raise bad_request(f"unknown ceph import options {sorted(unknown)}",
                              code="bad_options")
        if options.get("cluster") is not None:
            clusters = [self.pick_cluster(options)]
        else:
            clusters = list(self.clusters.values())
        for cluster in clusters:
            fs = await self.fs_names(cluster)
            if name in fs:
                break
        else:
            raise not_found("pool", name)
        if not fs[name]["joinable"]:
            await cluster.cli.raw("fs", "set", name, "joinable", "true",
                                  what=f"bring file system {name} back")
        self.owner[name] = cluster.fsid
        await self._wait_ready(cluster, name)
        return await self.pool_get(name=name)
