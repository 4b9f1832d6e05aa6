"""Bootstrap and run a one-node Ceph cluster under a directory SigmaVault owns.

``<root>`` (``<data_dir>/ceph/<cluster>``) holds everything: the config ``<cluster>.conf``, the
admin keyring ``<cluster>.client.admin.keyring`` (0600), monitor/manager/OSD/MDS data dirs
(``mon/<cluster>-a``, ``mgr/<cluster>-x``, ``osd/<cluster>-<id>``, ``mds/<cluster>-<id>``), the
``run`` dir (admin sockets), ``log`` and ``disks`` — the sparse files the BlueStore OSDs use as
their block device (``bluestore block path``, outside the OSD dirs). ``sigmavault.json`` records
what was made (fsid, monitor address, daemon ids).

The steps are the ones of Ceph's manual deployment, done with the Ceph tools:

1. ``ceph-authtool`` keyrings for ``mon.`` and ``client.admin``; ``monmaptool --create --addv``;
   ``ceph-mon --mkfs``; ``ceph-mon -f``.
2. ``ceph auth get-or-create mgr.x``; ``ceph-mgr -f``.
3. per OSD: ``ceph osd new <uuid>`` with a fresh cephx secret, a sparse file, ``ceph-osd --mkfs``
   (BlueStore creates its block file at ``bluestore block path``), ``ceph-osd -f``.
4. per MDS: ``ceph auth get-or-create mds.<id>``; ``ceph-mds -f`` (standbys: each file system
   takes one when it is created).

Every daemon runs in the foreground (``-f``) as our child: under a
:class:`sigmavault.supervisor.Supervisor` in the daemon (restarted when it dies), or as a plain
:func:`sigmavault.commands.start_process` handle in tests (``supervised=False``; such handles work
across event loops, so a module-scoped fixture can start and stop them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigmavault.commands import Process, run, start_process
from sigmavault.errors import APIError
from sigmavault.files import atomic_write
from sigmavault.supervisor import Supervisor

from .cli import CephCli

log = logging.getLogger("sigmavault.ceph")

MARKER = "sigmavault.json"
GiB = 1 << 30


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


@dataclass
class Spec:
    """What to bootstrap."""

    name: str = "ceph"
    osds: int = 1
    osd_size: int = 8 * GiB
    mds: int = 2
    address: str = "127.0.0.1"
    port: int | None = None
    osd_memory_target: int = 896 << 20      # Ceph's minimum
    mds_cache_memory_limit: int = 128 << 20
    disk_dir: str | None = None              # where the OSDs' sparse files go (default <root>/disks)
    crush_host: str | None = None            # the OSDs' CRUSH host bucket (default: the hostname)


def render_conf(root: Path, name: str, fsid: str, mon_addr: str, spec: Spec,
                osd_blocks: dict[int, str]) -> str:
    """The cluster's ceph.conf: every path under ``root``."""
    r = str(root)
    lines = [
        "# written by SigmaVault (sigmavault_ceph.bootstrap); daemons run with -f under it",
        "[global]",
        f"fsid = {fsid}",
        f"mon host = {mon_addr}",
        "mon initial members = a",
        f"public addr = {spec.address}",
        "auth cluster required = cephx",
        "auth service required = cephx",
        "auth client required = cephx",
        "ms bind msgr1 = false",
        "auth allow insecure global id reclaim = false",
        f"run dir = {r}/run",
        f"mon data = {r}/mon/$cluster-$id",
        f"mgr data = {r}/mgr/$cluster-$id",
        f"osd data = {r}/osd/$cluster-$id",
        f"mds data = {r}/mds/$cluster-$id",
        f"keyring = {r}/$cluster.$name.keyring",
        f"log file = {r}/log/$cluster-$name.log",
        "osd pool default size = 1",
        "osd pool default min size = 1",
        "osd pool default pg num = 8",
        "osd pool default pgp num = 8",
        "osd pool default pg autoscale mode = off",
        "osd crush chooseleaf type = 0",
        "mon allow pool size one = true",
        "mon allow pool delete = true",
        "mon warn on pool no redundancy = false",
        "mon pg warn min per osd = 0",
        "mon data avail warn = 5",        # the host's disk is not the cluster's business here
        "mgr stats period = 2",
        "paxos propose interval = 0.1",   # one node: commit map changes at once, not each second
        "mds beacon interval = 1",
        "[mon]",
        f"admin socket = {r}/run/$cluster-$name.asok",
        "[mgr]",
        f"admin socket = {r}/run/$cluster-$name.asok",
        "[osd]",
        f"admin socket = {r}/run/$cluster-$name.asok",
        "osd objectstore = bluestore",
        "bluestore block create = true",
        f"bluestore block size = {spec.osd_size}",
        f"osd memory target = {spec.osd_memory_target}",
        "osd scrub backoff ratio = 0",
        "osd max scrubs = 2",
        *([f"crush location = root=default host={spec.crush_host}"] if spec.crush_host else []),
        "[mds]",
        f"admin socket = {r}/run/$cluster-$name.asok",
        f"mds cache memory limit = {spec.mds_cache_memory_limit}",
        "[client]",
        f"admin socket = {r}/run/$cluster-$name.$pid.asok",
    ]
    for osd_id, block in sorted(osd_blocks.items()):
        lines += [f"[osd.{osd_id}]", f"bluestore block path = {block}"]
    return "\n".join(lines) + "\n"


