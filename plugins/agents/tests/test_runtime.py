"""Runtime behaviour that needs agents with known timing: timeouts, retries, concurrency."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import BaseModel, Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent

from sigmavault_agents.runtime import Runtime


class SleepParams(BaseModel):
    seconds: float = Field(0.0, ge=0)
    fail_times: int = 0
    client_error: bool = False


def make_runtime(app, **agents: Agent) -> Runtime:
    for agent in agents.values():
        agent.plugin = "tests"
        app.registries["agents"][agent.name] = agent
    runtime = Runtime(app, retry_backoff=0.01)
    runtime.load()
    return runtime


async def test_timeout_retries_and_concurrency(sv_app) -> None:
    calls: dict[str, int] = {}
    running = {"now": 0, "max": 0}

    async def sleeper(ctx, p: SleepParams) -> dict:
        calls[ctx.job_id] = calls.get(ctx.job_id, 0) + 1
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        try:
            if p.client_error:
                raise APIError(400, "bad", "bad input")
            if calls[ctx.job_id] <= p.fail_times:
                raise OSError("transient")
            await asyncio.sleep(p.seconds)
            return {"slept": p.seconds}
        finally:
            running["now"] -= 1

    rt = make_runtime(sv_app, SLOW=Agent(name="SLOW", tier="support", specialty="sleeps", params_model=SleepParams,
                                         run=sleeper, concurrency=2, timeout=0.3, retries=2))
    timed = rt.dispatch("SLOW", {"seconds": 5})
    retried = rt.dispatch("SLOW", {"fail_times": 2})
    exhausted = rt.dispatch("SLOW", {"fail_times": 5})
    refused = rt.dispatch("SLOW", {"client_error": True})
    parallel = [rt.dispatch("slow", {"seconds": 0.1}) for _ in range(4)]
    t = {k: await rt.wait(v["id"], 20) for k, v in
         {"timed": timed, "retried": retried, "exhausted": exhausted, "refused": refused}.items()}
    assert t["timed"]["state"] == "FAILED" and "within 0.3 s" in t["timed"]["error"]
    assert t["timed"]["attempts"] == 3  # a timeout is retried
    assert t["retried"]["state"] == "SUCCESS" and t["retried"]["attempts"] == 3
    assert t["exhausted"]["state"] == "FAILED" and t["exhausted"]["attempts"] == 3
    assert t["refused"]["state"] == "FAILED" and t["refused"]["attempts"] == 1  # 4xx: no retry
    for p in parallel:
        assert (await rt.wait(p["id"], 20))["state"] == "SUCCESS"
    assert running["max"] == 2
    logs = sv_app.jobs.logs(retried["id"])
    assert any("retrying" in line["message"] for line in logs)
    counters = rt.counters("SLOW")
    assert counters["tasks_done"] == 5 and counters["tasks_failed"] == 3


async def test_cancel_running_task(sv_app) -> None:
    async def forever(ctx, p: SleepParams) -> dict:
        await asyncio.sleep(3600)
        return {}

    rt = make_runtime(sv_app, HANG=Agent(name="HANG", tier="support", specialty="hangs", params_model=SleepParams,
                                         run=forever))
    task = rt.dispatch("HANG", {})
    for _ in range(50):
        if rt.task(task["id"])["state"] == "RUNNING":
            break
        await asyncio.sleep(0.02)
    assert rt.slots["HANG"].state == "busy"
    started = time.monotonic()
    rt.cancel(task["id"])
    done = await rt.wait(task["id"], 5)
    assert done["state"] == "ABORTED" and time.monotonic() - started < 2
    assert rt.slots["HANG"].state == "idle" and rt.slots["HANG"].running == 0
    with pytest.raises(APIError) as err:
        rt.cancel(task["id"])
    assert err.value.status == 409


async def test_interrupted_tasks_are_marked_on_recover(sv_app) -> None:
    sv_app.db.execute("INSERT INTO agents_tasks(id, agent, state, params, created_at) VALUES('x','PRISM','RUNNING','{}',0)")
    rt = Runtime(sv_app)
    assert rt.recover() == 1
    row = rt.task("x")
    assert row["state"] == "ABORTED" and "interrupted" in row["error"]


async def test_agent_runs_directly_as_a_core_job(sv_app, area) -> None:
    """An agent's handler is an ordinary job function: no runtime needed to run it."""
    (area / "a").write_bytes(b"x" * 10)
    (area / "b").write_bytes(b"x" * 10)
    agent = sv_app.registries["agents"]["WAVE"]
    assert agent.plugin == "sigmavault-agents"
    params = agent.params_model.model_validate({"roots": [{"path": str(area)}]})
    job = sv_app.jobs.submit("test.wave", lambda ctx: agent.run(ctx, params))
    done = await sv_app.jobs.wait(job.id, 10)
    assert done.state.value == "SUCCESS" and done.result["reclaimable_bytes"] == 10


async def test_history_is_pruned_to_the_limit(sv_app) -> None:
    with sv_app.db.transaction() as conn:
        for i in range(150):
            conn.execute("INSERT INTO agents_tasks(id, agent, state, params, created_at) VALUES(?,?,?,?,?)",
                         (f"t{i}", "PRISM", "SUCCESS", "{}", float(i)))
    rt = Runtime(sv_app, history=100)
    rt.prune()
    items, total = rt.tasks("PRISM", 10, 0)
    assert total == 100 and items[0]["id"] == "t149"
    assert sv_app.db.one("SELECT min(created_at) AS m FROM agents_tasks")["m"] == 50.0
