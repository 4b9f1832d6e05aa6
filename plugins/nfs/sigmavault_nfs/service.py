"""The NFS service: SigmaVault's own NFS-Ganesha serving the shares of ``sigmavault-shares``.

It is the ``nfs`` share protocol (``register_share_protocols``): ``apply(shares, accounts)`` turns
every share listing ``nfs`` into a Ganesha export (pseudo path ``/<share>``, ``sec=sys``, client
rules, squash), renders ``<data>/nfs/ganesha.conf`` (probed by a throwaway Ganesha first,
written atomically), re-reads the exports with SIGHUP when Ganesha runs (clients stay
connected), starts it when there is something to serve and stops it when there is nothing.
Ganesha is supervised: a death raises an ``alert`` and a ``share.event`` ``service_down``, the
restart a ``service_up``. A poller turns the TCP connections to the NFS port into
``client_connected``/``client_disconnected`` share events.

Access: sec=sys sends the client's uid and gid; NAS users have the same uid everywhere. Ganesha's
VFS FSAL checks mode bits, not POSIX ACLs, so this protocol has ``mode_bits(options)``: the shares
plugin gives an NFS share's folder its access list as mode bits (owner, group, other; the ACL
without named entries says the same) and refuses lists mode bits cannot express; the export is
read-write and the mode bits decide per user. Export ids are stored (``nfs_export_ids``) so a
share keeps its id, and clients' file handles stay valid, across changes and restarts.
"""

from __future__ import annotations

import asyncio
import logging
import pwd
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sigmavault import operation
from sigmavault.api import validation_error
from sigmavault.app import SigmaVault
from sigmavault.commands import run
from sigmavault.errors import APIError
from sigmavault.hookspecs import AccessStep, ResolvedShare, ShareAccount
from sigmavault.supervisor import Supervisor

from .clients import connections, v4_clients
from .conf import SNAPSHOT_ROOT, ClientRule, Export, GaneshaSettings, client_spec
from .config import NfsConfig
from .explain import nfs_steps
from .models import ClientsOut, ExportOut, NfsOptions, NfsStatus
from .server import GaneshaServer, kernel_nfsd_present, rpcbind_running

log = logging.getLogger("sigmavault.nfs")
ALERT_ID = "nfs:ganesha"
CHECK = ("rendered from validated models, clashes refused, then served by a throwaway "
         "ganesha.nfsd on a free loopback port whose log must show no CONFIG/EXPORT/FSAL error")

MIGRATIONS = ["""
CREATE TABLE nfs_export_ids (
    key TEXT PRIMARY KEY,
    export_id INTEGER NOT NULL UNIQUE
);
"""]


def field_error(status: int, code: str, field: str, message: str) -> APIError:
    return APIError(status, code, f"{field}: {message}", {"field": field})


def _existing(path: Path, stop: Path) -> Path:
    """``path`` or its nearest existing ancestor not above ``stop`` (a share's folder is made
    after its check; the probe serves the folder that will hold it)."""
    p = path
    while not p.exists() and p != stop and p.parent != p:
        p = p.parent
    return p


