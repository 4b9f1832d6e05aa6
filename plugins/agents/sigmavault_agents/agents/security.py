"""FORTRESS, SENTINEL, SHIELD, GUARDIAN and PHANTOM: the security agents of this plugin."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from ..locate import Target, allowed_roots, resolve
from ..work import erase, fortress, manifest, perms, ransomware
from .common import Located, in_thread, key_of, load_json, save_json, state_dir, where

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


class FortressParams(BaseModel):
    stale_key_days: int = Field(90, ge=1, le=3650)
    plugin_checks: bool = Field(True, description="include every plugin's security_checks findings")


def _verify(hasher: PasswordHasher, hashed: str, password: str) -> bool:
    try:
        return hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


async def run_fortress(ctx: JobContext, p: FortressParams) -> dict[str, Any]:
    app = ctx.app
    cfg = app.config
    findings: list[dict[str, Any]] = []
    findings += [dict(f, source="FORTRESS") for f in fortress.file_modes(Path(app.data_dir))]
    findings += [dict(f, source="FORTRESS") for f in fortress.tls_findings(
        cfg.host, cfg.tls_cert, cfg.tls_key, cfg.tls_self_signed)]
    ctx.progress(percent=20, description="sockets")
    sockets = await ctx.to_thread(fortress.listening_sockets)
    findings += [dict(f, source="FORTRESS") for f in fortress.socket_findings(sockets)]
    ctx.progress(percent=40, description="passwords")
    users = app.db.all("SELECT username, password_hash, created_at, password_changed_at FROM users")
    hasher = PasswordHasher()
    findings += [dict(f, source="FORTRESS") for f in await ctx.to_thread(
        fortress.user_findings, users, lambda h, pw: _verify(hasher, h, pw))]
    findings += [dict(f, source="FORTRESS") for f in fortress.key_findings(
        app.auth.list_keys(), stale_days=p.stale_key_days)]
    for w in app.config.section("agents").webhooks:
        if not w.secret:
            findings.append({"id": f"webhook_unsigned:{w.name}", "severity": "low", "source": "FORTRESS",
                             "title": f"webhook {w.name} has no secret",
                             "detail": "receivers cannot tell RELAY's deliveries from forged ones"})
    errors = []
    if p.plugin_checks:
        ctx.progress(percent=70, description="plugin checks")
        for plugin, func in app.plugins.impls("security_checks"):
            try:
                result = func(app=app)
                if hasattr(result, "__await__"):
                    result = await result
                for f in result or []:
                    findings.append({"id": str(f.get("id")), "severity": str(f.get("severity", "info")),
                                     "title": str(f.get("title", "")), "detail": str(f.get("detail", "")),
                                     "source": plugin})
            except Exception as exc:
                errors.append({"plugin": plugin, "error": f"{type(exc).__name__}: {exc}"})
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f["severity"], 5), f["id"]))
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return {"findings": findings, "counts": counts, "listening": sockets, "plugin_errors": errors,
            "ok": not any(f["severity"] in ("critical", "high") for f in findings)}


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


class GuardianParams(Located):
    allowed_uids: list[int] | None = Field(None, description="owners that are expected (default: root "
                                           "and the owner of the target)")
    limit: int = Field(1000, ge=1, le=100_000, description="findings returned at most")


async def run_guardian(ctx: JobContext, p: GuardianParams) -> dict[str, Any]:
    return await in_thread(ctx, perms.permission_audit, await where(ctx, p), p.allowed_uids, p.limit)


CONFIRMATION = "ERASE"


class PhantomParams(BaseModel):
    targets: list[Target] = Field(min_length=1, max_length=100, description="files or directories")
    dry_run: bool = Field(True, description="only report what would be erased")
    confirm: str = Field("", max_length=16, description=f"must be {CONFIRMATION!r} when dry_run is false")
    passes: int = Field(1, ge=1, le=7, description="overwrite passes (the last is zeros when > 1)")

    async def preflight(self, app: Any) -> None:
        if not self.dry_run and self.confirm != CONFIRMATION:
            raise APIError(400, "confirmation_required",
                           f"secure erase is destructive: set confirm to {CONFIRMATION!r} (or keep dry_run)")
        roots = {os.path.realpath(r) for r in allowed_roots(app)}
        for t in self.targets:
            path = await resolve(app, t, kind="any")
            if str(path) in roots or (t.pool and not t.subpath.strip("/.")):
                raise APIError(400, "refused", f"{t.label()} is a whole root or volume; name what is inside it")


async def run_phantom(ctx: JobContext, p: PhantomParams) -> dict[str, Any]:
    await p.preflight(ctx.app)  # also when dispatched without the API's preflight
    targets = [await where(ctx, t, "any") for t in p.targets]
    result = await in_thread(ctx, erase.secure_erase, targets, dry_run=p.dry_run, passes=p.passes)
    if not p.dry_run:
        ctx.app.audit("agents.phantom.erase", ", ".join(map(str, targets))[:500], "ok",
                      {"files": result["erased_files"], "bytes": result["bytes"]})
    return result


AGENTS = [
    Agent(name="FORTRESS", tier="security", specialty="security audit", params_model=FortressParams,
          run=run_fortress, concurrency=1, timeout=600,
          description="default secrets, TLS, stale API keys, file modes, listening sockets, plugin checks"),
    Agent(name="SENTINEL", tier="security", specialty="ransomware heuristic", params_model=SentinelParams,
          run=run_sentinel, concurrency=2,
          description="burst of high-entropy rewrites/renames since a baseline; raises an alert"),
    Agent(name="SHIELD", tier="security", specialty="integrity manifest", params_model=ShieldParams,
          run=run_shield, concurrency=2, lock=lambda p: f"shield:{p.name or p.label()}",
          description="SHA-256 manifest of a volume; verify later and report mismatches"),
    Agent(name="GUARDIAN", tier="security", specialty="permission audit", params_model=GuardianParams,
          run=run_guardian, concurrency=2,
          description="world-writable entries, setuid/setgid files, unexpected owners"),
    Agent(name="PHANTOM", tier="security", specialty="secure erase", params_model=PhantomParams,
          run=run_phantom, concurrency=1, timeout=None,
          description="overwrite, fsync and unlink files; dry run by default, needs confirm='ERASE'"),
]
