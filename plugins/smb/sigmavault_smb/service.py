"""The SMB service: SigmaVault's own smbd serving the shares of ``sigmavault-shares``.

It is the ``smb`` share protocol (``register_share_protocols``): ``apply(shares, accounts)``
renders ``<data>/smb/smb.conf`` (testparm first, atomically), reloads smbd when it runs, starts it
when there is something to serve and stops it when there is nothing, and keeps Samba's password
database in step with the accounts (disabled, deleted). smbd is supervised: a death raises an
``alert`` and a ``share.event`` ``service_down``, the restart a ``service_up``. A poller turns
``smbstatus`` into ``client_connected``/``client_disconnected`` share events.

Previous Versions: ``shadow_copy2`` needs snapshot folders named by time. Snapshot names are free
(``before-upgrade``), so for each share a folder of links named
``@GMT-YYYY.MM.DD-HH.MM.SS`` (the snapshot's ``created`` time in UTC) → the snapshot's copy of the
volume root is kept under ``previous_versions_dir`` and rebuilt on every apply (the shares plugin
applies again when a snapshot is created or deleted), so smbd picks up a new snapshot without a
reload. Works the same for every backend, wherever it keeps snapshots (``storage.snapshot.path``:
btrfs outside the volume, zfs-fuse a read-only clone as it has no ``.zfs``). smbd reads them as
the connected user: a snapshot's root keeps the mode the volume root had when it was taken.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from sigmavault import operation
from sigmavault.app import SigmaVault
from sigmavault.commands import run
from sigmavault.errors import APIError
from sigmavault.hookspecs import ResolvedShare, ShareAccount

from .conf import (GlobalSettings, SmbShare, Snapshots, make_state_dirs, render,
                   write_config)
from .config import SmbConfig
from .models import Disconnected, SessionsOut, SmbOptions, SmbStatus
from .modules import check_vfs_modules
from .server import SmbServer
from .status import Session, disconnect_client, smb_status

log = logging.getLogger("sigmavault.smb")
GMT = "@GMT-%Y.%m.%d-%H.%M.%S"
ALERT_ID = "smb:smbd"


def gmt_name(created: str) -> str:
    """A snapshot's ``created`` (ISO 8601) as a shadow copy name, in UTC."""
    t = datetime.fromisoformat(created.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime(GMT)


def _public_dir(path: Path) -> None:
    """Make ``path`` and missing parents 0755 (the daemon's umask is 077; smbd reads these as
    the connected user)."""
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for p in reversed(missing):
        p.mkdir(exist_ok=True)
        os.chmod(p, 0o755)


class SmbService:
    """smbd, its configuration, passwords and sessions; registered as the ``smb`` protocol."""

    name = "smb"
    options_model = SmbOptions

    def __init__(self, app: SigmaVault, config: SmbConfig) -> None:
        self.app, self.config = app, config
        self.settings = GlobalSettings(
            data_dir=app.data_dir / "smb", workgroup=config.workgroup,
            server_string=config.server_string, port=config.port,
            interfaces=tuple(config.interfaces), min_protocol=config.min_protocol,
            signing=config.signing, log_level=config.log_level)
        self.server = SmbServer(self.settings, on_exit=self._died, on_restart=self._restarted)
        digest = hashlib.sha256(os.fsencode(os.path.abspath(app.data_dir))).hexdigest()[:12]
        self.links_root = Path(config.previous_versions_dir or f"/run/sigmavault-smb/{digest}")
        self.lock = asyncio.Lock()
        self.live: list[SmbShare] = []
        self._poller: asyncio.Task[None] | None = None
        self._sessions: dict[str, Session] = {}
        self._version: str | None = None

    # --- events ------------------------------------------------------------------------------------

    def _share_event(self, **data: Any) -> None:
        if "share.event" in self.app.events.types:
            self.app.events.publish("share.event", {"protocol": "smb", **data})

    def _died(self, code: int | None) -> None:
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        self.app.events.publish("alert", {
            "id": ALERT_ID, "severity": "critical", "source": "smb", "active": True,
            "message": f"smbd died ({how}); restarting it", "details": {"returncode": code}})
        self._share_event(kind="service_down", message=f"smbd died ({how})",
                          details={"returncode": code})

    def _restarted(self, restarts: int) -> None:
        self.app.events.publish("alert", {
            "id": ALERT_ID, "severity": "warning", "source": "smb", "active": True,
            "message": f"smbd died and was restarted (restart {restarts})",
            "details": {"restarts": restarts, "pid": self.server.pid}})
        self._share_event(kind="service_up", message=f"smbd restarted (pid {self.server.pid})",
                          details={"restarts": restarts})

    # --- lifecycle ---------------------------------------------------------------------------------

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self.server.supervisor.running:
            await self.server.stop()
        shutil.rmtree(self.links_root, ignore_errors=True)

    async def _start_smbd(self) -> None:
        await self.server.supervisor.start()
        try:
            await self.server.wait_ready()
        except TimeoutError:
            await self.server.stop()
            log_file = self.settings.data_dir / "log" / "smbd.log"
            tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise APIError(503, "smbd_not_listening", f"smbd did not listen on port "
                           f"{self.config.port} (in use, or not allowed?)", {"log": tail}) from None
        self._share_event(kind="service_up", message=f"smbd started on port {self.config.port}")
        if self.config.sessions_poll_interval > 0 and self._poller is None:
            self._poller = self.app.spawn(self._poll_sessions())

    async def _stop_smbd(self, why: str) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        await self.server.stop()
        self._share_event(kind="service_down", message=f"smbd stopped: {why}")

    # --- the share protocol ------------------------------------------------------------------------

    def _link_dir(self, share: str) -> Path:
        return self.links_root / hashlib.sha256(share.lower().encode()).hexdigest()[:16]

    def _convert(self, r: ResolvedShare) -> tuple[SmbShare, dict[str, str] | None]:
        opts = SmbOptions.model_validate(r.options)
        links: dict[str, str] | None = None
        snapshots = None
        if opts.previous_versions:
            links = {}
            for snap in sorted(r.snapshots, key=lambda s: s.created):
                links.setdefault(gmt_name(snap.created), snap.path)
            snapshots = Snapshots(snapdir=self._link_dir(r.name), basedir=Path(r.volume_path),
                                  format=GMT)
        share = SmbShare(
            name=r.name, path=Path(r.path), levels=dict(r.levels),  # type: ignore[arg-type]
            everyone=r.guest, comment=r.description,  # type: ignore[arg-type]
            read_only=r.read_only, guest_ok=r.guest_ok,
            browseable=r.browseable if opts.browsable is None else opts.browsable,
            hosts_allow=r.hosts_allow, hosts_deny=r.hosts_deny, encrypt=opts.encryption,
            recycle=opts.recycle, time_machine=opts.time_machine,
            time_machine_max_size=opts.time_machine_max_size, snapshots=snapshots)
        return share, links

    def _render(self, shares: Sequence[SmbShare]) -> str:
        try:
            return render(self.settings, shares)
        except ValueError as exc:
            raise APIError(422, "smb_config_invalid", str(exc)) from None

    async def check(self, shares: list[ResolvedShare], accounts: list[ShareAccount]) -> None:
        """Render and validate (VFS modules, testparm) without changing anything."""
        text = self._render([self._convert(r)[0] for r in shares])
        await check_vfs_modules(text)
        await self.server.check(text)

    def _write_links(self, wanted: dict[str, dict[str, str]]) -> None:
        _public_dir(self.links_root)
        keep = set()
        for share, links in wanted.items():
            d = self._link_dir(share)
            keep.add(d.name)
            _public_dir(d)
            for entry in os.listdir(d):
                if entry not in links or os.readlink(d / entry) != links[entry]:
                    (d / entry).unlink()
            for name, target in links.items():
                if not (d / name).is_symlink():
                    os.symlink(target, d / name)
        for entry in os.listdir(self.links_root):
            if entry not in keep:
                shutil.rmtree(self.links_root / entry, ignore_errors=True)

    async def drift(self, shares: list[ResolvedShare], accounts: list[ShareAccount]) -> list[str]:
        """How what smbd serves differs from what it should serve (nothing: ``[]``)."""
        wanted = [self._convert(r)[0] for r in shares] if self.config.enabled else []
        found = []
        if wanted:
            live = self.server.config_path.read_text() if self.server.config_path.exists() else ""
            if live != self._render(wanted):
                found.append(f"{self.server.config_path} differs from the shares")
            if not self.server.supervisor.running:
                found.append("smbd is not running")
            known = await self.server.users() if self.server.config_path.exists() else {}
            for a in accounts:
                if a.name not in known:
                    found.append(f"{a.name} has no SMB password: set one to let them connect")
                elif known[a.name] != a.enabled:
                    found.append(f"{a.name} is {'disabled' if known[a.name] is False else 'enabled'}"
                                 " in Samba's password database")
        elif self.server.supervisor.running:
            found.append("smbd runs although no share lists smb")
        return found

    async def _ensure_config(self) -> None:
        if not self.server.config_path.exists():
            make_state_dirs(self.settings)
            await write_config(self.server.config_path, self._render([]))

    async def apply(self, shares: list[ResolvedShare], accounts: list[ShareAccount]) -> None:
        async with self.lock:
            converted = [self._convert(r) for r in shares] if self.config.enabled else []
            smb = [s for s, _ in converted]
            if smb:
                self._write_links({s.name: links for s, links in converted if links is not None})
                await self.server.configure(smb)
            elif self.server.config_path.exists():
                await self.server.configure([])
            self.live = smb
            if self.server.config_path.exists():
                await self._sync_passdb(accounts)
            running = self.server.supervisor.running
            if smb and not running:
                await self._start_smbd()
            elif not smb and running:
                await self._stop_smbd("no share to serve" if self.config.enabled
                                      else "[smb] enabled = false")

    async def _sync_passdb(self, accounts: list[ShareAccount]) -> None:
        want = {a.name: a.enabled for a in accounts}
        for user, enabled in (await self.server.users()).items():
            if user not in want:
                await self.server.remove_user(user)
            elif want[user] != enabled:
                await self.server.set_enabled(user, want[user])

    async def set_password(self, user: str, password: str) -> None:
        async with self.lock:
            await self._ensure_config()
            await self.server.set_password(user, password)

    async def remove_user(self, user: str) -> None:
        async with self.lock:
            if self.server.config_path.exists() and user in await self.server.users():
                await self.server.remove_user(user)

    async def status(self) -> dict[str, Any]:
        return (await self.get_status()).model_dump()

    # --- sessions ----------------------------------------------------------------------------------

    async def _poll_sessions(self) -> None:
        while True:
            await asyncio.sleep(self.config.sessions_poll_interval)
            if not self.server.supervisor.running:
                continue
            try:
                now = {s.session_id: s for s in (await smb_status(self.server.config_path)).sessions}
            except Exception:
                log.debug("smbstatus failed", exc_info=True)
                continue
            for sid in sorted(set(now) - set(self._sessions)):
                s = now[sid]
                self._share_event(kind="client_connected", user=s.username, session=sid,
                                  remote=s.remote, message=f"{s.username or 'guest'} connected "
                                  f"from {s.remote}", details={"shares": list(s.shares)})
            for sid in sorted(set(self._sessions) - set(now)):
                s = self._sessions[sid]
                self._share_event(kind="client_disconnected", user=s.username, session=sid,
                                  remote=s.remote, message=f"{s.username or 'guest'} "
                                  f"disconnected ({s.remote})")
            self._sessions = now

    # --- operations --------------------------------------------------------------------------------

    @operation("smb.status", get="/smb/status", response=SmbStatus,
               summary="smbd: running, pid, port, restarts, version")
    async def get_status(self) -> SmbStatus:
        if self._version is None:
            try:
                self._version = (await run(["smbd", "--version"], timeout=30)).stdout.strip()
            except APIError:
                self._version = None
        return SmbStatus(enabled=self.config.enabled, running=self.server.supervisor.running,
                         pid=self.server.pid, port=self.config.port,
                         restarts=self.server.supervisor.restarts, version=self._version,
                         shares=len(self.live))

    @operation("smb.sessions", get="/smb/sessions", response=SessionsOut,
               summary="Connected SMB clients (sessions) and open files, from smbstatus")
    async def sessions(self) -> SessionsOut:
        if not self.server.supervisor.running:
            return SessionsOut(sessions=[], open_files=[])
        status = await smb_status(self.server.config_path)
        return SessionsOut.model_validate({
            "sessions": [asdict(s) for s in status.sessions],
            "open_files": [asdict(f) for f in status.open_files]})

    @operation("smb.session.disconnect", delete="/smb/sessions/{session}", response=Disconnected,
               status=200, summary="Disconnect the client holding a session (every session of "
               "that client ends)")
    async def disconnect(self, session: str) -> Disconnected:
        if not self.server.supervisor.running:
            raise APIError(404, "not_found", f"smb session {session!r} does not exist",
                           {"kind": "smb session", "name": session})
        ended = await disconnect_client(self.server.config_path, session)
        return Disconnected.model_validate({"ended": [asdict(s) for s in ended]})