class NfsService:
    """Ganesha, its exports and clients; registered as the ``nfs`` share protocol."""

    name = "nfs"
    options_model = NfsOptions

    def __init__(self, app: SigmaVault, config: NfsConfig) -> None:
        self.app, self.config = app, config
        self.settings = GaneshaSettings(
            data_dir=app.data_dir / "nfs", port=config.port, bind_addr=config.bind_addr,
            versions=tuple(sorted(set(config.versions))), grace_period=config.grace_period,
            lease_lifetime=config.lease_lifetime, attr_expiration=config.attr_expiration,
            manage_gids=config.manage_gids, log_level=config.log_level)
        self.server = GaneshaServer(self.settings, on_exit=self._died, on_restart=self._restarted)
        self.rpcbind: Supervisor | None = None
        self.lock = asyncio.Lock()
        self.live: list[Export] = []
        self.shares: dict[str, ResolvedShare] = {}
        self.accounts: list[ShareAccount] = []
        self._supervised = False
        self._poller: asyncio.Task[None] | None = None
        self._connections: set[tuple[str, int]] = set()
        self._version: str | None = None
        self.left_out: dict[str, str] = {}  # share → why apply() did not export it

    # --- events ------------------------------------------------------------------------------------

    def _share_event(self, **data: Any) -> None:
        if "share.event" in self.app.events.types:
            self.app.events.publish("share.event", {"protocol": "nfs", **data})

    def _died(self, code: int | None) -> None:
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        self.app.events.publish("alert", {
            "id": ALERT_ID, "severity": "critical", "source": "nfs", "active": True,
            "message": f"NFS-Ganesha died ({how}); restarting it", "details": {"returncode": code}})
        self._share_event(kind="service_down", message=f"ganesha.nfsd died ({how})",
                          details={"returncode": code})

    def _restarted(self, restarts: int) -> None:
        self.app.events.publish("alert", {
            "id": ALERT_ID, "severity": "warning", "source": "nfs", "active": True,
            "message": f"NFS-Ganesha died and was restarted (restart {restarts})",
            "details": {"restarts": restarts, "pid": self.server.pid}})
        self._share_event(kind="service_up", message=f"ganesha.nfsd restarted (pid "
                          f"{self.server.pid})", details={"restarts": restarts})

    # --- lifecycle ---------------------------------------------------------------------------------

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self._supervised:
            await self.server.stop()
            self._supervised = False
        if self.rpcbind is not None:
            await self.rpcbind.stop()
            self.rpcbind = None

    async def _ensure_rpcbind(self) -> None:
        if 3 not in self.settings.versions or rpcbind_running():
            return
        if self.rpcbind is None:
            self.rpcbind = Supervisor(["rpcbind", "-f", "-w"], name="rpcbind",
                                      log_path=self.settings.data_dir / "log" / "rpcbind.out")
            await self.rpcbind.start()
        for _ in range(100):
            if rpcbind_running():
                return
            await asyncio.sleep(0.05)
        raise APIError(503, "rpcbind_unavailable", "NFSv3 needs rpcbind, and it did not start")

    async def _start_ganesha(self) -> None:
        await self.server.start()
        self._supervised = True
        await self.server.wait_ready()
        self._share_event(kind="service_up", message=f"ganesha.nfsd started on port "
                          f"{self.settings.port}")
        if self.config.clients_poll_interval > 0 and self._poller is None:
            self._poller = self.app.spawn(self._poll_clients())

    async def _stop_ganesha(self, why: str) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        await self.server.stop()
        self._supervised = False
        if self.rpcbind is not None:  # ours, for NFSv3: nothing registers with it now
            await self.rpcbind.stop()
            self.rpcbind = None
        self._share_event(kind="service_down", message=f"ganesha.nfsd stopped: {why}")

    # --- shares → exports --------------------------------------------------------------------------

    def _ids(self, keys: Sequence[str], store: bool) -> dict[str, int]:
        """A stable export id per key; new keys get ids (stored only when ``store``)."""
        rows = {r["key"]: r["export_id"] for r in self.app.db.all(
            "SELECT key, export_id FROM nfs_export_ids")}
        used = set(rows.values())
        out = {}
        for key in keys:
            if key in rows:
                out[key] = rows[key]
                continue
            new = max(used, default=0) + 1
            if new > 65535:
                new = next(i for i in range(1, 65536) if i not in used)
            used.add(new)
            out[key] = new
            if store:
                self.app.db.execute("INSERT INTO nfs_export_ids (key, export_id) VALUES (?, ?)",
                                    (key, new))
        return out

    @staticmethod
    def _rules(r: ResolvedShare, opts: NfsOptions) -> tuple[ClientRule, ...]:
        rules: list[ClientRule] = []
        for field, hosts in (("hosts_deny", r.hosts_deny),):
            for i, h in enumerate(hosts):
                try:
                    rules.append(ClientRule((client_spec(h),), "none"))
                except ValueError as exc:
                    raise field_error(422, "invalid_client", f"{field}.{i}", str(exc)) from None
        if opts.clients is not None:
            rules += [ClientRule((c.host,), c.access) for c in opts.clients]
        elif r.hosts_allow:
            for i, h in enumerate(r.hosts_allow):
                try:
                    rules.append(ClientRule((client_spec(h),), "rw"))
                except ValueError as exc:
                    raise field_error(422, "invalid_client", f"hosts_allow.{i}", str(exc)) \
                        from None
        else:
            rules.append(ClientRule(("*",), "rw"))
        return tuple(rules)

    def _anon(self, opts: NfsOptions, accounts: list[ShareAccount]) -> tuple[int, int]:
        """uid and gid squashed requests act as: ``anon_user``'s, else nobody's (65534; Ganesha's
        own default would be -2, an id no account has)."""
        if opts.anon_user is None:
            try:
                nobody = pwd.getpwnam("nobody")
                return nobody.pw_uid, nobody.pw_gid
            except KeyError:
                return 65534, 65534
        account = next((a for a in accounts if a.name == opts.anon_user), None)
        if account is None:
            raise field_error(422, "unknown_user", "options.nfs.anon_user",
                              f"no NAS user {opts.anon_user}")
        try:
            gid = pwd.getpwnam(account.name).pw_gid
        except KeyError:
            gid = account.uid
        return account.uid, gid

    def mode_bits(self, options: dict[str, Any]) -> bool:
        """Whether a share with these NFS options needs its access list expressible by mode bits
        (Ganesha's check; the shares plugin then applies it so, and refuses other lists): not
        with squash 'all' (every request is one NAS user) nor ``per_user_access = "mode_bits"``.
        """
        opts = NfsOptions.model_validate(options)
        return opts.squash != "all" and self.config.per_user_access == "refuse"

    def _level(self, r: ResolvedShare, opts: NfsOptions) -> str:
        """The export's level for ``r``: read-only when no NAS user may write (the mode bits
        decide per user below it), or 409 naming ``options.nfs`` when nobody has access."""
        if opts.squash == "all":
            assert opts.anon_user is not None
            level = r.levels.get(opts.anon_user, "none")
            if level == "none":
                raise field_error(409, "nfs_no_access", "options.nfs.anon_user",
                                  f"{opts.anon_user} has no access to share {r.name}, and squash "
                                  "'all' makes every NFS request act as that user")
            return level
        levels = set(r.levels.values())
        level = "write" if "write" in levels or not levels else \
            "read" if "read" in levels else "none"
        if level == "none":
            raise field_error(409, "nfs_no_access", "options.nfs", f"no NAS user has access to "
                              f"share {r.name}")
        return level

    def _convert(self, shares: Sequence[ResolvedShare], accounts: list[ShareAccount], *,
                 store: bool, probing: bool = False, strict: bool = True) -> list[Export]:
        plans: list[tuple[str, dict[str, Any]]] = []
        left: dict[str, str] = {}
        for r in shares:
            try:
                opts = NfsOptions.model_validate(r.options)
            except ValidationError as exc:
                raise validation_error(exc, "options.nfs") from None
            try:
                level = self._level(r, opts)
            except APIError as exc:
                if strict:
                    raise
                left[r.name] = exc.message
                continue
            rules = self._rules(r, opts)
            uid, gid = self._anon(opts, accounts)
            common = {"clients": rules, "squash": opts.squash, "anon_uid": uid,
                      "anon_gid": gid, "share": r.name}
            path = Path(r.path)
            if probing:
                path = _existing(path, Path(r.volume_path))
            plans.append((f"share:{r.name.lower()}", dict(
                path=path, pseudo=opts.pseudo or f"/{r.name}",
                read_only=r.read_only or level == "read", **common)))
            if opts.snapshots:
                for snap in r.snapshots:
                    spath = Path(snap.path) / (r.subfolder or "")
                    if not spath.is_dir():
                        continue
                    plans.append((f"snap:{r.name.lower()}/{snap.name}", dict(
                        path=spath, pseudo=f"{SNAPSHOT_ROOT}/{r.name}/{snap.name}",
                        read_only=True, snapshot=snap.name, **common)))
        if not strict:
            self.left_out = left
        ids = self._ids([k for k, _ in plans], store)
        return [Export(export_id=ids[k], **kw) for k, kw in plans]

    # --- the share protocol ------------------------------------------------------------------------

    async def check(self, shares: list[ResolvedShare], accounts: list[ShareAccount]) -> None:
        """Everything apply() would refuse, without changing anything: option and client specs,
        clashes, then Ganesha itself on a throwaway instance."""
        exports = self._convert(shares, accounts, store=False, probing=True)
        try:
            self.server.render(exports)
        except APIError as exc:
            if exc.code == "nfs_export_clash":
                raise field_error(409, exc.code, "options.nfs.pseudo", exc.message) from None
            raise
        if self.config.enabled and self.config.check_config and exports:
            await self.server.probe(exports)
            if all(Path(r.path).exists() for r in shares):  # what apply() renders: probed
                self.server.verified(self._convert(shares, accounts, store=False))

    async def apply(self, shares: list[ResolvedShare], accounts: list[ShareAccount]) -> None:
        async with self.lock:
            exports = self._convert(shares, accounts, store=True, strict=False) \
                if self.config.enabled else []
            for name, why in sorted(self.left_out.items()):
                log.warning("share %s is not exported over NFS: %s", name, why)
                self.app.events.publish("alert", {
                    "id": f"nfs:share:{name}", "severity": "warning", "source": "nfs",
                    "active": True, "message": f"share {name} is not exported over NFS: {why}",
                    "details": {"share": name}})
            if exports:
                await self._ensure_rpcbind()
            await self.server.configure(exports, check=self.config.check_config)
            self.live = exports
            self.shares = {r.name: r for r in shares} if self.config.enabled else {}
            self.accounts = list(accounts)
            if exports and not self._supervised:
                await self._start_ganesha()
            elif not exports and self._supervised:
                await self._stop_ganesha("no share to serve" if self.config.enabled
                                         else "[nfs] enabled = false")

    async def set_password(self, user: str, password: str) -> None:
        """sec=sys has no passwords: nothing to store."""

    async def remove_user(self, user: str) -> None:
        """Nothing of a user is kept by Ganesha."""

    async def status(self) -> dict[str, Any]:
        return (await self.get_status()).model_dump()

    async def explain(self, share: ResolvedShare, user: ShareAccount | None,
                      client: str | None) -> list[AccessStep]:
        """The explainer's NFS steps, from what Ganesha serves now (:mod:`.explain`)."""
        export = next((e for e in self.live if e.snapshot is None and e.share == share.name),
                      None)
        return await nfs_steps(export, share.name, user, client, self.accounts,
                               not_exported=self.left_out.get(share.name))

    # --- clients -----------------------------------------------------------------------------------

    async def _poll_clients(self) -> None:
        while True:
            await asyncio.sleep(self.config.clients_poll_interval)
            now = {(c.address, c.port) for c in connections(self.settings.port)}
            for addr, port in sorted(now - self._connections):
                self._share_event(kind="client_connected", remote=f"{addr}:{port}",
                                  message=f"NFS client {addr} connected (port {port})")
            for addr, port in sorted(self._connections - now):
                self._share_event(kind="client_disconnected", remote=f"{addr}:{port}",
                                  message=f"NFS client {addr} disconnected (port {port})")
            self._connections = now

    # --- operations --------------------------------------------------------------------------------

    @operation("nfs.status", get="/nfs/status", response=NfsStatus,
               summary="NFS server: which one serves, running, pid, port, versions, restarts")
    async def get_status(self) -> NfsStatus:
        if self._version is None:
            try:
                out = (await run(["ganesha.nfsd", "-v"], timeout=30, check=False))
                text = (out.stdout or out.stderr).strip()
                self._version = text.splitlines()[0] if text else None
            except APIError:
                self._version = None
        return NfsStatus(
            enabled=self.config.enabled, server="ganesha", kernel_nfsd=kernel_nfsd_present(),
            running=self.server.supervisor.running, pid=self.server.pid, port=self.settings.port,
            bind_addr=self.settings.bind_addr, versions=list(self.settings.versions),
            rpcbind=rpcbind_running() if 3 in self.settings.versions else None,
            restarts=self.server.supervisor.restarts, version=self._version,
            exports=len(self.live), config_check=CHECK if self.config.check_config else "render")

    @operation("nfs.clients", get="/nfs/clients", response=ClientsOut,
               summary="Connected NFS clients (TCP connections to the NFS port) and the NFSv4 "
               "clients Ganesha holds state for")
    async def clients(self) -> ClientsOut:
        return ClientsOut.model_validate({
            "connections": [c.__dict__ for c in connections(self.settings.port)]
            if self.server.supervisor.running else [],
            "v4_clients": [c.__dict__ for c in v4_clients(self.settings.recovery_dir)],
            "source": "kernel TCP table (/proc/net/tcp, tcp6) and Ganesha's NFSv4 recovery "
                      "records; Ganesha's DBus client list needs a system bus"})

    @operation("nfs.exports", get="/nfs/exports", response=list[ExportOut],
               summary="What Ganesha exports now")
    async def exports(self) -> list[ExportOut]:
        return [ExportOut(export_id=e.export_id, share=e.share, snapshot=e.snapshot,
                          path=str(e.path), pseudo=e.pseudo,
                          clients=[{"hosts": list(c.hosts), "access": c.access}
                                   for c in e.clients],
                          squash=e.squash, anon_uid=e.anon_uid, anon_gid=e.anon_gid,
                          read_only=e.read_only or e.snapshot is not None)
                for e in self.live]
