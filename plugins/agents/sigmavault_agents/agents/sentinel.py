"""SENTINEL: ransomware heuristic, a burst of high-entropy rewrites or renames since a baseline."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import ransomware
from .common import Located, in_thread, key_of, load_json, save_json, state_dir, where


class SentinelParams(Located):
    action: Literal["scan", "baseline"] = Field("scan", description="scan against the baseline (taken "
                                                "first if missing), or take a new baseline")
    high_entropy: float = Field(7.5, ge=6.0, le=8.0, description="bits per byte that look encrypted")
    min_files: int = Field(5, ge=1, le=100_000, description="suspicious changes in one window to alert")
    min_ratio: float = Field(0.5, gt=0, le=1, description="share of all changes that must be suspicious")
    window_seconds: float = Field(600, gt=0, le=7 * 86400)
    rebaseline: bool = Field(False, description="after a quiet scan, make the current state the baseline")


async def run_sentinel(ctx: JobContext, p: SentinelParams) -> dict[str, Any]:
    root = await where(ctx, p)
    store = state_dir(ctx.app, "SENTINEL") / f"{key_of(root)}.json"
    if p.action == "baseline" or not store.exists():
        files = await in_thread(ctx, ransomware.take_baseline, root)
        save_json(store, {"root": str(root), "taken_at": time.time(), "files": files})
        return {"root": str(root), "baseline": True, "files": len(files), "alert": False}
    base = load_json(store)
    report = await in_thread(ctx, ransomware.scan, root, base["files"], high_entropy=p.high_entropy,
                             min_files=p.min_files, min_ratio=p.min_ratio, window_seconds=p.window_seconds)
    report["baseline_taken_at"] = base["taken_at"]
    alert_id = f"sentinel:{root}"
    if report["alert"]:
        message = (f"possible ransomware in {p.label()}: {report['suspicious_count']} encrypted-looking "
                   f"rewrites/renames ({report['burst']} within {p.window_seconds:g} s)")
        ctx.app.events.publish("alert", {"id": alert_id, "severity": "critical", "message": message,
                                         "source": "SENTINEL", "active": True,
                                         "details": {"root": str(root), "task": ctx.job_id}})
        ctx.app.audit("agents.sentinel.alert", str(root), "alert",
                      {"suspicious": report["suspicious_count"], "burst": report["burst"]})
    elif p.rebaseline:
        files = await in_thread(ctx, ransomware.take_baseline, root)
        save_json(store, {"root": str(root), "taken_at": time.time(), "files": files})
        report["rebaselined"] = True
    return report


SENTINEL = Agent(
    name="SENTINEL", tier="security", specialty="ransomware heuristic", params_model=SentinelParams,
    run=run_sentinel, concurrency=2,
    description="burst of high-entropy rewrites/renames since a baseline; raises an alert")
