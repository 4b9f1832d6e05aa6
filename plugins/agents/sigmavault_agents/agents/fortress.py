"""FORTRESS: security audit of this install (secrets, TLS, API keys, file modes, sockets, plugin checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import install_checks


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
    findings += [dict(f, source="FORTRESS") for f in install_checks.file_modes(Path(app.data_dir))]
    findings += [dict(f, source="FORTRESS") for f in install_checks.tls_findings(
        cfg.host, cfg.tls_cert, cfg.tls_key, cfg.tls_self_signed)]
    ctx.progress(percent=20, description="sockets")
    sockets = await ctx.to_thread(install_checks.listening_sockets)
    findings += [dict(f, source="FORTRESS") for f in install_checks.socket_findings(sockets)]
    ctx.progress(percent=40, description="passwords")
    users = app.db.all("SELECT username, password_hash, created_at, password_changed_at FROM users")
    hasher = PasswordHasher()
    findings += [dict(f, source="FORTRESS") for f in await ctx.to_thread(
        install_checks.user_findings, users, lambda h, pw: _verify(hasher, h, pw))]
    findings += [dict(f, source="FORTRESS") for f in install_checks.key_findings(
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


FORTRESS = Agent(
    name="FORTRESS", tier="security", specialty="security audit", params_model=FortressParams,
    run=run_fortress, concurrency=1, timeout=600,
    description="default secrets, TLS, stale API keys, file modes, listening sockets, plugin checks")
