"""The NFS steps of the shares explainer (``GET /shares/{share}/access?protocol=nfs&address=``):
which client rule of the live export the address matches, squash (whose rights a request gets),
and what Ganesha's own mode-bit check gives on the share folder.

sec=sys has no login: a request carries a uid, so ``user`` is the NAS user whose uid the client
sends, and no user means root (uid 0).
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import socket
from collections.abc import Sequence

from sigmavault.hookspecs import AccessStep, ShareAccount

from .conf import Export

RANK = {"none": 0, "read": 1, "write": 2}


def matches(spec: str, address: str, names: Sequence[str]) -> bool:
    """Whether the client spec (``*``, an address, a CIDR or a host pattern) covers ``address``
    (whose reverse-DNS names are ``names``)."""
    if spec == "*":
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if "/" in spec:
        return ip in ipaddress.ip_network(spec)
    try:
        return ip == ipaddress.ip_address(spec)
    except ValueError:
        return any(fnmatch.fnmatchcase(n.lower(), spec) for n in names)


async def _names(export: Export, address: str) -> list[str]:
    """The address's reverse-DNS names, looked up only when a host-name rule needs them."""
    if not any(h != "*" and "/" not in h and not matches(h, address, [])
               for c in export.clients for h in c.hosts):
        return []
    try:
        host, aliases, _ = await asyncio.to_thread(socket.gethostbyaddr, address)
        return [host, *aliases]
    except OSError:
        return []


async def nfs_steps(export: Export | None, share: str, user: ShareAccount | None,
                    client: str | None, accounts: Sequence[ShareAccount],
                    not_exported: str | None = None) -> list[AccessStep]:
    """The explainer's NFS steps for ``user`` (None: root) from ``client`` on the live
    ``export`` of ``share`` (None: not exported, ``not_exported`` says why when known); the
    last says what Ganesha's mode-bit check gives on the share folder, a cap when below."""
    if export is None:
        why = not_exported or "unknown, disabled, or refused by NFS"
        return [AccessStep(f"share {share} is not exported over NFS ({why})", cap="none")]
    steps: list[AccessStep] = []
    cap = "read" if export.read_only else "write"
    if client is None:
        steps.append(AccessStep("no client address given: the export's client rules are not "
                                "checked", cap=cap))
    else:
        names = await _names(export, client)
        rule = next(((h, c.access) for c in export.clients for h in c.hosts
                     if matches(h, client, names)), None)
        if rule is None:
            return [AccessStep(f"{client}: no client rule matches", cap="none")]
        if rule[1] == "none":
            return [AccessStep(f"{client}: client rule {rule[0]} refuses", cap="none")]
        cap = "read" if rule[1] == "ro" else cap
        note = " (the export is read-only)" if export.read_only and rule[1] == "rw" else ""
        steps.append(AccessStep(f"{client} matches client rule {rule[0]}: {rule[1]}{note}",
                                cap=cap))
    anon = next((a.name for a in accounts if a.uid == export.anon_uid), None) \
        if export.anon_uid is not None else None
    anon_text = anon or f"nobody ({export.anon_uid or 65534})"
    acting = user.name if user is not None else None
    if export.squash == "all":
        acting = anon
        steps.append(AccessStep(f"squash all: every uid acts as {anon_text}", acts_as=anon,
                                as_other=anon is None))
    elif user is None and export.squash == "root":
        steps.append(AccessStep(f"squash root: uid 0 acts as {anon_text}", acts_as=anon,
                                as_other=anon is None))
        acting = anon
    elif user is None:
        steps.append(AccessStep("no squash: uid 0 is root on the server (the access list does "
                                "not apply)", superuser=True))
        return steps
    # only sigmavault-shares calls this: its helper is there (the plugin installs without it)
    from sigmavault_shares.acl import mode_bits_level
    fs = mode_bits_level(export.path, acting)
    if fs is not None:
        steps.append(AccessStep(f"NFS-Ganesha checks mode bits, not the ACL: {fs[1]}",
                                cap=fs[0] if RANK[fs[0]] < RANK[cap] else None, after=True))
    return steps
