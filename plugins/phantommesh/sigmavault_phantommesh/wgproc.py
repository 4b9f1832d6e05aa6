"""Supervise ``wireguard-go`` processes: one per interface, kept in the foreground as our child.

``wireguard-go -f IFNAME`` creates the TUN device and its UAPI socket and serves until it gets
SIGTERM or its TUN device is deleted; then it removes the socket itself. It is started through
``sigmavault.commands.start_process`` (logged with argv and pid, its exit with duration and exit
code) with ``die_with_parent``, so that it does not outlive a killed daemon.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from sigmavault.commands import CommandError, Process, start_process

from .uapi import UAPIClient, UAPIError

log = logging.getLogger("sigmavault.phantommesh")


class WireGuardGo:
    """Start, find and stop ``wireguard-go`` daemons."""

    def __init__(self, binary: str = "wireguard-go", log_dir: Path | None = None):
        self.binary = binary
        self.log_dir = log_dir
        self.procs: dict[str, Process] = {}

    def installed(self) -> bool:
        return shutil.which(self.binary) is not None

    async def start(self, ifname: str, timeout: float = 10.0) -> None:
        """Run ``wireguard-go -f ifname`` unless a daemon already answers on its socket."""
        client = UAPIClient(ifname)
        if await client.alive():
            log.info("adopting running wireguard-go", extra={"ifname": ifname})
            return
        logfile = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            logfile = self.log_dir / f"wireguard-go-{ifname}.log"
        try:
            proc = start_process([self.binary, "-f", ifname], log_path=logfile,
                                 env={"LOG_LEVEL": "error"}, die_with_parent=True)
        except CommandError:
            raise UAPIError(f"{self.binary} is not installed on this machine") from None
        self.procs[ifname] = proc
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if proc.returncode is not None:
                self.procs.pop(ifname, None)
                raise UAPIError(f"wireguard-go {ifname} exited with {proc.returncode} at start "
                                "(is /dev/net/tun available and are we root?)")
            if await UAPIClient(client.ifname).alive():
                return
            await asyncio.sleep(0.05)
        await self.stop(ifname)
        raise UAPIError(f"wireguard-go {ifname} did not open its UAPI socket within {timeout:g} s")

    async def stop(self, ifname: str, timeout: float = 5.0) -> None:
        """Stop our daemon for ``ifname`` (SIGTERM, then SIGKILL); no error when none runs."""
        proc = self.procs.pop(ifname, None)
        if proc is not None:
            await proc.stop(timeout)

    def running(self, ifname: str) -> bool:
        proc = self.procs.get(ifname)
        return proc is not None and proc.returncode is None

    async def stop_all(self) -> None:
        for ifname in list(self.procs):
            await self.stop(ifname)
