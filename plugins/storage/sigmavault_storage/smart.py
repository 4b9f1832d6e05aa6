"""SMART through pySMART, with every ``smartctl`` call routed through ``sigmavault.commands.run``.

pySMART is synchronous and spawns ``smartctl`` itself; :class:`RoutedSmartctl` replaces its
process runner so that the argv, timeout and logging rules of the core apply. pySMART objects
are built in a worker thread; each smartctl call hops back to the event loop.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

from pySMART import Device
from pySMART.smartctl import Smartctl

from sigmavault.commands import run
from sigmavault.errors import APIError

from .models import SmartAttribute, SmartReport, SmartTest


class RoutedSmartctl(Smartctl):
    """pySMART's smartctl wrapper whose process runner is ``sigmavault.commands.run``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, smartctl_path: str, timeout: float) -> None:
        super().__init__(smartctl_path=smartctl_path, options=[], sudo=False)
        self.loop = loop
        self.timeout = timeout

    def _exec(self, cmd: list[str]) -> tuple[list[str], int]:
        future = asyncio.run_coroutine_threadsafe(
            run(cmd, timeout=self.timeout, check=False, env={"LANG": "C", "LC_ALL": "C"}), self.loop)
        result = future.result()
        return result.stdout.splitlines(), result.returncode


def smartctl_path(configured: str | None) -> str:
    """The smartctl binary: the configured path, else the first on PATH; 501 when absent."""
    path = configured or shutil.which("smartctl")
    if not path:
        raise APIError(501, "tool_missing", "smartctl is not installed on this machine "
                       "(Debian package smartmontools)", {"tool": "smartctl"})
    return path


async def open_device(disk_path: str, *, configured_path: str | None = None,
                      timeout: float = 60.0) -> Device:
    """A pySMART ``Device`` for ``disk_path`` (its smartctl calls run through the core)."""
    ctl = RoutedSmartctl(asyncio.get_running_loop(), smartctl_path(configured_path), timeout)
    return await asyncio.to_thread(Device, disk_path, None, False, None, ctl)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def power_on_hours(dev: Device) -> int | None:
    iface = getattr(dev, "if_attributes", None)
    hours = getattr(iface, "powerOnHours", None) if iface is not None else None
    if hours is not None:
        return _int(hours)
    for attr in getattr(dev, "attributes", None) or []:
        if attr is not None and attr.num == 9:
            return _int(getattr(attr, "raw_int", None))
    return None


def report(disk: str, dev: Device) -> SmartReport:
    """A :class:`SmartReport` from an updated pySMART device."""
    attributes = [
        SmartAttribute(id=a.num, name=a.name, value=_int(a.value), worst=_int(a.worst),
                       threshold=_int(a.thresh), raw=str(a.raw), when_failed=a.when_failed)
        for a in (getattr(dev, "attributes", None) or []) if a is not None]
    tests = [SmartTest(num=_int(t.num), type=t.type, status=t.status,
                       remaining=getattr(t, "remain", None), hours=str(t.hours) if t.hours else None,
                       lba=str(t.LBA) if getattr(t, "LBA", None) is not None else None)
             for t in (dev.tests or [])]
    nvme = None
    iface = getattr(dev, "if_attributes", None)
    if iface is not None and type(iface).__name__ == "NvmeAttributes":
        keys = ("criticalWarning", "availableSpare", "availableSpareThreshold", "percentageUsed",
                "dataUnitsRead", "dataUnitsWritten", "powerCycles", "unsafeShutdowns",
                "integrityErrors", "errorEntries", "warningTemperatureTime",
                "criticalTemperatureTime")
        nvme = {k: getattr(iface, k, None) for k in keys}
    assessment = dev.assessment if dev.assessment in ("PASS", "WARN", "FAIL") else "UNKNOWN"
    capabilities = {k: bool(v) for k, v in (dev.test_capabilities or {}).items()}
    return SmartReport(
        disk=disk, supported=bool(dev.smart_capable), enabled=bool(dev.smart_enabled),
        health=assessment, interface=dev.interface, model=dev.model, serial=dev.serial,
        firmware=dev.firmware, capacity=_int(getattr(dev, "_capacity", None)),
        is_ssd=dev.is_ssd, rotation_rate=_int(dev.rotation_rate), temperature=_int(dev.temperature),
        power_on_hours=power_on_hours(dev), messages=list(dev.messages or []),
        attributes=attributes, nvme=nvme, self_tests=tests,
        test_running=bool(getattr(dev, "_test_running", False)),
        test_progress=_int(getattr(dev, "_test_progress", None)), test_capabilities=capabilities)


async def read(disk: str, disk_path: str, *, configured_path: str | None = None,
               timeout: float = 60.0) -> SmartReport:
    """Read SMART data of ``disk_path`` (``disk`` is the name shown in the API)."""
    dev = await open_device(disk_path, configured_path=configured_path, timeout=timeout)
    if dev.name is None or (dev.interface is None and not dev.smart_capable):
        return SmartReport(disk=disk, supported=False, enabled=False, health="UNKNOWN",
                           messages=["smartctl could not identify this device; it has no SMART "
                                     "data (virtual or unsupported disk)"])
    return report(disk, dev)


async def start_test(dev: Device, test_type: str) -> tuple[int, str, Any]:
    """Start a self-test; returns pySMART's ``(code, message, eta)``."""
    return await asyncio.to_thread(dev.run_selftest, test_type)


async def refresh(dev: Device) -> None:
    await asyncio.to_thread(dev.update)