class Daemon:
    """One Ceph daemon: supervised (restarted when it dies) or a plain child process."""

    def __init__(self, name: str, argv: list[str], log_path: Path, supervised: bool) -> None:
        self.name, self.argv, self.log_path, self.supervised = name, argv, log_path, supervised
        self.supervisor: Supervisor | None = None
        self.process: Process | None = None

    async def start(self) -> None:
        if self.supervised:
            self.supervisor = Supervisor(self.argv, name=self.name, log_path=self.log_path,
                                         stop_timeout=20.0)
            await self.supervisor.start()
        else:
            self.process = start_process(self.argv, log_path=self.log_path, new_session=True)

    @property
    def pid(self) -> int | None:
        if self.supervisor is not None:
            return self.supervisor.pid
        if self.process is not None and self.process.returncode is None:
            return self.process.pid
        return None

    async def stop(self) -> None:
        if self.supervisor is not None:
            await self.supervisor.stop()
        elif self.process is not None:
            await self.process.stop(timeout=20.0)


@dataclass
class LocalCluster:
    """A cluster SigmaVault bootstrapped under ``root``: its files, and the daemons it runs."""

    root: Path
    name: str
    meta: dict[str, Any]
    daemons: dict[str, Daemon] = field(default_factory=dict)
    supervised: bool = True   # how daemons added later run (as the cluster was started)

    @property
    def conf(self) -> Path:
        return self.root / f"{self.name}.conf"

    @property
    def admin_keyring(self) -> Path:
        return self.root / f"{self.name}.client.admin.keyring"

    @property
    def member(self) -> bool:
        """OSDs only, joined to a cluster whose monitor runs on another node (``join.py``)."""
        return self.meta.get("role") == "member"

    @property
    def client_id(self) -> str:
        """The key this node uses: ``admin`` where it bootstrapped the cluster, ``bootstrap-osd``
        on a member."""
        return str(self.meta.get("client_id", "admin"))

    @property
    def keyring(self) -> Path:
        return self.root / f"{self.name}.client.{self.client_id}.keyring"

    @property
    def fsid(self) -> str:
        return str(self.meta["fsid"])

    def cli(self, timeout: float = 60.0) -> CephCli:
        return CephCli(conf=str(self.conf), keyring=str(self.keyring), client_id=self.client_id,
                       cluster=self.name, timeout=timeout)

    @classmethod
    def load(cls, root: Path) -> LocalCluster:
        meta = json.loads((root / MARKER).read_text())
        return cls(root=root, name=meta["name"], meta=meta)

    def _save(self) -> None:
        with atomic_write(self.root / MARKER) as f:
            f.write(json.dumps(self.meta, indent=2).encode())

    def _write_conf(self, spec: Spec) -> None:
        text = render_conf(self.root, self.name, self.fsid, self.meta["mon_addr"], spec,
                           {int(k): v for k, v in self.meta["osd_blocks"].items()})
        with atomic_write(self.conf) as f:
            f.write(text.encode())

    def _argv(self, kind: str, ident: str) -> list[str]:
        argv = [f"ceph-{kind}", "--cluster", self.name, "-c", str(self.conf), "-i", ident, "-f"]
        if kind != "mon":
            argv += ["--keyring", str(self.root / kind / f"{self.name}-{ident}" / "keyring")]
        return argv

    async def start_daemon(self, kind: str, ident: str, supervised: bool) -> Daemon:
        key = f"{kind}.{ident}"
        if key in self.daemons and self.daemons[key].pid is not None:
            return self.daemons[key]
        d = Daemon(f"ceph-{key}", self._argv(kind, ident),
                   self.root / "log" / f"{kind}.{ident}.out", supervised)
        await d.start()
        self.daemons[key] = d
        return d

    async def start(self, supervised: bool = True, wait: float = 90.0) -> None:
        """Start every daemon of the cluster (after a reboot or a daemon restart) and wait until
        the monitor answers, every OSD is up and the MDS daemons registered."""
        self.supervised = supervised
        if self.member:
            for osd_id in self.meta["osds"]:
                await self.start_daemon("osd", str(osd_id), supervised)
            await self.wait_own_osds(wait)
            return
        await self.start_daemon("mon", "a", supervised)
        await self.wait_mon(wait)
        await self.start_daemon("mgr", "x", supervised)
        for osd_id in self.meta["osds"]:
            await self.start_daemon("osd", str(osd_id), supervised)
        for mds_id in self.meta["mds"]:
            await self.start_daemon("mds", mds_id, supervised)
        await self.wait_osds(len(self.meta["osds"]), wait)
        await self.wait_mgr(wait)

    async def stop(self) -> None:
        """Stop every daemon this process started (MDS and OSDs first, the monitor last)."""
        order = {"mds": 0, "mgr": 1, "osd": 2, "mon": 3}
        daemons = sorted(self.daemons.items(), key=lambda kv: order[kv[0].split(".")[0]])
        groups: dict[int, list[Daemon]] = {}
        for key, d in daemons:
            groups.setdefault(order[key.split(".")[0]], []).append(d)
        for _, ds in sorted(groups.items()):
            await asyncio.gather(*(d.stop() for d in ds), return_exceptions=True)
        self.daemons.clear()

    # --- waiting -------------------------------------------------------------------------------

    async def _poll(self, what: str, check: Any, wait: float) -> Any:
        deadline = time.monotonic() + wait
        last: Any = None
        while True:
            try:
                last = await check()
                if last:
                    return last
            except APIError as exc:
                last = exc.message
            if time.monotonic() > deadline:
                raise APIError(504, "ceph_timeout", f"{what} within {wait:g} s (last: {last})")
            await asyncio.sleep(0.5)

    async def wait_mon(self, wait: float = 60.0) -> None:
        cli = self.cli(timeout=10)
        await self._poll("the monitor did not answer",
                         lambda: cli.json("mon", "stat", what="mon stat"), wait)

    async def wait_osds(self, count: int, wait: float = 60.0) -> None:
        cli = self.cli(timeout=10)

        async def up() -> bool:
            stat = await cli.json("osd", "stat", what="osd stat")
            return int(stat.get("num_up_osds", 0)) >= count and int(stat.get("num_in_osds", 0)) >= count

        await self._poll(f"{count} OSD(s) were not up", up, wait)

    async def wait_own_osds(self, wait: float = 60.0) -> None:
        """Until every OSD of this node is up and in (the osdmap, as any key may read it)."""
        cli = self.cli(timeout=10)
        mine = {int(i) for i in self.meta["osds"]}

        async def up() -> bool:
            dump = await cli.json("osd", "dump", what="osd dump")
            states = {int(o["osd"]): (o.get("up"), o.get("in")) for o in dump.get("osds", [])}
            return all(states.get(i) == (1, 1) for i in mine)

        await self._poll(f"OSD(s) {sorted(mine)} were not up", up, wait)

    async def wait_mgr(self, wait: float = 60.0) -> None:
        cli = self.cli(timeout=10)

        async def volumes() -> bool:  # the volumes module answers once the mgr is active
            await cli.json("fs", "volume", "ls", what="fs volume ls", timeout=10)
            return True

        await self._poll("the manager's volumes module did not answer", volumes, wait)

    # --- growing -------------------------------------------------------------------------------

    async def add_osd(self, spec: Spec, supervised: bool | None = None,
                      block: str | None = None) -> int:
        """A new BlueStore OSD on a sparse file of ``spec.osd_size`` bytes; returns its id.
        ``block``: a block device, or a file path (made sparse when missing), to use instead."""
        cli = self.cli()
        osd_uuid = str(uuid.uuid4())
        secret = (await run(["ceph-authtool", "--gen-print-key"])).stdout.strip()
        osd_id = int((await cli.raw("osd", "new", osd_uuid, "-i", "-", what="osd new",
                                    input=json.dumps({"cephx_secret": secret}).encode())
                      ).stdout.strip())
        if block is None:
            disk_dir = Path(spec.disk_dir) if spec.disk_dir else self.root / "disks"
            disk_dir.mkdir(parents=True, exist_ok=True)
            block = str(disk_dir / f"{self.name}-{osd_id}.img")
            with open(block, "wb") as f:
                f.truncate(spec.osd_size)
        elif not os.path.exists(block):
            with open(block, "wb") as f:
                f.truncate(spec.osd_size)
        self.meta["osd_blocks"][str(osd_id)] = block
        self._write_conf(spec)
        data = self.root / "osd" / f"{self.name}-{osd_id}"
        data.mkdir(parents=True, exist_ok=True)
        keyring = data / "keyring"
        await run(["ceph-authtool", "--create-keyring", str(keyring), "--name", f"osd.{osd_id}",
                   "--add-key", secret])
        os.chmod(keyring, 0o600)
        await run(["ceph-osd", "--cluster", self.name, "-c", str(self.conf), "-i", str(osd_id),
                   "--mkfs", "--osd-uuid", osd_uuid, "--keyring", str(keyring)], timeout=180)
        self.meta["osds"].append(osd_id)
        self._save()
        await self.start_daemon("osd", str(osd_id), self.supervised if supervised is None
                                else supervised)
        return osd_id

    async def add_mds(self, supervised: bool | None = None) -> str:
        """A new MDS daemon (a standby until a file system takes it)."""
        taken = set(self.meta["mds"])
        ident = next(f"m{i}" for i in range(1000) if f"m{i}" not in taken)
        data = self.root / "mds" / f"{self.name}-{ident}"
        data.mkdir(parents=True, exist_ok=True)
        await self.cli().raw("auth", "get-or-create", f"mds.{ident}", "mon", "allow profile mds",
                             "osd", "allow rwx", "mds", "allow", "mgr", "allow profile mds",
                             "-o", str(data / "keyring"), what="auth get-or-create mds")
        os.chmod(data / "keyring", 0o600)
        self.meta["mds"].append(ident)
        self._save()
        await self.start_daemon("mds", ident, self.supervised if supervised is None
                                else supervised)
        return ident


