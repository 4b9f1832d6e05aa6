"""State of the services a NAS depends on: systemd units when systemd runs, else process checks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psutil
from pydantic import BaseModel, Field

from sigmavault import commands


class ServiceSpec(BaseModel):
    """One watched service: a systemd unit and/or the process that implements it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}$")
    unit: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@:\\-]{0,127}$",
                             description="systemd unit, used when systemd is PID 1")
    process: str | None = Field(None, min_length=1, max_length=64,
                                description="process name (comm) to look for otherwise")
    cmdline: str | None = Field(None, description="substring the process's command line must contain")


DEFAULT_SERVICES = [
    ServiceSpec(name="ssh", unit="ssh.service", process="sshd"),
    ServiceSpec(name="smbd", unit="smbd.service", process="smbd"),
    ServiceSpec(name="nmbd", unit="nmbd.service", process="nmbd"),
    ServiceSpec(name="nfs-server", unit="nfs-server.service", process="nfsd"),
    ServiceSpec(name="rpcbind", unit="rpcbind.service", process="rpcbind"),
    ServiceSpec(name="zfs-fuse", unit="zfs-fuse.service", process="zfs-fuse"),
    ServiceSpec(name="smartd", unit="smartmontools.service", process="smartd"),
    ServiceSpec(name="cron", unit="cron.service", process="cron"),
]

_SHOW_PROPS = "Id,LoadState,ActiveState,SubState,Description,MainPID"


def systemd_running() -> bool:
    """True when systemd is the init system (the ``sd_booted()`` test)."""
    return Path("/run/systemd/system").is_dir()


def parse_systemctl_show(text: str) -> list[dict[str, str]]:
    """Split ``systemctl show`` output for several units into one dict per unit, in order."""
    units: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    if current:
        units.append(current)
    return units


def _since(pids: list[int]) -> float | None:
    times = []
    for pid in pids:
        try:
            times.append(psutil.Process(pid).create_time())
        except psutil.Error:
            continue
    return min(times) if times else None


async def systemd_states(specs: list[ServiceSpec]) -> list[dict[str, Any]]:
    """Ask systemd about every unit in one ``systemctl show`` call."""
    with_unit = [(s, s.unit) for s in specs if s.unit]
    shown: dict[str, dict[str, str]] = {}
    if with_unit:
        res = await commands.run(["systemctl", "show", f"--property={_SHOW_PROPS}", "--",
                                  *[unit for _, unit in with_unit]], timeout=15)
        for (spec, _), props in zip(with_unit, parse_systemctl_show(res.stdout)):
            shown[spec.name] = props
    out = []
    procs: list[dict[str, Any]] | None = None
    for spec in specs:
        found = shown.get(spec.name)
        if found is None or found.get("LoadState") == "not-found":
            if spec.process:  # no unit file: fall back to looking for the process
                procs = procs if procs is not None else await asyncio.to_thread(_snapshot)
                out.append(_process_state(spec, procs))
                continue
            out.append({"name": spec.name, "method": "systemd", "active": False,
                        "state": "not-found", "unit": spec.unit})
            continue
        pid = int(found.get("MainPID") or 0)
        out.append({
            "name": spec.name, "method": "systemd", "unit": spec.unit,
            "active": found.get("ActiveState") == "active",
            "state": f"{found.get('ActiveState', 'unknown')}/{found.get('SubState', 'unknown')}",
            "description": found.get("Description") or None,
            "pids": [pid] if pid else [], "since": _since([pid]) if pid else None,
        })
    return out


def _snapshot() -> list[dict[str, Any]]:
    return [p.info for p in psutil.process_iter(["pid", "name", "cmdline", "create_time"])]


def _process_state(spec: ServiceSpec, procs: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = spec.process or spec.name
    matches = []
    for p in procs:
        if p.get("name") != wanted:
            continue
        if spec.cmdline and spec.cmdline not in " ".join(p.get("cmdline") or []):
            continue
        matches.append(p)
    matches.sort(key=lambda p: p.get("create_time") or 0)
    return {
        "name": spec.name, "method": "process", "unit": spec.unit,
        "active": bool(matches), "state": "running" if matches else "stopped",
        "pids": [p["pid"] for p in matches],
        "since": matches[0].get("create_time") if matches else None,
    }


async def service_states(specs: list[ServiceSpec]) -> list[dict[str, Any]]:
    """The state of every watched service, through systemd when it runs, else by process."""
    if systemd_running():
        return await systemd_states(specs)
    procs = await asyncio.to_thread(_snapshot)
    return [_process_state(spec, procs) for spec in specs]
