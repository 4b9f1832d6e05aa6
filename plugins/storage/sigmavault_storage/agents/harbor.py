"""HARBOR: snapshot retention per volume with a preview, and periodic snapshots named by a
schema (``auto-%Y%m%d-%H%M%S``). Periodic runs: schedule HARBOR with action=snapshot through
the agents scheduler (``/api/v1/agents/schedules``)."""

from __future__ import annotations

import fnmatch
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import Field, field_validator

from sigmavault.errors import APIError, bad_request
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name, check_name

from .common import Params, parse_time, pool_info, snapshots, volume_path
from .retention import plan


class HarborParams(Params):
    action: Literal["preview", "prune", "snapshot"] = Field(
        "preview", description="preview: what the policy would delete; prune: delete it; "
        "snapshot: take a snapshot named by the schema, then prune when a policy is set")
    pool: Name
    volume: Name | None = Field(None, description="default: every volume of the pool")
    schema_: str = Field("auto-%Y%m%d-%H%M%S", alias="schema", max_length=64,
                         description="strftime naming schema of periodic snapshots; names that "
                         "parse with it carry their time, others use their creation time")
    match: str | None = Field(None, max_length=128, description="glob of the snapshots the policy "
                              "manages (default: those the schema parses)")
    keep_last: int = Field(0, ge=0, le=100_000)
    hourly: int = Field(0, ge=0, le=100_000)
    daily: int = Field(0, ge=0, le=100_000)
    weekly: int = Field(0, ge=0, le=100_000)
    monthly: int = Field(0, ge=0, le=100_000)
    yearly: int = Field(0, ge=0, le=100_000)

    model_config = {"extra": "forbid", "populate_by_name": True}

    @field_validator("schema_")
    @classmethod
    def _schema(cls, v: str) -> str:
        try:
            check_name(datetime(2026, 1, 2, 3, 4, 5).strftime(v), "snapshot name from schema")
        except APIError as e:
            raise ValueError(e.message) from None
        return v

    def has_policy(self) -> bool:
        return any((self.keep_last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly))

    async def preflight(self, app: Any) -> None:
        await pool_info(app, self.pool)
        if self.volume:
            await volume_path(app, self.pool, self.volume)
        if self.action == "prune" and not self.has_policy():
            raise bad_request("a policy that keeps nothing would delete every snapshot; set "
                              "keep_last, hourly, daily, weekly, monthly or yearly", code="empty_policy")


def _time_of(snap: dict[str, Any], schema: str) -> tuple[datetime | None, bool]:
    try:
        return datetime.strptime(snap["name"], schema).replace(tzinfo=timezone.utc), True
    except ValueError:
        return parse_time(snap.get("created")), False


async def preview_volume(app: Any, p: HarborParams, volume: str) -> dict[str, Any]:
    managed: list[tuple[str, datetime]] = []
    for s in await snapshots(app, p.pool, volume):
        t, by_schema = _time_of(s, p.schema_)
        selected = fnmatch.fnmatchcase(s["name"], p.match) if p.match else by_schema
        if selected and t is not None:
            managed.append((s["name"], t))
    kept, delete = plan(managed, p.keep_last, hourly=p.hourly, daily=p.daily, weekly=p.weekly,
                        monthly=p.monthly, yearly=p.yearly)
    return {"pool": p.pool, "volume": volume, "managed": len(managed), "keep": kept, "delete": delete}


async def run_harbor(ctx: JobContext, p: HarborParams) -> dict[str, Any]:
    app = ctx.app
    await p.preflight(app)
    vols = [p.volume] if p.volume else [v["name"] for v in
                                        await app.call("storage.volumes.list", pool=p.pool)]
    created = []
    if p.action == "snapshot":
        name = datetime.now(timezone.utc).strftime(p.schema_)
        for v in vols:
            created.append(await app.call("storage.snapshot.create", pool=p.pool, volume=v, name=name))
    out: list[dict[str, Any]] = []
    for i, v in enumerate(vols):
        ctx.check()
        ctx.progress(percent=100 * i / max(len(vols), 1), description=f"retention of {p.pool}/{v}")
        res = await preview_volume(app, p, v) if p.has_policy() else \
            {"pool": p.pool, "volume": v, "managed": 0, "keep": [], "delete": []}
        res["deleted"] = []
        if p.action != "preview":
            for name in res["delete"]:
                await app.call("storage.snapshot.delete", pool=p.pool, volume=v, snapshot=name)
                res["deleted"].append(name)
                ctx.log(f"deleted {p.pool}/{v}@{name}")
        out.append(res)
    return {"action": p.action, "schema": p.schema_, "created": [s["name"] for s in created],
            "volumes": out, "would_delete" if p.action == "preview" else "deleted_total":
            sum(len(r["delete"] if p.action == "preview" else r["deleted"]) for r in out)}


AGENT = Agent(name="HARBOR", tier="support", specialty="storage", params_model=HarborParams,
              run=run_harbor, tags=["snapshots", "retention"],
              lock=lambda p: f"harbor:{p.pool}",
              description="snapshot retention: keep last N / hourly / daily / weekly / monthly per "
                          "volume, preview before delete; periodic snapshots named by a schema")
