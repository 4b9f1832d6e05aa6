"""Shared state of the ceph backend: the clusters it knows, the ceph-fuse mounts, and how one
look at a cluster (:class:`.status.View`) is taken."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigmavault.errors import APIError, bad_request, not_found

from . import status
from .bootstrap import LocalCluster
from .cli import CephCli
from .mounts import Mounts

# what `ceph fs volume create` / `fs subvolume create` accept (CephString goodchars)
CEPH_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
GROUP_DIR = "volumes/_nogroup"


def ceph_name(value: str, what: str) -> str:
    """A name Ceph takes: letters, digits, ``_``, ``.``, ``-`` (400 ``invalid_name`` otherwise)."""
    if not CEPH_NAME.match(value) or value.startswith((".", "_")):
        raise bad_request(f"{what} {value!r}: Ceph takes only letters, digits, '_', '.' and '-', "
                          f"not starting with '.' or '_'", code="invalid_name", field=what)
    return value


@dataclass
class Cluster:
    """A cluster the backend reaches: its CLI, and the daemons when SigmaVault runs them."""

    fsid: str
    cli: CephCli
    source: str                       # "config" | "adopted" | "bootstrapped"
    local: LocalCluster | None = None

    def summary(self) -> dict[str, Any]:
        return {"fsid": self.fsid, "name": self.cli.cluster, "source": self.source,
                "conf": self.cli.conf, "client_id": self.cli.client_id,
                "root": str(self.local.root) if self.local else None}


class CephBase:
    """Clusters by fsid, which cluster holds which file system, and the mounts."""

    name = "ceph"

    def __init__(self, mount_root: Path, pg_num: int = 8, mds_wait: float = 60.0) -> None:
        self.clusters: dict[str, Cluster] = {}
        self.owner: dict[str, str] = {}          # file system name -> cluster fsid
        self.mounts = Mounts(mount_root)
        self.pg_num = pg_num
        self.mds_wait = mds_wait
        self.scrubs: dict[str, dict[str, Any]] = {}
        self._snap_rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._vol_dirs: dict[tuple[str, str, int], str] = {}   # (pool, volume, inode) -> uuid
        self._version: str | None = None

    # --- clusters and views ----------------------------------------------------------------------

    async def view(self, cluster: Cluster, with_status: bool = False) -> status.View:
        """One round of ``fs dump``, ``osd dump``, ``df``, ``pg dump pgs_brief`` (+ ``status``)."""
        cli = cluster.cli
        calls = [cli.json("fs", "dump", what="fs dump"), cli.json("osd", "dump", what="osd dump"),
                 cli.json("df", what="df"),
                 cli.json("pg", "dump", "pgs_brief", what="pg dump")]
        if with_status:
            calls.append(cli.json("status", what="status"))
        answers = await asyncio.gather(*calls)
        fs_dump, osd_dump, df, pgs = answers[:4]
        st = answers[4] if with_status else {}
        return status.View(
            fs=status.filesystems(fs_dump or {}), sizes=status.pool_sizes(osd_dump or {}),
            usage=status.pool_usage(df or {}), pgs=status.pg_states(pgs),
            acting={p: [a for _, a in rows] for p, rows in status.pg_rows(pgs).items()},
            osds=status.osd_counts(osd_dump or {}),
            checks=((st or {}).get("health") or {}).get("checks") or {},
            health=((st or {}).get("health") or {}).get("status"), fsid=cluster.fsid)

    async def fs_names(self, cluster: Cluster) -> dict[str, dict[str, Any]]:
        return status.filesystems(await cluster.cli.json("fs", "dump", what="fs dump") or {})

    async def locate(self, pool: str, joinable_only: bool = True) -> Cluster:
        """The cluster that has file system ``pool`` (404 when none has it). A pool seen before
        is trusted to stay where it was (a call on a vanished one fails with ENOENT → 404)."""
        fsid = self.owner.get(pool)
        if fsid in self.clusters and joinable_only:
            return self.clusters[fsid]
        for cluster in list(self.clusters.values()):
            try:
                fs = await self.fs_names(cluster)
            except APIError:
                continue
            if pool in fs and (fs[pool]["joinable"] or not joinable_only):
                self.owner[pool] = cluster.fsid
                return cluster
        self.owner.pop(pool, None)
        raise not_found("pool", pool)

    def pick_cluster(self, options: dict[str, Any]) -> Cluster:
        """The cluster a new pool goes to: ``options.cluster`` (fsid or name), else the only one."""
        want = options.get("cluster")
        if want is not None:
            for c in self.clusters.values():
                if want in (c.fsid, c.cli.cluster):
                    return c
            raise bad_request(f"no Ceph cluster {want!r} is known here (adopt or bootstrap it "
                              f"first: /api/v1/ceph/clusters)", code="unknown_cluster")
        if not self.clusters:
            raise APIError(409, "no_cluster", "no Ceph cluster is configured: adopt one "
                           "([ceph] conf/keyring or POST /api/v1/ceph/clusters) or bootstrap one "
                           "(POST /api/v1/ceph/clusters/bootstrap)")
        if len(self.clusters) > 1:
            raise bad_request("several Ceph clusters are known: say which in options.cluster",
                              code="cluster_required",
                              clusters=[c.fsid for c in self.clusters.values()])
        return next(iter(self.clusters.values()))

    # --- mounts and paths --------------------------------------------------------------------

    async def mount(self, pool: str, cluster: Cluster | None = None) -> Path:
        cluster = cluster or await self.locate(pool)
        return await self.mounts.ensure(pool, cluster.cli)

    async def subvolume_base(self, pool: str, volume: str) -> Path:
        """``<mount>/volumes/_nogroup/<volume>``: the subvolume's base directory (its ``.meta``
        and the ``.snap`` dir of its snapshots)."""
        return (await self.mount(pool)) / GROUP_DIR / volume

    @staticmethod
    def read_meta(base: Path) -> dict[str, str]:
        """The subvolume's ``.meta`` (``[GLOBAL] path = /volumes/_nogroup/x/<uuid>``, state)."""
        out: dict[str, str] = {}
        try:
            text = (base / ".meta").read_text()
        except OSError:
            return out
        for line in text.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip()
        return out
