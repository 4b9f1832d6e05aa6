"""SigmaVault's smbd: configured, supervised, reloaded in place, and its password database.

``smbd --foreground --no-process-group --configfile=<data>/smb.conf --log-basename=<data>/log``
runs under a :class:`sigmavault.supervisor.Supervisor` (restarted with backoff when it dies; the
callbacks raise the alert). A reload is ``smbcontrol --configfile=... <pid> reload-config`` to
the main process; connected sessions stay. Samba passwords are set with ``smbpasswd -s -a`` from standard input: the plain password is
never written to disk, argv or the log.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Sequence

from sigmavault.commands import run
from sigmavault.files import atomic_write
from sigmavault.supervisor import Callback, Supervisor

from .conf import GlobalSettings, SmbShare, make_state_dirs, render, testparm, write_config
from .modules import check_vfs_modules


class SmbServer:
    def __init__(self, settings: GlobalSettings, *, on_exit: Callback | None = None,
                 on_restart: Callback | None = None, backoff_initial: float = 0.5) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.config_path = self.data_dir / "smb.conf"
        self.supervisor = Supervisor(
            # --log-basename: even what smbd logs before reading the config stays ours
            ["smbd", "--foreground", "--no-process-group", f"--configfile={self.config_path}",
             f"--log-basename={self.data_dir / 'log'}"],
            name="smbd", log_path=self.data_dir / "log" / "smbd.out", on_exit=on_exit,
            on_restart=on_restart, backoff_initial=backoff_initial,
            reload_command=lambda pid: ["smbcontrol", f"--configfile={self.config_path}",
                                        str(pid), "reload-config"])
        # the text testparm accepted in check() and its warnings: installing exactly that text
        # next needs no second testparm run (one change: check, then configure)
        self._accepted: tuple[str, list[str]] | None = None

    @property
    def pid(self) -> int | None:
        return self.supervisor.pid

    async def check(self, text: str) -> list[str]:
        """testparm's warnings on a configuration, without installing it (422 when refused)."""
        make_state_dirs(self.settings)
        probe = self.data_dir / f".smb.conf.check-{os.getpid()}"
        probe.write_text(text)
        try:
            warnings = await testparm(probe)
        finally:
            probe.unlink(missing_ok=True)
        self._accepted = (text, warnings)
        return warnings

    async def configure(self, shares: Sequence[SmbShare]) -> list[str]:
        """Render, validate and install the configuration; reload smbd when it runs. testparm's
        warnings are returned; a refused configuration raises 422 and changes nothing."""
        make_state_dirs(self.settings)
        text = render(self.settings, shares)
        await check_vfs_modules(text)
        accepted, self._accepted = self._accepted, None
        if accepted is not None and accepted[0] == text:
            with atomic_write(self.config_path, "w") as f:
                f.write(text)
            warnings = accepted[1]
        else:
            warnings = await write_config(self.config_path, text)
        if self.supervisor.running:
            await self.supervisor.reload()
        return warnings

    async def start(self, shares: Sequence[SmbShare] = ()) -> None:
        if not self.config_path.exists():
            await self.configure(shares)
        await self.supervisor.start()

    async def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until smbd accepts connections on its port (``TimeoutError`` otherwise)."""
        host = self.settings.interfaces[0] if self.settings.interfaces else "127.0.0.1"
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, writer = await asyncio.open_connection(host.split("/")[0], self.settings.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"smbd not listening on port {self.settings.port}") from None
                await asyncio.sleep(0.05)

    async def reload(self) -> None:
        await self.supervisor.reload()

    async def stop(self) -> int | None:
        return await self.supervisor.stop()

    # --- the password database (tdbsam under our private dir) ----------------------------------

    def _smbpasswd(self, *args: str) -> list[str]:
        return ["smbpasswd", "-c", os.fspath(self.config_path), *args]

    async def set_password(self, user: str, password: str) -> None:
        """Add ``user`` (an existing Unix account) to Samba's database or change its password."""
        if "\n" in password or "\r" in password:
            raise ValueError("a password cannot contain line breaks")
        secret = f"{password}\n{password}\n".encode()
        await run(self._smbpasswd("-s", "-a", user), input=secret, timeout=30)

    async def set_enabled(self, user: str, enabled: bool) -> None:
        await run(self._smbpasswd("-e" if enabled else "-d", user), timeout=30)

    async def remove_user(self, user: str) -> None:
        await run(self._smbpasswd("-x", user), timeout=30)

    async def users(self) -> dict[str, bool]:
        """Every user in Samba's database → whether it is enabled."""
        result = await run(["pdbedit", f"--configfile={self.config_path}", "-L", "-w"],
                           timeout=30)
        return parse_pdbedit_w(result.stdout)


def parse_pdbedit_w(text: str) -> dict[str, bool]:
    """``pdbedit -L -w`` (smbpasswd format: ``name:uid:LM:NT:[flags]:LCT-...:``) → name → enabled
    (the ``D`` account flag means disabled)."""
    out = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 5 and fields[4].startswith("["):
            out[fields[0]] = "D" not in fields[4].strip("[]")
    return out
