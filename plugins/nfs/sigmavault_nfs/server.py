"""SigmaVault's NFS-Ganesha: configured, probed, supervised and reloaded in place.

``ganesha.nfsd -F -f <data>/nfs/ganesha.conf -L <data>/nfs/log/ganesha.log -p <data>/nfs/ganesha.pid
-N NIV_<level>`` runs in the foreground under a :class:`sigmavault.supervisor.Supervisor`
(restarted with backoff when it dies; the service's callbacks raise the alert). A reload is
SIGHUP to the main process: Ganesha re-reads the EXPORT blocks (adds, changes and removes
exports) and keeps its clients connected; core parameters (port, versions, grace) need a restart.

Checking a configuration: Ganesha has no check mode (``-T`` dumps defaults, nothing else), and a
SIGHUP with a bad EXPORT block only logs the error and leaves that export out. So
:meth:`GaneshaServer.probe` starts a throwaway ``ganesha.nfsd`` with the rendered exports on a
free loopback port, its own recovery dir and log, waits until it says ``NFS SERVER INITIALIZED``
(or dies), stops it, and refuses the configuration if its log has CONFIG/EXPORT/FSAL errors.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from sigmavault.commands import start_process
from sigmavault.errors import APIError
from sigmavault.files import atomic_write
from sigmavault.supervisor import Callback, Supervisor

from .conf import Export, ExportClash, GaneshaSettings, config_problems, render

READY_LINE = "NFS SERVER INITIALIZED"


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_dirs(settings: GaneshaSettings) -> None:
    for d in (settings.data_dir, settings.recovery_dir, settings.log_path.parent):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)


def refused(problems: list, what: str) -> APIError:
    return APIError(422, "nfs_config_invalid",
                    f"{what}: {problems[0].message}" + (f" (and {len(problems) - 1} more)"
                                                        if len(problems) > 1 else ""),
                    {"errors": [p.message for p in problems]})


class GaneshaServer:
    def __init__(self, settings: GaneshaSettings, *, on_exit: Callback | None = None,
                 on_restart: Callback | None = None, backoff_initial: float = 0.5) -> None:
        self.settings = settings
        self.config_path = settings.config_path
        self.supervisor = Supervisor(
            ["ganesha.nfsd", "-F", "-f", settings.config_path, "-L", settings.log_path,
             "-p", settings.pid_path, "-N", f"NIV_{settings.log_level}"],
            name="ganesha.nfsd", log_path=settings.data_dir / "log" / "ganesha.out",
            on_exit=on_exit, on_restart=on_restart, backoff_initial=backoff_initial)
        self._verified: str | None = None  # the last text a probe accepted

    @property
    def pid(self) -> int | None:
        return self.supervisor.pid

    @property
    def host(self) -> str:
        bind = self.settings.bind_addr
        return "127.0.0.1" if bind in ("0.0.0.0", "::") else bind

    def render(self, exports: Sequence[Export]) -> str:
        try:
            return render(self.settings, exports)
        except ExportClash as exc:
            raise APIError(409, "nfs_export_clash", str(exc)) from None
        except ValueError as exc:
            raise APIError(422, "nfs_config_invalid", str(exc)) from None

    # --- checking ----------------------------------------------------------------------------------

    async def probe(self, exports: Sequence[Export], timeout: float = 30.0) -> None:
        """Serve ``exports`` with a throwaway Ganesha on a free loopback port; 422 with Ganesha's
        own messages when it refuses any of it. Nothing of the live server changes."""
        make_dirs(self.settings)
        work = self.settings.data_dir / f"probe-{os.getpid()}-{time.monotonic_ns()}"
        work.mkdir(mode=0o700)
        try:
            text = render(self.settings, exports, port=free_loopback_port(),
                          bind_addr="127.0.0.1", recovery_dir=work / "recovery", probe=True)
        except ValueError as exc:
            shutil.rmtree(work, ignore_errors=True)
            status, code = (409, "nfs_export_clash") if isinstance(exc, ExportClash) else \
                (422, "nfs_config_invalid")
            raise APIError(status, code, str(exc)) from None
        conf, log = work / "ganesha.conf", work / "ganesha.log"
        conf.write_text(text)
        proc = start_process(["ganesha.nfsd", "-F", "-f", conf, "-L", log, "-p", work / "pid",
                              "-N", "NIV_EVENT"], log_path=work / "out", new_session=True,
                             die_with_parent=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                seen = log.read_text(errors="replace") if log.exists() else ""
                if READY_LINE in seen or proc.returncode is not None:
                    break
                if time.monotonic() > deadline:
                    raise APIError(504, "nfs_check_timeout", f"the Ganesha check instance did "
                                   f"not finish starting within {timeout} s")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.05)
            seen = log.read_text(errors="replace") if log.exists() else ""
            problems = config_problems(seen)
            if problems:
                raise refused(problems, "Ganesha refused the configuration")
            if READY_LINE not in seen:
                tail = (seen.strip().splitlines() or ["(empty log)"])[-1]
                raise APIError(422, "nfs_config_invalid", f"the Ganesha check instance exited "
                               f"({proc.returncode}) before serving: {tail}")
        finally:
            await proc.stop(5)
            shutil.rmtree(work, ignore_errors=True)

    def verified(self, exports: Sequence[Export]) -> None:
        """Note that a probe accepted ``exports`` (configure() need not probe them again)."""
        try:
            self._verified = render(self.settings, exports)
        except ValueError:
            pass

    # --- live configuration ------------------------------------------------------------------------

    async def configure(self, exports: Sequence[Export], *, check: bool = True) -> bool:
        """Render, probe (when the text is new) and install the configuration; SIGHUP Ganesha
        when it runs. A refused configuration raises 422 and changes nothing. True when the file
        changed."""
        make_dirs(self.settings)
        text = self.render(exports)
        current = self.config_path.read_text() if self.config_path.exists() else None
        if text == current:
            return False
        if check and text != self._verified and exports:
            await self.probe(exports)
            self._verified = text
        with atomic_write(self.config_path, "w", perms=0o600) as f:
            f.write(text)
        if self.supervisor.running:
            await self.reload()
        return True

    async def reload(self, timeout: float = 10.0) -> None:
        """SIGHUP, then wait for Ganesha's ``Reread exports complete`` line; the errors it logged
        while re-reading raise 422 (the probe makes this a should-not-happen)."""
        log = self.settings.log_path
        start = log.stat().st_size if log.exists() else 0
        await self.supervisor.reload()
        deadline = time.monotonic() + timeout
        while True:
            with open(log, "rb") as f:
                f.seek(start)
                new = f.read().decode(errors="replace")
            if "Reread exports complete" in new or "reread_exports" in new and \
                    "complete" in new:
                break
            if time.monotonic() > deadline:
                raise APIError(504, "nfs_reload_timeout", "Ganesha did not confirm re-reading "
                               f"its exports within {timeout} s")
            await asyncio.sleep(0.05)
        problems = config_problems(new)
        if problems:
            raise refused(problems, "Ganesha refused part of the configuration on reload")

    async def start(self) -> None:
        make_dirs(self.settings)
        await self.supervisor.start()

    async def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until Ganesha accepts connections on its port (``TimeoutError`` otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, writer = await asyncio.open_connection(self.host, self.settings.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"Ganesha not listening on port {self.settings.port}") \
                        from None
                await asyncio.sleep(0.05)

    async def stop(self) -> int | None:
        return await self.supervisor.stop()


def rpcbind_running() -> bool:
    """rpcbind answers on its socket (needed for NFSv3: MOUNT, NLM)."""
    for path in ("/run/rpcbind.sock", "/var/run/rpcbind.sock"):
        if Path(path).exists():
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(1)
                    s.connect(path)
                return True
            except OSError:
                continue
    return False


def kernel_nfsd_present() -> bool:
    """The kernel offers the nfsd file system (built in or loaded; an empty ``/proc/fs/nfsd``
    mount point says nothing)."""
    try:
        return any(line.split()[-1] == "nfsd"
                   for line in Path("/proc/filesystems").read_text().splitlines() if line.strip())
    except OSError:
        return False
