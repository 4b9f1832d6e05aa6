"""Volumes: CephFS subvolumes (default group) with their quota (``--size``), read through the
ceph-fuse mount (``.meta``, ``ceph.dir.rbytes``, ``ceph.quota.max_bytes``) so that listing costs
one ``fs subvolume ls``."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import status
from .base import GROUP_DIR, CephBase, ceph_name


def _xattr_int(path: Path, name: str) -> int | None:
    try:
        return int(os.getxattr(path, name).decode().strip() or 0)
    except (OSError, ValueError):
        return None


class VolumeOps(CephBase):
    async def _volume_dir(self, pool: str, name: str) -> Path:
        """The subvolume's data directory on the mount (``.../<name>/<uuid>``); 404 if none."""
        base = await self.subvolume_base(pool, name)
        meta = self.read_meta(base)
        path = meta.get("path")
        if not path or meta.get("type", "subvolume") != "subvolume":
            cluster = await self.locate(pool)
            res = await cluster.cli.raw("fs", "subvolume", "getpath", pool, name,
                                        what=f"volume {name}")
            path = res.stdout.strip()
        return (await self.mount(pool)) / path.lstrip("/")

    def _row(self, pool: str, name: str, path: Path, info: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        quota = _xattr_int(path, "ceph.quota.max_bytes")
        try:
            used: int | None = path.stat().st_size   # a CephFS directory's size is its rbytes
        except OSError:
            used = None
        created = None
        props: dict[str, Any] = {"subvolume_path": "/" + str(path.relative_to(
            self.mounts.path(pool)))}
        if info:
            used = info.get("bytes_used", used)
            q = info.get("bytes_quota")
            quota = q if isinstance(q, int) else None
            created = status.rfc3339(status.ceph_time(info.get("created_at")))
            props.update({"state": info.get("state"), "data_pool": info.get("data_pool"),
                          "features": info.get("features")})
        return {"name": name, "pool": pool, "path": str(path), "used": used,
                "quota": quota or None, "compression": None, "origin": None, "created": created,
                "properties": props}

    async def volume_list(self, *, pool: str) -> list[dict[str, Any]]:
        """The subvolumes of the default group, read from the mount: the group directory's
        entries and each one's ``.meta`` and quota/used attributes, in a few threads (ceph-fuse
        answers in parallel). No tool call: ``fs subvolume ls`` alone takes longer than this.
        A subvolume without ``.meta`` (made by Ceph before v2) is asked with ``getpath``."""
        cluster = await self.locate(pool)
        mnt = await self.mount(pool, cluster)
        group = mnt / GROUP_DIR

        cache = self._vol_dirs

        def one(entry: os.DirEntry[str]) -> dict[str, Any] | None:
            # a v2 subvolume dir holds ".meta" and one "<uuid>" data dir; which one is kept by
            # the subvolume dir's inode (a re-created subvolume has a new inode)
            key = (pool, entry.name, entry.inode())
            leaf = cache.get(key)
            if leaf is None:
                try:
                    entries = os.listdir(entry.path)
                except OSError:
                    return None
                data = [e for e in entries if not e.startswith(".")]
                if ".meta" not in entries or len(data) != 1:
                    return {"name": entry.name, "legacy": True}
                leaf = cache[key] = data[0]
            return self._row(pool, entry.name, group / entry.name / leaf)

        def rows() -> list[dict[str, Any] | None]:
            try:
                with os.scandir(group) as it:
                    entries = sorted((e for e in it if not e.name.startswith(".")),
                                     key=lambda e: e.name)
            except FileNotFoundError:
                return []
            with ThreadPoolExecutor(max_workers=8) as pool_:
                return list(pool_.map(one, entries))

        out: list[dict[str, Any]] = []
        for row in await asyncio.to_thread(rows):
            if row is None:
                continue
            if row.get("legacy"):
                try:
                    path = await self._volume_dir(pool, row["name"])
                except APIError:
                    continue
                row = self._row(pool, row["name"], path)
            out.append(row)
        return out

    async def volume_get(self, *, pool: str, name: str) -> dict[str, Any]:
        cluster = await self.locate(pool)
        info = await cluster.cli.json("fs", "subvolume", "info", pool, name,
                                      what=f"volume {name}")
        mnt = await self.mount(pool, cluster)
        return self._row(pool, name, mnt / str(info["path"]).lstrip("/"), info)

    async def volume_path(self, *, pool: str, name: str) -> str:
        path = await self._volume_dir(pool, name)
        if not path.is_dir():
            raise not_found("volume", name)
        return str(path)

    async def _exists(self, pool: str, name: str) -> bool:
        base = await self.subvolume_base(pool, name)
        return await asyncio.to_thread(base.exists)

    async def volume_create(self, *, pool: str, name: str, quota: int | None,
                            compression: str | None) -> dict[str, Any]:
        ceph_name(name, "volume")
        if compression not in (None, "off"):
            raise APIError(400, "not_supported", "CephFS has no per-volume compression (it is a "
                           "RADOS pool setting)")
        if quota is not None and quota <= 0:
            raise bad_request("quota must be positive", code="bad_quota", field="quota")
        cluster = await self.locate(pool)
        if await self._exists(pool, name):
            raise conflict(f"volume {name!r} already exists in pool {pool}", code="volume_exists")
        argv = ["fs", "subvolume", "create", pool, name]
        if quota:
            argv += ["--size", str(quota)]
        await cluster.cli.raw(*argv, what=f"create volume {name}")
        return await self.volume_get(pool=pool, name=name)

    async def volume_update(self, *, pool: str, name: str, changes: dict[str, Any]
                            ) -> dict[str, Any]:
        cluster = await self.locate(pool)
        if changes.get("compression") not in (None, "off"):
            raise APIError(400, "not_supported", "CephFS has no per-volume compression")
        if "quota" in changes:
            quota = changes["quota"]
            if quota is not None and quota <= 0:
                raise bad_request("quota must be positive", code="bad_quota", field="quota")
            await cluster.cli.raw("fs", "subvolume", "resize", pool, name,
                                  str(quota) if quota else "inf", what=f"resize volume {name}")
        return await self.volume_get(pool=pool, name=name)

    async def volume_destroy(self, *, pool: str, name: str) -> None:
        cluster = await self.locate(pool)
        if not await self._exists(pool, name):
            raise not_found("volume", name)
        snaps = await cluster.cli.json("fs", "subvolume", "snapshot", "ls", pool, name,
                                       what=f"snapshots of {name}") or []
        if snaps:
            raise conflict(f"volume {name} has {len(snaps)} snapshot(s); delete them first",
                           code="has_snapshots")
        await cluster.cli.raw("fs", "subvolume", "rm", pool, name, what=f"remove volume {name}")
