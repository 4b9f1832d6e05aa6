"""The ``ceph`` command line, with JSON output, for one cluster (conf + keyring + client id).

Every call goes through :func:`sigmavault.commands.run` with an argv list. The ceph tool answers
errors as ``Error EINVAL: ...`` on stderr with the errno as exit code; :func:`api_error` maps them
to 4xx answers (a name Ceph refuses is a 400, a missing thing a 404, an existing one a 409).
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field
from typing import Any

from sigmavault.commands import CommandError, Result, run
from sigmavault.errors import APIError


def _last_error(result: Result) -> str:
    lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error ")]
    for line in errors or lines[-1:]:
        return line
    return f"exit {result.returncode}"


def api_error(result: Result, what: str) -> APIError:
    """The 4xx (or 500) for a failed ceph call."""
    message = _last_error(result)
    rc = result.returncode
    text = message.split(":", 1)[-1].strip() if message.startswith("Error ") else message
    details = {"stderr": result.stderr[-2000:], "returncode": rc}
    if "invalid chars" in result.stderr or "Invalid command" in result.stderr:
        first = next((ln for ln in result.stderr.splitlines() if "invalid" in ln.lower()), message)
        return APIError(400, "invalid_name", f"{what}: Ceph refuses it ({first.strip()})", details)
    if rc == errno.ENOENT:
        return APIError(404, "not_found", f"{what}: {text}", details)
    if rc == errno.EEXIST:
        return APIError(409, "conflict", f"{what}: {text}", details)
    if rc in (errno.EINVAL, errno.ERANGE, errno.EDOM):
        return APIError(400, "bad_request", f"{what}: {text}", details)
    if rc in (errno.EPERM, errno.EACCES):
        return APIError(409, "ceph_refused", f"{what}: Ceph refused ({text})", details)
    if rc in (errno.EBUSY, errno.EAGAIN, errno.ENOTEMPTY):
        return APIError(409, "busy", f"{what}: {text}", details)
    if rc == errno.ETIMEDOUT or rc == 110:
        return APIError(503, "cluster_unreachable", f"{what}: the cluster does not answer", details)
    return CommandError(result, f"{what}: {message}")


@dataclass
class CephCli:
    """``ceph`` for one cluster. ``cluster`` is the ``$cluster`` name the conf's metavariables use."""

    conf: str
    keyring: str | None = None
    client_id: str = "admin"
    cluster: str = "ceph"
    timeout: float = 60.0
    program: str = "ceph"
    env: dict[str, str] = field(default_factory=dict)

    def base(self, program: str | None = None) -> list[str]:
        argv = [program or self.program, "--cluster", self.cluster, "-c", self.conf,
                "--id", self.client_id]
        if self.keyring:
            argv += ["--keyring", self.keyring]
        return argv

    async def raw(self, *args: str, what: str = "ceph", timeout: float | None = None,
                  input: bytes | None = None, check: bool = True) -> Result:
        result = await run([*self.base(), "--connect-timeout", str(int(min(timeout or self.timeout,
                                                                               self.timeout))),
                            *args], timeout=(timeout or self.timeout) + 5, check=False,
                           input=input, env=self.env or None)
        if check and not result.ok:
            raise api_error(result, what)
        return result

    async def json(self, *args: str, what: str = "ceph", timeout: float | None = None,
                   input: bytes | None = None) -> Any:
        """``ceph <args> --format json`` decoded (None for an empty answer)."""
        result = await self.raw(*args, "--format", "json", what=what, timeout=timeout, input=input)
        text = result.stdout.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise APIError(502, "bad_ceph_output", f"{what}: ceph printed no JSON",
                           {"stdout": text[:2000]}) from None


def cluster_name_of(conf: str) -> str:
    """``$cluster`` of a conf path: ``/etc/ceph/backup.conf`` → ``backup``; else ``ceph``."""
    stem = os.path.basename(conf)
    if stem.endswith(".conf") and stem != ".conf":
        return stem[:-5]
    return "ceph"
