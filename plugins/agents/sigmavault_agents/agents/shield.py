"""SHIELD: integrity manifest, SHA-256 of every file of a volume, verified later."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from .. import manifest
from .common import Located, in_thread, key_of, load_json, save_json, state_dir, where


class ShieldParams(Located):
    action: Literal["build", "verify"] = "verify"
    name: Name | None = Field(None, description="manifest name; default: derived from the path")


async def run_shield(ctx: JobContext, p: ShieldParams) -> dict[str, Any]:
    root = await where(ctx, p)
    store = state_dir(ctx.app, "SHIELD") / f"{p.name or key_of(root)}.json"
    if p.action == "build":
        m = await in_thread(ctx, manifest.build_manifest, root)
        m["created_at"] = time.time()
        save_json(store, m)
        return {"root": str(root), "manifest": store.stem, "files": len(m["files"]),
                "bytes": sum(f["size"] for f in m["files"].values())}
    if not store.exists():
        raise APIError(404, "not_found", f"no SHIELD manifest for {p.label()}: run action 'build' first",
                       {"kind": "manifest", "name": store.stem})
    m = load_json(store)
    report = await in_thread(ctx, manifest.verify_manifest, root, m)
    report["manifest"] = store.stem
    report["manifest_created_at"] = m.get("created_at")
    if not report["ok"]:
        ctx.app.events.publish("alert", {
            "id": f"shield:{root}", "severity": "warning", "source": "SHIELD", "active": True,
            "message": f"integrity check of {p.label()}: {len(report['modified'])} modified, "
                       f"{len(report['missing'])} missing file(s)"})
    return report


SHIELD = Agent(
    name="SHIELD", tier="security", specialty="integrity manifest", params_model=ShieldParams,
    run=run_shield, concurrency=2, lock=lambda p: f"shield:{p.name or p.label()}",
    description="SHA-256 manifest of a volume; verify later and report mismatches")
