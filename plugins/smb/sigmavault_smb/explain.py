"""The SMB steps of the shares explainer (``GET /shares/{share}/access?protocol=smb&address=``):
smbd's host check (``hosts allow``/``hosts deny``), refused logins of disabled accounts, the guest
mapping and what SMB encryption does to it. The access list itself (``valid users``, ``write
list``, ``read only``) renders the same levels the shares plugin explains.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

from sigmavault.hookspecs import AccessStep, ResolvedShare, ShareAccount

LOOPBACK = ("127.0.0.1", "::1")


def host_matches(spec: str, address: str, names: Sequence[str]) -> bool:
    """Samba's match of one ``hosts allow``/``deny`` item: ``ALL``, an address, a network
    (``a.b.c.d/nn``, or a prefix ending in ``.``), or a host name pattern."""
    if spec.upper() == "ALL":
        return True
    ip = ipaddress.ip_address(address)
    if "/" in spec:
        try:
            return ip in ipaddress.ip_network(spec, strict=False)
        except ValueError:
            return False
    if spec.endswith("."):
        return address.startswith(spec)
    try:
        return ip == ipaddress.ip_address(spec)
    except ValueError:
        return any(fnmatch.fnmatchcase(n.lower(), spec.lower()) for n in names)


def host_allowed(allow: Sequence[str], deny: Sequence[str], address: str,
                 names: Sequence[str]) -> tuple[bool, str]:
    """Samba's ``allow_access``: loopback unless denied; only the allow list when there is no
    deny list; everything not denied when there is no allow list; with both, the allow list
    first, then everything not denied. The verdict and why."""
    hit_allow = next((h for h in allow if host_matches(h, address, names)), None)
    hit_deny = next((h for h in deny if host_matches(h, address, names)), None)
    if not allow and not deny:
        return True, ""
    if address in LOOPBACK:
        if hit_deny is not None and hit_allow is None:
            return False, f"hosts deny {hit_deny} refuses {address} (loopback too)"
        return True, f"{address} is loopback: smbd lets it in unless hosts deny names it"
    if hit_allow is not None:
        return True, f"{address} is in hosts allow ({hit_allow})"
    if not deny:
        return False, f"{address} is not in hosts allow ({' '.join(allow)})"
    if hit_deny is not None:
        return False, f"hosts deny {hit_deny} refuses {address}"
    return True, f"{address} is not in hosts deny ({' '.join(deny)})"


async def _names(hosts: Sequence[str], address: str) -> list[str]:
    """The address's reverse-DNS names, looked up only when a host-name item needs them."""
    def named(h: str) -> bool:
        try:
            ipaddress.ip_address(h)
            return False
        except ValueError:
            return "/" not in h and not h.endswith(".") and h.upper() != "ALL"
    if not any(named(h) for h in hosts):
        return []
    try:
        host, aliases, _ = await asyncio.to_thread(socket.gethostbyaddr, address)
        return [host, *aliases]
    except OSError:
        return []


async def smb_steps(share: ResolvedShare, user: ShareAccount | None, client: str | None,
                    guest_account: str = "nobody", global_encrypt: str = "if_required"
                    ) -> list[AccessStep]:
    """What smbd adds to the access list's answer for ``user`` (None: a guest) from
    ``client``."""
    steps: list[AccessStep] = []
    if client is not None:
        names = await _names((*share.hosts_allow, *share.hosts_deny), client)
        ok, why = host_allowed(share.hosts_allow, share.hosts_deny, client, names)
        if not ok:
            return [AccessStep(f"smbd refuses the connection: {why}", cap="none")]
        if why:
            steps.append(AccessStep(why))
    options: dict[str, Any] = share.options
    encrypt = options.get("encryption") or global_encrypt
    if user is not None and not user.enabled:
        steps.append(AccessStep(f"smbd refuses the login of {user.name}: the account is "
                                "disabled (NT_STATUS_ACCOUNT_DISABLED)", cap="none"))
    elif user is None and share.guest != "none":  # else the access list said why not
        if encrypt == "required":
            steps.append(AccessStep("SMB encryption is required on this share and guest "
                                    "sessions cannot encrypt: smbd refuses guests", cap="none"))
        else:
            steps.append(AccessStep(f"smbd maps the guest to its guest account "
                                    f"{guest_account}"))
    elif encrypt == "required":
        steps.append(AccessStep("SMB encryption is required: a client without SMB3 encryption "
                                "is refused"))
    return steps


class SmbProtocol:
    """The ``smb`` share protocol as registered: the SMB service (every other protocol method is
    its own) with the explainer's SMB steps."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)

    async def explain(self, share: ResolvedShare, user: ShareAccount | None,
                      client: str | None) -> list[AccessStep]:
        settings = self.service.settings
        return await smb_steps(share, user, client, settings.guest_account, settings.encrypt)
