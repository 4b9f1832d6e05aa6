"""CHRONICLE: the core audit log, its hash chain verified, exported and rotated."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from sigmavault.errors import APIError
from sigmavault.files import atomic_write
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import audit_jsonl
from ..locate import Target, resolve
from .common import state_dir, where


class ChronicleParams(BaseModel):
    action: Literal["verify", "export", "rotate"] = "verify"
    keep: int = Field(10_000, ge=0, description="rotate: newest records kept in the live log")
    destination: Target | None = Field(None, description="export/rotate: directory for the file "
                                       "(default: the agent's state directory)")
    file: str | None = Field(None, pattern=r"^audit-[0-9TZ-]+\.jsonl$",
                             description="verify: an exported file instead of the live log")

    async def preflight(self, app: Any) -> None:
        if self.destination is not None:
            await resolve(app, self.destination, kind="dir")


def _rows(app: Any, upto: int | None = None) -> list[dict[str, Any]]:
    if upto is None:
        return app.db.all("SELECT * FROM audit ORDER BY id")
    return app.db.all("SELECT * FROM audit WHERE id <= ? ORDER BY id", (upto,))


def _count(app: Any) -> int:
    row = app.db.one("SELECT count(*) AS n FROM audit")
    return row["n"] if row else 0


async def _export(ctx: JobContext, p: ChronicleParams, rows: list[dict[str, Any]]) -> dict[str, Any]:
    directory = await where(ctx, p.destination) if p.destination else state_dir(ctx.app, "CHRONICLE")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"audit-{stamp}.jsonl"
    with atomic_write(path, "w", overwrite=False) as f:
        n = audit_jsonl.write_jsonl(f, rows)
    path.chmod(0o600)
    return {"file": str(path), "records": n, "first_id": rows[0]["id"] if rows else None,
            "last_id": rows[-1]["id"] if rows else None}


async def run_chronicle(ctx: JobContext, p: ChronicleParams) -> dict[str, Any]:
    app = ctx.app
    if p.action == "verify":
        if p.file:
            path = state_dir(app, "CHRONICLE") / p.file
            if not path.is_file():
                raise APIError(404, "not_found", f"export {p.file} does not exist", {"kind": "export"})
            rows = audit_jsonl.read_jsonl(path)
            return {"file": str(path), **app.audit_log.check_rows(rows, anchored=False)}
        report = await ctx.to_thread(app.audit_log.verify)
        if not report["ok"]:
            app.events.publish("alert", {"id": "chronicle:audit", "severity": "critical", "source": "CHRONICLE",
                                         "active": True, "message": "audit log tampered with: "
                                         f"{report['problems'][0]['message']}"})
        return report
    if p.action == "export":
        rows = _rows(app)
        return {**await _export(ctx, p, rows), **app.audit_log.check_rows(rows)}
    # rotate: export everything but the newest ``keep`` records, then drop them and move the
    # signed checkpoint past them in one transaction
    last = app.db.one("SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?", (p.keep,))
    if last is None:
        return {"rotated": 0, "kept": _count(app)}
    rows = _rows(app, last["id"])
    check = app.audit_log.check_rows(rows)
    if not check["ok"]:
        raise APIError(409, "chain_broken", f"audit chain broken at record {check['first_bad_id']}; "
                       "refusing to rotate (export it and investigate)", check)
    exported = await _export(ctx, p, rows)
    app.audit_log.rotate(last["id"], rows[-1]["hash"],
                         {"file": exported["file"], "records": exported["records"]})
    app.audit("agents.chronicle.rotate", exported["file"], "ok",
              {"records": exported["records"], "last_id": exported["last_id"]})
    return {"rotated": exported["records"], "kept": _count(app), **exported,
            "live_chain": app.audit_log.verify()}


CHRONICLE = Agent(
    name="CHRONICLE", tier="storage", specialty="audit log", params_model=ChronicleParams,
    run=run_chronicle, concurrency=1, description="verify the audit hash chain, export and rotate it")
