"""Service checks: real processes found and lost; systemd's output parsed."""

from __future__ import annotations

import asyncio
import secrets

from sigmavault_system import units as services
from sigmavault_system.units import ServiceSpec


async def test_process_check_sees_a_service_start_and_stop():
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**6)}"
    spec = ServiceSpec(name="sleeper", process="sleep", cmdline=marker)
    proc = await asyncio.create_subprocess_exec("sleep", marker)
    try:
        [state] = await services.service_states([spec]) if not services.systemd_running() else \
            [services._process_state(spec, services._snapshot())]
        assert state["active"] and state["state"] == "running" and state["pids"] == [proc.pid]
        assert state["method"] == "process" and state["since"] > 0
    finally:
        proc.kill()
        await proc.wait()
    [state] = [services._process_state(spec, services._snapshot())]
    assert not state["active"] and state["state"] == "stopped" and state["pids"] == []


def test_parse_systemctl_show_splits_units_in_order():
    # Output shape of `systemctl show --property=... a.service b.service` (systemd 252).
    text = ("Id=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
            "Description=OpenBSD Secure Shell server\nMainPID=612\n\n"
            "Id=smbd.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n"
            "Description=smbd.service\nMainPID=0\n")
    units = services.parse_systemctl_show(text)
    assert [u["Id"] for u in units] == ["ssh.service", "smbd.service"]
    assert units[0]["MainPID"] == "612" and units[1]["LoadState"] == "not-found"


def test_default_list_covers_nas_services():
    names = {s.name for s in services.DEFAULT_SERVICES}
    assert {"ssh", "smbd", "nfs-server", "zfs-fuse"} <= names
