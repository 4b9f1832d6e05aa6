"""``sigmavault doctor``: is this machine ready to run SigmaVault, and what is missing.

Each finding is ``{"id", "status", "title", "detail", "disables"}`` with status ``ok``,
``warning`` (something is disabled or degraded) or ``critical`` (the daemon cannot work as
configured). The core checks the external programs of the installed plugins, the data dir's
permissions and free space, the listening port and the clock; plugins add findings through the
``doctor_checks`` hook.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import shutil
import socket
import stat
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .commands import CommandError, run

if TYPE_CHECKING:  # pragma: no cover
    from .app import SigmaVault

log = logging.getLogger("sigmavault.doctor")

STATUSES = ("ok", "warning", "critical")
LOW_SPACE = 1 << 30  # below this free in the data dir's file system: a warning
NO_SPACE = 100 << 20  # below this: critical (the database cannot grow, backups fail)


@dataclass(frozen=True)
class Tool:
    name: str
    version_argv: tuple[str, ...]  # () : the program tells no version
    plugins: tuple[str, ...]  # the distributions that use it ("" : the core)
    disables: str


# What each program serves. A tool is checked when one of its plugins is loaded; when none is, it
# is reported as not needed.
TOOLS = (
    Tool("btrfs", ("btrfs", "--version"), ("sigmavault-btrfs",),
         "BTRFS pools cannot be created, mounted or scrubbed"),
    Tool("zpool", ("zpool", "--version"), ("sigmavault-zfs",), "ZFS pools cannot be used"),
    Tool("zfs", ("zfs", "--version"), ("sigmavault-zfs",), "ZFS datasets and snapshots cannot be used"),
    Tool("smbd", ("smbd", "--version"), ("sigmavault-smb",), "SMB shares cannot be served"),
    Tool("testparm", ("testparm", "--version"), ("sigmavault-smb",),
         "the SMB configuration cannot be validated before it is applied"),
    Tool("smbpasswd", (), ("sigmavault-smb",),
         "NAS accounts get no SMB password"),
    Tool("ganesha.nfsd", ("ganesha.nfsd", "-v"), ("sigmavault-nfs",),
         "NFS exports cannot be served where the kernel NFS server is absent"),
    Tool("wg", ("wg", "--version"), ("sigmavault-phantommesh",),
         "the PhantomMesh VPN cannot configure WireGuard"),
    Tool("wireguard-go", ("wireguard-go", "--version"), ("sigmavault-phantommesh",),
         "PhantomMesh cannot run where the kernel has no WireGuard module"),
    Tool("smartctl", ("smartctl", "--version"), ("sigmavault-storage", "sigmavault-system"),
         "disk health (SMART) cannot be read"),
    Tool("lsblk", ("lsblk", "--version"), ("sigmavault-storage", "sigmavault-system"),
         "disks cannot be listed"),
    Tool("age", ("age", "--version"), ("sigmavault-encryption",),
         "nothing in SigmaVault (it encrypts itself); files cannot be checked with the age CLI"),
    Tool("zstd", ("zstd", "--version"), ("sigmavault-compression",),
         "nothing in SigmaVault (codecs are libraries); the zstd CLI is a benchmark anchor"),
    Tool("openssl", ("openssl", "version"), ("",),
         "serve --tls-self-signed cannot make a certificate"),
)


def finding(id: str, status: str, title: str, detail: str = "", disables: str = "") -> dict[str, Any]:
    return {"id": id, "status": status, "title": title, "detail": detail, "disables": disables}


async def _tool(tool: Tool, loaded: set[str]) -> dict[str, Any]:
    needed = [p for p in tool.plugins if p == "" or p in loaded]
    fid = f"tool.{tool.name}"
    path = shutil.which(tool.name)
    if path is None:
        if not needed:
            return finding(fid, "ok", f"{tool.name}: not installed (not needed: "
                           f"{', '.join(tool.plugins)} not loaded)")
        return finding(fid, "warning", f"{tool.name}: not found on PATH",
                       f"install it (scripts/install-system-deps.sh) and restart; "
                       f"used by {', '.join(p or 'the core' for p in needed)}", tool.disables)
    version = "installed"
    if tool.version_argv:
        try:
            result = await run(tool.version_argv, timeout=10, check=False)
            lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
            if result.ok and lines:
                version = lines[0].strip().strip("* ")
            else:  # zfs-fuse's zpool has no --version
                version = "installed (no version reported)"
        except CommandError as exc:
            version = f"installed (version unknown: {exc.message})"
    return finding(fid, "ok", f"{tool.name}: {version}", path)


def _data_dir(data_dir: Path) -> list[dict[str, Any]]:
    out = []
    if not data_dir.exists():
        return [finding("data_dir.exists", "ok", f"data dir {data_dir} does not exist yet",
                        "it is created (mode 0700) at the first start")]
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    # 0701 is allowed (as by the daemon): search only, so share users pass through to pools kept
    # under the data dir without listing or reading anything in it
    if mode & 0o076:
        out.append(finding("data_dir.mode", "critical", f"data dir {data_dir} has mode {mode:04o}",
                           "it holds password hashes and keys: chmod 700 it (the daemon tightens "
                           "it at start)", "the secrets in it are readable by other users"))
    else:
        out.append(finding("data_dir.mode", "ok", f"data dir {data_dir} is private ({mode:04o})"))
    if not os.access(data_dir, os.W_OK):
        out.append(finding("data_dir.writable", "critical", f"data dir {data_dir} is not writable",
                           "", "the daemon cannot start"))
    loose = []
    for entry in sorted(data_dir.iterdir()):
        if entry.is_file() and not entry.is_symlink() and stat.S_IMODE(entry.stat().st_mode) & 0o077:
            loose.append(f"{entry.name} ({stat.S_IMODE(entry.stat().st_mode):04o})")
    if loose:
        out.append(finding("data_dir.files", "critical", "files in the data dir readable by others",
                           "chmod 600 " + ", ".join(loose), "the secrets in them are exposed"))
    else:
        out.append(finding("data_dir.files", "ok", "files in the data dir are 0600"))
    usage = shutil.disk_usage(data_dir)
    free = f"{usage.free / (1 << 30):.1f} GiB free of {usage.total / (1 << 30):.1f} GiB"
    status = "critical" if usage.free < NO_SPACE else "warning" if usage.free < LOW_SPACE else "ok"
    out.append(finding("data_dir.space", status, f"data dir file system: {free}", str(data_dir),
                       "" if status == "ok" else "the database and backups need room to grow"))
    return out


def _port(host: str, port: int, ours: bool) -> dict[str, Any]:
    where = f"{host}:{port}"
    if ours:
        return finding("port", "ok", f"port {where}: served by this daemon")
    try:
        with socket.create_connection((host if host not in ("0.0.0.0", "::") else "127.0.0.1", port),
                                      timeout=1):
            pass
    except OSError:
        return finding("port", "ok", f"port {where} is free")
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/api/v1/health", timeout=2) as resp:
            version = json.loads(resp.read()).get("version", "?")
        return finding("port", "ok", f"port {where}: SigmaVault {version} is running there")
    except Exception:
        return finding("port", "critical", f"port {where} is in use by another program",
                       "choose another port (port = … in the config file, or serve --port)",
                       "the daemon cannot listen")


async def _clock() -> dict[str, Any]:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if shutil.which("timedatectl"):
        try:
            result = await run(["timedatectl", "show", "--property=NTPSynchronized", "--value"],
                               timeout=5, check=False)
        except CommandError:
            result = None
        if result is not None and result.ok and result.stdout.strip() in ("yes", "no"):
            if result.stdout.strip() == "yes":
                return finding("clock", "ok", f"clock synchronized (NTP), {now}")
            return finding("clock", "warning", f"clock not synchronized, {now}",
                           "enable NTP: timedatectl set-ntp true",
                           "TOTP sign-in, certificates, schedules and mesh handshakes need a "
                           "correct clock")
    return finding("clock", "ok", f"clock: {now} (synchronization unknown: no timedatectl "
                   "answer, systemd is not running here)")


async def run_checks(app: "SigmaVault", *, serving: bool) -> list[dict[str, Any]]:
    """Every finding: the core's, then each plugin's ``doctor_checks``."""
    loaded = {i.name for i in app.plugins.list() if i.status == "loaded"}
    findings = list(await asyncio.gather(*(_tool(t, loaded) for t in TOOLS)))
    findings += _data_dir(Path(app.data_dir))
    findings.append(await asyncio.to_thread(_port, app.config.host, app.config.port, serving))
    findings.append(await _clock())
    for info in app.plugins.list():
        if info.status == "failed":
            findings.append(finding(f"plugin.{info.name}", "warning", f"plugin {info.name} failed "
                                    "to load", info.error or "", f"everything {info.name} provides"))
    for plugin, func in app.plugins.impls("doctor_checks"):
        try:
            result = func(app=app)
            if inspect.isawaitable(result):
                result = await result
            for f in result or ():
                status = f.get("status", "warning")
                findings.append(finding(str(f.get("id", plugin)), status if status in STATUSES
                                        else "warning", str(f.get("title", "")),
                                        str(f.get("detail", "")), str(f.get("disables", ""))))
        except Exception as exc:
            log.exception("doctor_checks of %s failed", plugin)
            findings.append(finding(f"plugin.{plugin}.doctor", "warning",
                                    f"{plugin}: its checks failed", repr(exc)))
    return findings


def verdict(findings: list[dict[str, Any]]) -> str:
    statuses = {f["status"] for f in findings}
    return "critical" if "critical" in statuses else "warning" if "warning" in statuses else "ok"
