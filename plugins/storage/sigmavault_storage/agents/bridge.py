"""BRIDGE: render an NFS exports line and a Samba share stanza for a volume and validate them
(exports by parsing — ``exportfs`` cannot check a file offline — and Samba with ``testparm -s``).
They are written under ``<data_dir>/storage-agents/bridge/`` and never applied to the host."""

from __future__ import annotations

import tempfile
from typing import Any

from pydantic import BaseModel, Field, field_validator

from sigmavault.commands import run
from sigmavault.errors import APIError
from sigmavault.files import atomic_write
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from .common import VolumeRef, volume_path, work_dir
from .shares import (USER, check_nfs_host, check_nfs_option, parse_exports, render_exports,
                     render_samba, testparm_problems)


class NfsClient(BaseModel):
    host: str = Field("*", max_length=255, description="*, host name (wildcards), @netgroup, IP or network")
    read_only: bool = True
    options: list[str] = Field(default_factory=lambda: ["sync", "no_subtree_check", "root_squash"])

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if err := check_nfs_host(v):
            raise ValueError(err)
        return v

    @field_validator("options")
    @classmethod
    def _options(cls, v: list[str]) -> list[str]:
        for o in v:
            if o in ("rw", "ro"):
                raise ValueError("use read_only instead of rw/ro in options")
            if err := check_nfs_option(o):
                raise ValueError(err)
        return v


class BridgeParams(VolumeRef):
    nfs: list[NfsClient] = Field(default_factory=lambda: [NfsClient()], max_length=64)
    share: Name | None = Field(None, description="Samba share name (default: the volume name)")
    read_only: bool = True
    guest_ok: bool = False
    valid_users: list[str] = Field(default_factory=list, max_length=64)
    comment: str = Field("", max_length=200, pattern=r"^[^\n\r\[\]]*$")

    @field_validator("valid_users")
    @classmethod
    def _users(cls, v: list[str]) -> list[str]:
        bad = [u for u in v if not USER.match(u)]
        if bad:
            raise ValueError(f"bad user or @group names: {bad}")
        return v


async def run_bridge(ctx: JobContext, p: BridgeParams) -> dict[str, Any]:
    app = ctx.app
    root = str(await volume_path(app, p.pool, p.volume))
    exports = render_exports(root, [(c.host, ["ro" if c.read_only else "rw", *c.options]) for c in p.nfs])
    entries, nfs_errors = parse_exports(exports)
    if entries and entries[0]["path"] != root:
        nfs_errors.append("the exports path does not round-trip")
    settings = {"path": root, "comment": p.comment or f"SigmaVault {p.pool}/{p.volume}",
                "read only": "yes" if p.read_only else "no", "browseable": "yes",
                "guest ok": "yes" if p.guest_ok else "no"}
    if p.valid_users:
        settings["valid users"] = " ".join(p.valid_users)
    share = p.share or p.volume
    stanza = render_samba(share, settings)
    samba: dict[str, Any] = {"validated_by": None, "problems": []}
    with tempfile.NamedTemporaryFile("w", suffix=".conf", prefix="bridge-", dir=work_dir(app, "bridge"),
                                     delete=True) as f:
        f.write(stanza)
        f.flush()
        try:
            res = await run(["testparm", "-s", "--suppress-prompt", f.name], timeout=30, check=False)
            samba = {"validated_by": "testparm", "problems": testparm_problems(res.stderr, res.returncode)}
            if f"[{share}]" not in res.stdout:
                samba["problems"].append(f"testparm did not load share [{share}]")
        except APIError as e:
            if e.status != 501:
                raise
            samba["problems"] = []   # testparm is not installed: rendered, not validated
    out = work_dir(app, "bridge")
    files = {"exports": out / f"{p.pool}_{p.volume}.exports", "samba": out / f"{p.pool}_{p.volume}.smb.conf"}
    for key, text in (("exports", exports), ("samba", stanza)):
        with atomic_write(files[key], "w") as fh:
            fh.write(text)
    valid = not nfs_errors and not samba["problems"]
    return {"pool": p.pool, "volume": p.volume, "path": root, "valid": valid,
            "nfs": {"exports": exports, "entries": entries, "problems": nfs_errors,
                    "validated_by": "parser"},
            "samba": {"share": share, "stanza": stanza, **samba},
            "files": {k: str(v) for k, v in files.items()}, "applied": False}


AGENT = Agent(name="BRIDGE", tier="support", specialty="storage", params_model=BridgeParams,
              run=run_bridge, concurrency=2, tags=["shares", "nfs", "smb"],
              description="share export: render NFS exports / Samba stanzas for a volume, "
                          "validated by the real tools when present (never applied)")
