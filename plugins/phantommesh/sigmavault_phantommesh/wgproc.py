"""Supervise ``wireguard-go`` processes: one per interface, kept in the foreground as our child.

``wireguard-go -f IFNAME`` creates the TUN device and its UAPI socket and serves until it gets
SIGTERM or its TUN device is deleted; then it removes the socket itself. The child gets
``PR_SET_PDEATHSIG`` so that it does not outlive a killed daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
from pathlib import Path

from .uapi import UAPIClient, UAPIError

log = logging.getLogger("sigmavault.phantommesh")
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class WireGuardGo:
    """Start, find and stop ``wireguard-go`` daemons."""

    def __init__(self, binary: str = "wireguard-go", log_dir: Path | None = None):
        self.binary = binary
        self.log_dir = log_dir
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    def installed(self) -> bool:
        return shutil.which(self.binary) is not None

    async def start(self, ifname: str, timeout: float = 10.0) -> None:
        """Run ``wireguard-go -f ifname`` unless a daemon already answers on its socket."""
        client = UAPIClient(ifname)
        if await client.alive():
            log.info("adopting running wireguard-go", extra={"ifname": ifname})
            return
        stderr = asyncio.subprocess.DEVNULL
        logfile = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            logfile = open(self.log_dir / f"wireguard-go-{ifname}.log", "ab")
            stderr = logfile
        try:
            proc = await asyncio.create_subprocess_exec(
                self.binary, "-f", ifname, stdin=asyncio.subprocess.DEVNULL, stdout=stderr,
                stderr=stderr, env={**os.environ, "LOG_LEVEL": "error"},
                preexec_fn=_die_with_parent)
        except FileNotFoundError:
            raise UAPIError(f"{self.binary} is not installed on this machine") from None
        finally:
            if logfile is not None:
                logfile.close()
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
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    def running(self, ifname: str) -> bool:
        proc = self.procs.get(ifname)
        return proc is not None and proc.returncode is None

    async def stop_all(self) -> None:
        for ifname in list(self.procs):
            await self.stop(ifname)
