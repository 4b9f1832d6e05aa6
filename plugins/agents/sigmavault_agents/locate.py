"""Where an agent may work: a storage volume (through the storage plugin) or an allowed root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from sigmavault.locations import Location, resolve as resolve_location

Target = Location  # the core model: a path inside allowed roots, or pool/volume/subpath
Kind = Literal["any", "dir", "file"]


def allowed_roots(app: Any) -> list[Path]:
    try:
        return list(app.config.section("agents").allowed_roots)
    except (KeyError, AttributeError):
        return []


def root_findings(roots: list[Path]) -> list[dict[str, str]]:
    """``security_checks`` findings about ``[agents] allowed_roots``: '/' or a missing root."""
    out = []
    for root in roots:
        if os.path.realpath(root) == "/":
            out.append({"id": "agents_root_is_slash", "severity": "high", "title": "agents may touch the whole system",
                        "detail": "[agents] allowed_roots contains '/'; list the data directories instead"})
        elif not os.path.isdir(root):
            out.append({"id": f"agents_root_missing:{root}", "severity": "low",
                        "title": "allowed root does not exist", "detail": str(root)})
    return out


async def resolve(app: Any, target: Target, *, kind: Kind = "any", must_exist: bool = True) -> Path:
    """The real path of ``target``; 400 when it leaves its volume or the allowed roots, 404 when
    it does not exist, 400 when it is not of ``kind`` (``dir``, ``file`` or ``any``)."""
    return await resolve_location(app, target, allowed_roots(app), kind=kind, must_exist=must_exist)
