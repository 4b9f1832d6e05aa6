"""Adopting a cluster SigmaVault did not make: check that the conf and keyring reach it and that
the key may do what the backend does (create pools and file systems, subvolumes, snapshots)."""

from __future__ import annotations

import os
import stat
from typing import Any

from sigmavault.errors import APIError, bad_request

from .cli import CephCli, cluster_name_of

# per service: the cap strings that are enough (any of them)
NEEDED = {
    "mon": ("allow *",),
    "mgr": ("allow *", "allow rw"),
    "osd": ("allow *", "allow rw", "allow rwx"),
    "mds": ("allow *", "allow rwps", "allow"),
}


def missing_caps(caps: dict[str, str]) -> list[str]:
    """What a key with ``caps`` (``{"mon": "allow r", ...}``) lacks, as readable strings."""
    out = []
    for service, enough in NEEDED.items():
        have = [c.strip() for c in (caps.get(service) or "").split(",")]
        if not any(h in enough for h in have):
            out.append(f"{service} '{enough[0]}' (has {caps.get(service) or 'nothing'!r})")
    return out


def _readable_file(path: str, what: str) -> None:
    if not os.path.isabs(path) or "\x00" in path:
        raise bad_request(f"{what} must be an absolute path", field=what)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise bad_request(f"{what} {path}: {exc.strerror}", field=what) from None
    if not stat.S_ISREG(st.st_mode):
        raise bad_request(f"{what} {path} is not a file", field=what)


async def check_cluster(conf: str, keyring: str | None, client_id: str,
                        timeout: float = 30.0) -> tuple[CephCli, dict[str, Any]]:
    """A CLI for the cluster and ``{"fsid", "caps", "warnings"}``; a 4xx saying why not."""
    _readable_file(conf, "conf")
    warnings = []
    if keyring is not None:
        _readable_file(keyring, "keyring")
        mode = os.stat(keyring).st_mode & 0o777
        if mode & 0o077:
            warnings.append(f"keyring {keyring} is readable by others (mode {mode:o}); 0600 advised")
    cli = CephCli(conf=conf, keyring=keyring, client_id=client_id, cluster=cluster_name_of(conf),
                  timeout=timeout)
    try:
        fsid = (await cli.raw("fsid", what="cluster fsid", timeout=timeout)).stdout.strip()
    except APIError as exc:
        raise APIError(400, "cluster_unreachable", f"the cluster of {conf} cannot be reached "
                       f"as client.{client_id}: {exc.message}", exc.details) from None
    try:
        got = await cli.json("auth", "get", f"client.{client_id}", what="own capabilities")
    except APIError as exc:
        raise APIError(400, "insufficient_caps", f"client.{client_id} may not read its own "
                       f"capabilities, so it lacks mon 'allow *' that creating file systems "
                       f"needs ({exc.message})", {"client": client_id}) from None
    entry = (got or [{}])[0] if isinstance(got, list) else (got or {})
    caps = dict(entry.get("caps") or {})
    lacking = missing_caps(caps)
    if lacking:
        raise APIError(400, "insufficient_caps", f"client.{client_id} lacks "
                       f"{'; '.join(lacking)}: SigmaVault creates pools, file systems, "
                       f"subvolumes and snapshots with it", {"client": client_id, "caps": caps})
    return cli, {"fsid": fsid, "caps": caps, "warnings": warnings}