async def bootstrap(root: Path, spec: Spec, supervised: bool = True) -> LocalCluster:
    """Create a one-node cluster under ``root`` (which must not hold one yet) and start it.

    Returns with the monitor, manager, ``spec.osds`` OSDs up and ``spec.mds`` MDS daemons
    started. On failure every daemon started is stopped again (the files stay for a look)."""
    started = time.monotonic()
    if (root / MARKER).exists():
        raise APIError(409, "cluster_exists", f"a cluster is already bootstrapped in {root}")
    for sub in ("run", "log", "mon", "mgr", "osd", "mds"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    port = spec.port or free_port(spec.address)
    mon_addr = f"v2:{spec.address}:{port}"
    cluster = LocalCluster(root=root, name=spec.name, meta={
        "name": spec.name, "fsid": str(uuid.uuid4()), "mon_addr": mon_addr, "osds": [],
        "mds": [], "osd_blocks": {}, "spec": {k: v for k, v in vars(spec).items()}},
        supervised=supervised)
    cluster._write_conf(spec)
    mon_keyring = root / f"{spec.name}.mon.keyring"
    admin = cluster.admin_keyring
    await run(["ceph-authtool", "--create-keyring", str(mon_keyring), "--gen-key", "-n", "mon.",
               "--cap", "mon", "allow *"])
    await run(["ceph-authtool", "--create-keyring", str(admin), "--gen-key", "-n", "client.admin",
               "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mds", "allow *",
               "--cap", "mgr", "allow *"])
    await run(["ceph-authtool", str(mon_keyring), "--import-keyring", str(admin)])
    for k in (mon_keyring, admin):
        os.chmod(k, 0o600)
    monmap = root / "monmap"
    await run(["monmaptool", "--create", "--addv", "a", f"[{mon_addr}]", "--fsid", cluster.fsid,
               str(monmap)])
    await run(["ceph-mon", "--cluster", spec.name, "-c", str(cluster.conf), "--mkfs", "-i", "a",
               "--monmap", str(monmap), "--keyring", str(mon_keyring)], timeout=120)
    monmap.unlink()
    mon_keyring.unlink()   # the monitor keeps its own copy in its data dir
    cluster._save()
    try:
        await cluster.start_daemon("mon", "a", supervised)
        await cluster.wait_mon()
        mgr_dir = root / "mgr" / f"{spec.name}-x"
        mgr_dir.mkdir(parents=True, exist_ok=True)
        await cluster.cli().raw("auth", "get-or-create", "mgr.x", "mon", "allow profile mgr",
                                "osd", "allow *", "mds", "allow *", "-o", str(mgr_dir / "keyring"),
                                what="auth get-or-create mgr")
        os.chmod(mgr_dir / "keyring", 0o600)
        await cluster.start_daemon("mgr", "x", supervised)
        # OSD mkfs runs one after another (2 cores), each daemon starts when its mkfs is done
        for _ in range(spec.osds):
            await cluster.add_osd(spec, supervised)
        for _ in range(spec.mds):
            await cluster.add_mds(supervised)
        await cluster.wait_osds(spec.osds)
        await cluster.wait_mgr()
    except BaseException:
        await cluster.stop()
        raise
    cluster.meta["bootstrap_seconds"] = round(time.monotonic() - started, 1)
    cluster._save()
    log.info("ceph cluster %s bootstrapped in %s s", spec.name, cluster.meta["bootstrap_seconds"],
             extra={"root": str(root), "fsid": cluster.fsid})
    return cluster
