"""ARCHITECT: from unused disks, candidate topologies per backend with usable capacity and the
number of disk failures each survives."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sigmavault.errors import bad_request
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from .common import Params, need_storage
from .layout import candidates


class PlannedDisk(BaseModel):
    name: Name
    size: int = Field(gt=0)


class ArchitectParams(Params):
    disks: list[Name] | None = Field(None, description="names from the disk inventory (default: "
                                     "every unused disk)")
    planned: list[PlannedDisk] | None = Field(None, max_length=64, description="hypothetical "
                                              "disks instead of the inventory (what-if planning)")
    backends: list[Name] | None = None


async def run_architect(ctx: JobContext, p: ArchitectParams) -> dict[str, Any]:
    app = ctx.app
    need_storage(app)
    if p.planned is not None:
        disks = [d.model_dump() for d in p.planned]
    else:
        inventory = await app.call("storage.disks.list")
        if p.disks is not None:
            by_name = {d["name"]: d for d in inventory}
            unknown = [n for n in p.disks if n not in by_name]
            if unknown:
                raise bad_request(f"unknown disks: {', '.join(unknown)}", code="unknown_disk")
            busy = [n for n in p.disks if by_name[n]["in_use"] or by_name[n].get("read_only")]
            if busy:
                raise bad_request(f"disks in use: {', '.join(busy)}", code="disk_in_use")
            disks = [by_name[n] for n in p.disks]
        else:
            disks = [d for d in inventory if not d["in_use"] and not d.get("read_only") and d["size"] > 0]
    backends = [b for b in await app.call("storage.backends.list")
                if p.backends is None or b["name"] in p.backends]
    cands = await ctx.to_thread(candidates, disks, backends)
    return {"disks": [{"name": d["name"], "size": d["size"], "path": d.get("path")} for d in disks],
            "raw": sum(d["size"] for d in disks), "candidates": cands,
            "backends": [b["name"] for b in backends]}


AGENT = Agent(name="ARCHITECT", tier="storage", specialty="storage", params_model=ArchitectParams,
              run=run_architect, concurrency=2, tags=["layout", "disks"],
              description="layout advisor: from unused disks, candidate topologies per backend with "
                          "usable capacity and fault tolerance")
