"""Host identity (read once) and the cheap status summary built from the sampler's latest sample."""

from __future__ import annotations

import platform
import socket
import time
from functools import lru_cache
from typing import Any

import psutil



def _os_name() -> str:
    try:
        info = platform.freedesktop_os_release()
        return info.get("PRETTY_NAME") or info.get("NAME") or platform.system()
    except OSError:
        return platform.system()


@lru_cache(maxsize=1)
def host_identity() -> dict[str, Any]:
    """What does not change while the daemon runs: OS, kernel, architecture, boot time."""
    u = platform.uname()
    return {"os": _os_name(), "kernel": u.release, "arch": u.machine,
            "boot_time": psutil.boot_time(), "cpu_count": psutil.cpu_count() or 1}


def build_status(latest: dict[str, Any], interval: float) -> dict[str, Any]:
    """The ``/system/status`` document: identity plus live CPU, memory, swap and load.

    Live values come from the sampler (at most one interval old), so a status request costs no
    kernel reads at all.
    """
    ident = host_identity()
    now = time.time()
    return {
        "hostname": socket.gethostname(),
        **ident,
        "uptime": round(now - ident["boot_time"], 1),
        "time": round(now, 3),
        "cpu_percent": latest["cpu"]["percent"],
        "memory": latest["memory"],
        "swap": latest["swap"],
        "load": latest["load"],
        "sampler_interval": interval,
    }
