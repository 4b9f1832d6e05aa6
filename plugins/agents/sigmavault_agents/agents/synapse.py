"""SYNAPSE: a workflow, a chain of agent tasks passing results along."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import template
from ..runtime import Runtime


class Step(BaseModel):
    agent: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="may use ${prev.<field>} and ${steps.<n>.<field>}")
    priority: int = Field(0, ge=-100, le=100)


class SynapseParams(BaseModel):
    steps: list[Step] = Field(min_length=1, max_length=20)
    stop_on_error: bool = True

    async def preflight(self, app: Any) -> None:
        runtime = app.services[Runtime]
        for n, step in enumerate(self.steps):
            if step.agent.upper() == "SYNAPSE":
                raise APIError(400, "nested_workflow", f"step {n}: a workflow cannot run SYNAPSE itself")
            runtime.slot(step.agent)
            if "${" not in str(step.params):
                runtime.validate(step.agent, step.params)


async def run_synapse(ctx: JobContext, p: SynapseParams) -> dict[str, Any]:
    await p.preflight(ctx.app)
    runtime = ctx.app.services[Runtime]
    results: list[dict[str, Any]] = []
    prev: Any = None
    for n, step in enumerate(p.steps):
        context = {"prev": prev, "steps": [r.get("result") for r in results]}
        try:
            params = template.substitute(step.params, context)
        except KeyError as exc:
            raise APIError(422, "bad_reference",
                           f"step {n}: reference {exc.args[0]!r} not found in earlier results") from None
        task = runtime.dispatch(step.agent, params, priority=step.priority, source=f"synapse:{ctx.job_id}")
        ctx.progress(percent=100.0 * n / len(p.steps), description=f"step {n + 1}/{len(p.steps)}: {step.agent}")
        ctx.log(f"step {n}: {step.agent} task {task['id']}")
        try:
            done = await runtime.wait(task["id"])
        except asyncio.CancelledError:
            try:
                runtime.cancel(task["id"])
            except APIError:
                pass
            raise
        results.append({"agent": done["agent"], "task_id": done["id"], "state": done["state"],
                        "result": done["result"], "error": done["error"]})
        prev = done["result"]
        if done["state"] != "SUCCESS" and p.stop_on_error:
            raise APIError(500, "step_failed", f"step {n} ({step.agent}) {done['state']}: {done['error']}")
    return {"steps": results, "ok": all(r["state"] == "SUCCESS" for r in results), "result": prev}


SYNAPSE = Agent(
    name="SYNAPSE", tier="support", specialty="workflow", params_model=SynapseParams,
    run=run_synapse, concurrency=4, timeout=None,
    description="run a chain of agent tasks, passing results along")
