"""OSDs through the API: each cluster's OSDs per host with their state and usage, placement-group
states and recovery, a block device or a sparse file added as a BlueStore OSD (a job, on a
cluster whose daemons this SigmaVault runs), and the disks of this host that are OSDs (for the
disk inventory's ``disk_roles`` hook)."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import shutil
import socket
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmavault import operation
from sigmavault.commands import run
from sigmavault.errors import APIError, bad_request, conflict, not_found
from sigmavault.jobs import Job, JobContext

from . import status
from .base import Cluster
from .bootstrap import LocalCluster, Spec
from .models import OsdAddBody, OsdInfo, PgSummary
from .service import TAGS, CephService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

C = "/ceph/clusters/{fsid}"
MIN_OSD = 2 << 30          # what BlueStore needs with its metadata and a little data
UP_WAIT = 120.0            # seconds for a new OSD to come up and in


def local_blocks(cluster: Cluster) -> dict[int, str]:
    """OSD id → block device or file of the OSDs whose daemons SigmaVault runs here."""
    if cluster.local is None:
        return {}
    blocks = cluster.local.meta.get("osd_blocks") or {}
    return {int(i): str(blocks[str(i)]) for i in cluster.local.meta.get("osds") or []
            if str(i) in blocks}


def _block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


class CephOsdService:
    """``app.services[CephOsdService]``: the ``ceph.cluster.osds*`` and ``ceph.cluster.pgs``
    operations, on the clusters of :class:`CephService`."""

    def __init__(self, app: SigmaVault) -> None:
        self.app = app

    @property
    def ceph(self) -> CephService:
        return self.app.services[CephService]

    def cluster(self, fsid: str) -> Cluster:
        """A known cluster by fsid or name (404 otherwise)."""
        clusters = self.ceph.backend.clusters
        if fsid in clusters:
            return clusters[fsid]
        for c in clusters.values():
            if c.cli.cluster == fsid:
                return c
        raise not_found("cluster", fsid)

    # --- reading -------------------------------------------------------------------------------

    async def osd_list(self, cluster: Cluster) -> list[dict[str, Any]]:
        cli = cluster.cli
        dump, df, tree, meta = await asyncio.gather(
            cli.json("osd", "dump", what="osd dump"), cli.json("osd", "df", what="osd df"),
            cli.json("osd", "tree", what="osd tree"),
            cli.json("osd", "metadata", what="osd metadata"))
        blocks = {i: os.path.realpath(b) for i, b in local_blocks(cluster).items()}
        rows = status.osd_rows(cluster.fsid, dump or {}, df or {}, tree or {}, meta or [], blocks)
        host = socket.gethostname()
        for r in rows:   # an OSD of this host that another tool runs: its real block device
            if not r["local"] and r["host"] == host and r["device"]:
                r["device"] = os.path.realpath(r["device"])
        return rows

    @operation("ceph.cluster.osds", get=C + "/osds", response=list[OsdInfo], tags=TAGS)
    async def osds(self, fsid: str) -> list[dict[str, Any]]:
        """The cluster's OSDs by host: up/in, block device or file, size, used, PGs, and whether
        this SigmaVault runs the daemon (``local``)."""
        return await self.osd_list(self.cluster(fsid))

    @operation("ceph.cluster.pgs", get=C + "/pgs", response=PgSummary, tags=TAGS)
    async def pgs(self, fsid: str) -> dict[str, Any]:
        """Health, OSD counts, placement-group states (state → count), recovery figures and the
        manager's progress events, from ``ceph status``."""
        cluster = self.cluster(fsid)
        return status.pg_summary(cluster.fsid,
                                 await cluster.cli.json("status", what="status") or {})

    async def disk_roles(self) -> dict[str, dict[str, Any]]:
        """Block devices of this host that are OSDs of a known cluster → their role. OSDs that
        SigmaVault runs are known from its own records; others from ``osd metadata`` (their
        hostname is this host's). A cluster that does not answer adds only the former."""
        roles: dict[str, dict[str, Any]] = {}
        host = socket.gethostname()

        def add(path: str | None, cluster: Cluster, osd: int) -> None:
            if path and _block_device(path):
                roles[os.path.realpath(path)] = {
                    "kind": "ceph_osd", "backend": "ceph", "cluster": cluster.fsid,
                    "cluster_name": cluster.cli.cluster, "osd": osd,
                    "description": f"osd.{osd} of Ceph cluster {cluster.cli.cluster} "
                                   f"({cluster.fsid})"}

        for cluster in list(self.ceph.backend.clusters.values()):
            for osd, block in local_blocks(cluster).items():
                add(block, cluster, osd)
            try:
                meta = await cluster.cli.json("osd", "metadata", what="osd metadata", timeout=10)
            except APIError:
                continue
            for m in meta or []:
                if m.get("hostname") == host and "id" in m:
                    add(m.get("bluestore_bdev_path"), cluster, int(m["id"]))
        return roles

    # --- adding --------------------------------------------------------------------------------

    async def _check_device(self, device: str) -> str:
        if not os.path.isabs(device) or "\x00" in device:
            raise bad_request("device must be an absolute path", field="device")
        if not os.path.exists(device):
            raise bad_request(f"device {device} does not exist", code="invalid_device",
                              field="device")
        real = os.path.realpath(device)
        if not _block_device(real):
            raise bad_request(f"{device} is not a block device (give a sparse file as `file` "
                              f"and `size`)", code="invalid_device", field="device")
        if real in await self.disk_roles():
            raise conflict(f"{device} is an OSD already", code="device_in_use", field="device")
        try:   # O_EXCL on a block device: EBUSY while mounted or held (pool member, md, LVM)
            fd = os.open(real, os.O_RDONLY | os.O_EXCL)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise conflict(f"{device} is in use (mounted or held by another device)",
                               code="device_in_use", field="device") from None
            raise bad_request(f"{device}: {exc.strerror}", code="invalid_device",
                              field="device") from None
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
        finally:
            os.close(fd)
        if size < MIN_OSD:
            raise bad_request(f"{device} has {size} bytes; an OSD needs at least {MIN_OSD}",
                              code="device_too_small", field="device")
        found = await run(["blkid", "-p", "-o", "export", real], check=False, timeout=30)
        if found.returncode == 0 and "TYPE=" in found.stdout:
            kind = next((ln.split("=", 1)[1] for ln in found.stdout.splitlines()
                         if ln.startswith("TYPE=")), "?")
            raise conflict(f"{device} holds a {kind} signature: wipe it first (wipefs -a) if "
                           f"its data may go", code="device_has_data", field="device")
        return device   # as given: a /dev/disk/by-id name stays valid across reboots

    @staticmethod
    def _check_file(path: str) -> str:
        if not os.path.isabs(path) or "\x00" in path:
            raise bad_request("file must be an absolute path", field="file")
        p = Path(path)
        if p.exists() or p.is_symlink():
            raise conflict(f"{path} exists: name a new file", code="file_exists", field="file")
        if not p.parent.is_dir():
            raise bad_request(f"{p.parent} is not a directory", field="file")
        if str(p).startswith("/dev/"):
            raise bad_request("a file for an OSD cannot be under /dev", field="file")
        return str(p)

    @operation("ceph.cluster.osd.add", post=C + "/osds", body=OsdAddBody, job=True, tags=TAGS,
               errors=[404, 409])
    async def add(self, fsid: str, body: OsdAddBody) -> Job:
        """Add a BlueStore OSD on a whole block device (``device``, wiped) or on a new sparse
        file (``size``, and ``file`` or one under the cluster's disks dir); a job that ends
        when the OSD is up and in. Only on a cluster whose daemons this SigmaVault runs."""
        cluster = self.cluster(fsid)
        local = cluster.local
        if local is None:
            raise conflict(f"cluster {cluster.fsid} is {cluster.source}: OSDs are added here "
                           f"only to a cluster whose daemons this SigmaVault runs",
                           code="not_local")
        if body.device is not None and (body.file is not None or body.size is not None):
            raise bad_request("give a device, or a file size (and path), not both",
                              field="file" if body.file is not None else "size")
        if body.device is None and body.size is None:
            raise bad_request("name a block device (device) or the size of a new sparse file "
                              "(size)", field="size" if body.file is not None else "device")
        block = await self._check_device(body.device) if body.device is not None else (
            self._check_file(body.file) if body.file is not None else None)
        spec = self._spec(local)
        spec = dataclasses.replace(spec, osd_size=body.size or spec.osd_size)
        params = body.model_dump(exclude_none=True)

        async def job(ctx: JobContext) -> dict[str, Any]:
            started = time.monotonic()
            ctx.progress(percent=5, description=f"creating an OSD on {block or 'a sparse file'}")
            before = set(await cluster.cli.json("osd", "ls", what="osd ls") or [])
            try:
                osd = await local.add_osd(spec, block=block)
            except BaseException:
                await asyncio.shield(self._undo(cluster, local, before, spec,
                                                created=body.device is None))
                raise
            ctx.progress(percent=80, description=f"osd.{osd}: waiting until it is up and in")
            await self._wait_up(cluster, osd, ctx)
            ctx.progress(percent=100, description=f"osd.{osd} is up and in")
            return {"osd": osd, "fsid": cluster.fsid,
                    "device": local.meta["osd_blocks"][str(osd)],
                    "seconds": round(time.monotonic() - started, 1)}

        self.app.audit("ceph.osd.add", cluster.fsid, details=params)
        return self.app.jobs.submit("ceph.osd_add", job, params={"fsid": cluster.fsid, **params},
                                    lock=f"ceph-osds:{cluster.fsid}",
                                    description=f"add an OSD to Ceph cluster {cluster.cli.cluster}")

    @staticmethod
    def _spec(local: LocalCluster) -> Spec:
        names = {f.name for f in dataclasses.fields(Spec)}
        return Spec(**{k: v for k, v in (local.meta.get("spec") or {}).items() if k in names})

    async def _wait_up(self, cluster: Cluster, osd: int, ctx: JobContext) -> None:
        deadline = time.monotonic() + UP_WAIT
        while True:
            dump = await cluster.cli.json("osd", "dump", what="osd dump") or {}
            row: dict[str, Any] = next((o for o in dump.get("osds") or [] if o.get("osd") == osd), {})
            if row.get("up") and row.get("in"):
                return
            if time.monotonic() > deadline:
                raise APIError(504, "ceph_timeout", f"osd.{osd} was not up and in within "
                               f"{UP_WAIT:g} s (see {cluster.local.root if cluster.local else ''}"
                               f"/log)")
            await asyncio.sleep(0.5)

    async def _undo(self, cluster: Cluster, local: LocalCluster, before: set[int], spec: Spec,
                    created: bool) -> None:
        """After a failed add: the new OSD id purged from the cluster, its daemon stopped, its
        data dir, its record and (when made here) its sparse file removed."""
        try:
            now = set(await cluster.cli.json("osd", "ls", what="osd ls") or [])
        except APIError:
            now = set()
        stray = {int(i) for i in now - before} | {
            int(i) for i in local.meta.get("osd_blocks", {})
            if int(i) not in local.meta.get("osds", [])}
        for osd in sorted(stray):
            daemon = local.daemons.pop(f"osd.{osd}", None)
            if daemon is not None:
                await daemon.stop()
            if osd in now:
                await cluster.cli.raw("osd", "purge", str(osd), "--yes-i-really-mean-it",
                                      what="osd purge", check=False)
            block = local.meta.get("osd_blocks", {}).pop(str(osd), None)
            if osd in local.meta.get("osds", []):
                local.meta["osds"].remove(osd)
            if created and block and os.path.isfile(block):
                os.unlink(block)
            shutil.rmtree(local.root / "osd" / f"{local.name}-{osd}", ignore_errors=True)
        if stray:
            local._save()
            local._write_conf(spec)
