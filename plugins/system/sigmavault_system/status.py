"""Host identity (read once) and the cheap status summary built from the sampler's latest sample."""

from __future__ import annotations

import json
import platform
import socket
import time
from functools import lru_cache
from typing import Any

import psutil

from .models import Status



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


class EncodedStatus:
    """``/system/status`` as JSON bytes, encoded once per sample; only the clock is per request.

    The document is validated against :class:`~sigmavault_system.models.Status` when it is
    built, so serving the bytes directly cannot drift from the declared schema.
    """

    def __init__(self) -> None:
        self._ts: float | None = None
        self._head = ""
        self._boot = 0.0

    def body(self, latest: dict[str, Any], interval: float) -> bytes:
        if latest["ts"] != self._ts:
            doc = Status.model_validate(build_status(latest, interval)).model_dump(
                mode="json", exclude={"uptime", "time"})
            self._head = json.dumps(doc, separators=(",", ":"))[:-1]
            self._boot = doc["boot_time"]
            self._ts = latest["ts"]
        now = time.time()
        return f'{self._head},"uptime":{round(now - self._boot, 1)},"time":{round(now, 3)}}}'.encode()
