"""The ceph plugin's service: owns the backend, the clusters it reaches and the daemons of the
clusters it bootstrapped, and declares the ``/api/v1/ceph`` operations (tag ``ceph``)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmavault import operation
from sigmavault.errors import APIError, bad_request, conflict, not_found
from sigmavault.jobs import Job, JobContext

from .adopt import check_cluster
from .backend import CephBackend
from .base import Cluster
from .bootstrap import MARKER, LocalCluster, Spec, bootstrap
from .config import CephConfig
from .models import AdoptBody, BootstrapBody, BootstrapResult, ClusterInfo

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.ceph")
TAGS = ["ceph"]

MIGRATIONS = [
    """CREATE TABLE ceph_clusters (
        fsid TEXT PRIMARY KEY, conf TEXT NOT NULL, keyring TEXT, client_id TEXT NOT NULL,
        added TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))""",
]


class CephService:
    """``app.services[CephService]``: the backend (``.backend``) and the ``ceph.*`` operations."""

    def __init__(self, app: SigmaVault, config: CephConfig) -> None:
        self.app = app
        self.config = config
        self.root = Path(app.data_dir) / "ceph"
        mount_root = Path(config.mount_root) if config.mount_root else self.root / "mnt"
        self.backend = CephBackend(mount_root, pg_num=config.default_pg_num,
                                   mds_wait=config.mds_wait)
        self.warnings: dict[str, list[str]] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the daemons of the clusters bootstrapped here; adopt the configured one and
        those adopted before. A cluster that does not answer is logged and skipped."""
        if self.root.is_dir():
            for marker in sorted(self.root.glob(f"*/{MARKER}")):
                try:
                    local = LocalCluster.load(marker.parent)
                    await local.start(supervised=True)
                    self._add(Cluster(fsid=local.fsid, cli=local.cli(self.config.command_timeout),
                                      source="bootstrapped", local=local))
                except Exception as exc:
                    log.warning("ceph cluster in %s not started: %s", marker.parent, exc)
        sources: list[tuple[str, str | None, str, str]] = []
        if self.config.conf:
            sources.append((self.config.conf, self.config.keyring, self.config.client_id, "config"))
        for row in self.app.db.all("SELECT conf, keyring, client_id FROM ceph_clusters"):
            sources.append((row["conf"], row["keyring"], row["client_id"], "adopted"))
        for conf, keyring, client_id, source in sources:
            try:   # a short wait: a cluster that is down must not hold up the daemon's start
                cli, info = await check_cluster(conf, keyring, client_id,
                                                timeout=min(10.0, self.config.command_timeout))
            except APIError as exc:
                log.warning("ceph cluster of %s not adopted: %s", conf, exc.message)
                continue
            cli.timeout = self.config.command_timeout
            if info["fsid"] not in self.backend.clusters:
                self._add(Cluster(fsid=info["fsid"], cli=cli, source=source))
                self.warnings[info["fsid"]] = info["warnings"]

    async def stop(self) -> None:
        """Unmount every file system, then stop the daemons this process runs."""
        await self.backend.mounts.release_all()
        for cluster in list(self.backend.clusters.values()):
            if cluster.local is not None:
                await cluster.local.stop()

    def _add(self, cluster: Cluster) -> None:
        self.backend.clusters[cluster.fsid] = cluster

    # --- operations --------------------------------------------------------------------------

    async def _info(self, cluster: Cluster) -> dict[str, Any]:
        row: dict[str, Any] = {**cluster.summary(), "warnings": self.warnings.get(cluster.fsid, [])}
        try:
            st = await cluster.cli.json("status", what="status", timeout=15)
            health = st.get("health") or {}
            row["health"] = health.get("status")
            row["checks"] = {k: ((v.get("summary") or {}).get("message") or k)
                             for k, v in (health.get("checks") or {}).items()}
            osd = st.get("osdmap") or {}
            osd = osd.get("osdmap", osd)  # older releases nest it
            row["osds"], row["osds_up"] = osd.get("num_osds"), osd.get("num_up_osds")
            row["filesystems"] = sorted((await self.backend.fs_names(cluster)).keys())
        except APIError as exc:
            row["health"] = "unreachable"
            row["checks"] = {"unreachable": exc.message}
        if cluster.local is not None:
            row["daemons"] = {k: d.pid for k, d in sorted(cluster.local.daemons.items())}
        return row

    @operation("ceph.clusters", get="/ceph/clusters", response=list[ClusterInfo], tags=TAGS)
    async def clusters(self) -> list[dict[str, Any]]:
        """The Ceph clusters this daemon reaches: health, OSDs, file systems, own daemons."""
        return [await self._info(c) for c in self.backend.clusters.values()]

    @operation("ceph.cluster.adopt", post="/ceph/clusters", body=AdoptBody, response=ClusterInfo,
               status=201, tags=TAGS)
    async def adopt(self, body: AdoptBody) -> dict[str, Any]:
        """Adopt an existing cluster by its ceph.conf and a keyring whose key may create file
        systems (mon 'allow *', mgr/osd 'allow rw', mds 'allow rwps'); refused with the reason."""
        cli, info = await check_cluster(body.conf, body.keyring, body.client_id,
                                        timeout=self.config.command_timeout)
        if info["fsid"] in self.backend.clusters:
            raise conflict(f"cluster {info['fsid']} is already known", code="cluster_known")
        self.app.db.execute("INSERT INTO ceph_clusters(fsid, conf, keyring, client_id) "
                            "VALUES(?, ?, ?, ?)", (info["fsid"], body.conf, body.keyring,
                                                    body.client_id))
        cluster = Cluster(fsid=info["fsid"], cli=cli, source="adopted")
        self._add(cluster)
        self.warnings[cluster.fsid] = info["warnings"]
        self.app.audit("ceph.cluster.adopt", info["fsid"], details={"conf": body.conf,
                                                                   "client_id": body.client_id})
        return await self._info(cluster)

    @operation("ceph.cluster.forget", delete="/ceph/clusters/{fsid}", tags=TAGS)
    async def forget(self, fsid: str) -> None:
        """Forget an adopted cluster (nothing in it changes; its file systems are unmounted)."""
        cluster = self.backend.clusters.get(fsid)
        if cluster is None:
            raise not_found("cluster", fsid)
        if cluster.source != "adopted":
            raise bad_request(f"cluster {fsid} is {cluster.source}, not adopted through the API",
                              code="not_adopted")
        for pool, owner in list(self.backend.owner.items()):
            if owner == fsid:
                await self.backend.mounts.release(pool)
                self.backend.owner.pop(pool, None)
        self.backend.clusters.pop(fsid, None)
        self.app.db.execute("DELETE FROM ceph_clusters WHERE fsid = ?", (fsid,))
        self.app.audit("ceph.cluster.forget", fsid)

    @operation("ceph.cluster.bootstrap", post="/ceph/clusters/bootstrap", body=BootstrapBody,
               job=True, tags=TAGS, errors=[409])
    async def start_bootstrap(self, body: BootstrapBody) -> Job:
        """Bootstrap a one-node cluster under ``<data_dir>/ceph/<name>`` (monitor, manager,
        BlueStore OSDs on sparse files, MDS daemons), supervised by this daemon; a job.
        Only when ``[ceph] allow_bootstrap`` is true (it starts daemons and makes big files)."""
        if not self.config.allow_bootstrap:
            raise APIError(409, "bootstrap_disabled", "bootstrapping a Ceph cluster on this host "
                           "is off: set [ceph] allow_bootstrap = true to allow it")
        try:
            addr = ipaddress.ip_address(body.address)
        except ValueError:
            raise bad_request("address must be an IP address of this host",
                              field="address") from None
        root = self.root / body.name
        if (root / MARKER).exists():
            raise conflict(f"a cluster {body.name!r} is already bootstrapped here",
                           code="cluster_exists")
        spec = Spec(name=body.name, osds=body.osds, osd_size=body.osd_size, mds=body.mds,
                    address=str(addr))

        async def job(ctx: JobContext) -> dict[str, Any]:
            ctx.progress(percent=5, description="creating the monitor")
            local = await bootstrap(root, spec, supervised=True)
            cluster = Cluster(fsid=local.fsid, cli=local.cli(self.config.command_timeout),
                              source="bootstrapped", local=local)
            self._add(cluster)
            return BootstrapResult(fsid=local.fsid, root=str(root),
                                   seconds=local.meta["bootstrap_seconds"],
                                   details={"osds": local.meta["osds"],
                                            "mds": local.meta["mds"],
                                            "mon": local.meta["mon_addr"]}).model_dump()

        self.app.audit("ceph.cluster.bootstrap", body.name, details=body.model_dump())
        return self.app.jobs.submit("ceph.bootstrap", job, params=body.model_dump(),
                                    lock=f"ceph-bootstrap:{body.name}",
                                    description=f"bootstrap Ceph cluster {body.name}")
