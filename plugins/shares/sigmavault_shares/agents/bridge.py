"""BRIDGE, the share health agent: do the protocol servers serve exactly the shares (their
configuration, their accounts, running), and do the share folders' ACLs say what the access lists
say? Drift is reported; with ``repair`` the ACLs are applied again and every protocol re-applied."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from ..acl import effective_level, read_acl
from ..explain import list_level, memberships
from ..shares import ShareService
from ..store import protocols
from ..models import ShareCreate


class BridgeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: Name | None = Field(None, description="one share (default: every share)")
    repair: bool = Field(False, description="apply the access lists and the protocols again "
                         "where they drifted")


async def _acl_drift(service: ShareService, share: ShareCreate) -> list[str]:
    """Users whose access through the folder's ACL is not what the access list gives them."""
    _, folder = await service.folder(share)
    if not folder.is_dir():
        return [f"folder {folder} is missing"]
    reading = await read_acl(folder)
    groups = service.store.groups()
    found = []
    for user in service.store.users():
        in_groups = memberships(user, groups)
        wanted, _ = list_level(share, user.name, in_groups)
        has = effective_level(reading, user.name, in_groups)
        if has != wanted:
            found.append(f"{user.name} gets {has} through the folder's ACL, the access list says "
                         f"{wanted}")
    return found


async def run_bridge(ctx: JobContext, p: BridgeParams) -> dict[str, Any]:
    service = ctx.app.services[ShareService]
    shares = [s for s in service.store.shares()
              if p.share is None or s.name.lower() == p.share.lower()]
    report: dict[str, Any] = {"shares": [], "protocols": [], "repaired": False}
    for i, share in enumerate(shares):
        ctx.progress(percent=100 * i / max(len(shares) + 1, 1), description=f"checking {share.name}")
        problems = await _acl_drift(service, share) if share.enabled else []
        if problems and p.repair:
            await service.apply_folder(share)  # as mode bits where a protocol of it needs them
        report["shares"].append({"share": share.name, "problems": problems,
                                 "repaired": bool(problems and p.repair)})
    accounts = service.accounts.accounts()
    every = service.store.shares()
    drifted = False
    for proto in protocols(ctx.app).values():
        drift = getattr(proto, "drift", None)
        problems = await drift(await service.resolved(every, proto), accounts) if drift else []
        drifted |= bool(problems)
        report["protocols"].append({"protocol": proto.name, "problems": problems,
                                    "running": (await proto.status()).get("running")})
    if drifted and p.repair:
        await service.refresh()
    report["repaired"] = p.repair and (drifted or any(s["problems"] for s in report["shares"]))
    report["healthy"] = not drifted and not any(s["problems"] for s in report["shares"])
    return report


BRIDGE = Agent(
    name="BRIDGE", tier="support", specialty="share health", params_model=BridgeParams,
    run=run_bridge, concurrency=1, timeout=3600.0, tags=["shares", "smb", "nfs"],
    lock=lambda p: "shares:bridge",
    description="check that the protocol servers serve exactly the shares (configuration, "
                "accounts, running) and that share folders' ACLs match their access lists; "
                "repair=true applies them again")
