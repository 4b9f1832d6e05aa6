"""Any agent's ``SecretStr``/``SecretBytes`` params, however nested: a scheduled run and each retry
get them unmasked, while schedule, job and task records never hold them in plain."""

from __future__ import annotations

import json

from pydantic import BaseModel, SecretBytes, SecretStr

from sigmavault.hookspecs import Agent

from sigmavault_agents.scheduler import Scheduler

from .test_runtime import make_runtime

MASK = "**********"
PLAIN = ("t0ken-value", "pw-a", "pw-b", "bytes!", "Ynl0ZXMh")  # Ynl0ZXMh: base64 of bytes!


class Login(BaseModel):
    user: str
    password: SecretStr


class SecretiveParams(BaseModel):
    token: SecretStr
    logins: list[Login] = []
    blob: SecretBytes | None = None
    fail_times: int = 0


def _rows(app) -> str:
    tables = ("agents_schedules", "jobs", "agents_tasks")
    return json.dumps([app.db.all(f"SELECT * FROM {table}") for table in tables])


async def test_scheduled_and_retried_runs_get_nested_secrets(sv_app) -> None:
    seen: list[tuple] = []
    calls: dict[str, int] = {}

    async def run(ctx, p: SecretiveParams) -> dict:
        calls[ctx.job_id] = calls.get(ctx.job_id, 0) + 1
        seen.append((p.token.get_secret_value(), [x.password.get_secret_value() for x in p.logins],
                     p.blob.get_secret_value() if p.blob else None))
        if calls[ctx.job_id] <= p.fail_times:
            raise OSError("transient")
        return {"ok": True}

    rt = make_runtime(sv_app, SECRETIVE=Agent(name="SECRETIVE", tier="support", specialty="keeps secrets",
                                              params_model=SecretiveParams, run=run, retries=1))
    scheduler = Scheduler(rt)
    params = {"token": "t0ken-value", "logins": [{"user": "a", "password": "pw-a"}], "blob": "bytes!",
              "fail_times": 1}
    sched = scheduler.create("SECRETIVE", "0 3 * * *", params)
    assert sched["params"] == {"token": MASK, "logins": [{"user": "a", "password": MASK}], "blob": MASK,
                               "fail_times": 1}

    async def run_now() -> dict:
        due = sv_app.db.one("SELECT next_run FROM agents_schedules WHERE id=?", (sched["id"],))["next_run"]
        [task_id] = scheduler.run_due(due)
        return await rt.wait(task_id, 10)

    done = await run_now()
    assert done["state"] == "SUCCESS" and done["attempts"] == 2, done
    assert seen == [("t0ken-value", ["pw-a"], b"bytes!")] * 2  # the retry has them too
    assert not [s for s in PLAIN if s in _rows(sv_app)]

    # an edit echoing the masks keeps each stored secret at its place, and takes a new one beside them
    logins = [*sched["params"]["logins"], {"user": "b", "password": "pw-b"}]
    scheduler.update(sched["id"], {"params": {**sched["params"], "logins": logins, "fail_times": 0}})
    seen.clear()
    assert (await run_now())["state"] == "SUCCESS"
    assert seen == [("t0ken-value", ["pw-a", "pw-b"], b"bytes!")]
    assert not [s for s in PLAIN if s in _rows(sv_app)]


async def test_a_schedule_stored_with_the_mask_fails_instead_of_running_with_it(sv_app) -> None:
    """Schedules saved before secrets were sealed hold only the mask: they say so and run nothing."""
    ran: list[str] = []

    async def run(ctx, p: SecretiveParams) -> None:
        ran.append(p.token.get_secret_value())

    rt = make_runtime(sv_app, SECRETIVE=Agent(name="SECRETIVE", tier="support", specialty="keeps secrets",
                                              params_model=SecretiveParams, run=run))
    scheduler = Scheduler(rt)
    sched = scheduler.create("SECRETIVE", "0 3 * * *", {"token": "t0ken-value"})
    # the row as an older release wrote it: the mask in params, nothing sealed
    sv_app.db.execute("UPDATE agents_schedules SET params=? WHERE id=?",
                      (json.dumps({"token": MASK}), sched["id"]))
    if "secrets" in {c["name"] for c in sv_app.db.all("PRAGMA table_info(agents_schedules)")}:
        sv_app.db.execute("UPDATE agents_schedules SET secrets=NULL WHERE id=?", (sched["id"],))
    due = sv_app.db.one("SELECT next_run FROM agents_schedules WHERE id=?", (sched["id"],))["next_run"]
    assert scheduler.run_due(due) == []
    got = scheduler.get(sched["id"])
    assert "params.token is the display mask" in got["last_error"] and got["runs"] == 0
    assert ran == [] and sv_app.db.all("SELECT id FROM agents_tasks") == []
