"""``sigmavault doctor``: is this machine ready to run SigmaVault, and what is missing.

Each finding is ``{"id", "status", "title", "detail", "disables"}`` with status ``ok``,
``warning`` (something is disabled or degraded) or ``critical`` (the daemon cannot work as
configured). The core checks the external programs plugins name (``register_tools``), the data
dir's permissions and free space, the listening port and the clock; plugins add findings through
the ``doctor_checks`` hook.
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
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .hookspecs import Tool
from .commands import CommandError, run

if TYPE_CHECKING:  # pragma: no cover
    from .app import SigmaVault

log = logging.getLogger("sigmavault.doctor")

STATUSES = ("ok", "warning", "critical")
LOW_SPACE = 1 << 30  # below this free in the data dir's file system: a warning
NO_SPACE = 100 << 20  # below this: critical (the database cannot grow, backups fail)


# The core's own program; every plugin names its own through ``register_tools``.
CORE_TOOLS = (Tool("openssl", "serve --tls-self-signed cannot make a certificate",
                   ("openssl", "version")),)


def finding(id: str, status: str, title: str, detail: str = "", disables: str = "") -> dict[str, Any]:
    return {"id": id, "status": status, "title": title, "detail": detail, "disables": disables}


async def _tool(tool: Tool) -> dict[str, Any]:
    fid = f"tool.{tool.name}"
    path = shutil.which(tool.name)
    owner = getattr(tool, "plugin", None) or "the core"
    if path is None:
        return finding(fid, "warning", f"{tool.name}: not found on PATH",
                       f"install it (scripts/install-system-deps.sh) and restart; used by {owner}",
                       tool.disables)
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
    tools = [*CORE_TOOLS, *app.registries["tools"].values()]
    findings = list(await asyncio.gather(*(_tool(t) for t in tools)))
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
