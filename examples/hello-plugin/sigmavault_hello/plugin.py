"""Greets people, counts greetings in SQLite and tells the event stream about each one."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

import asyncio

from sigmavault import hookimpl
from sigmavault.app import SigmaVault, get_app
from sigmavault.jobs import Job, JobContext


class HelloConfig(BaseModel):
    """The ``[hello]`` table of the config file (or ``SIGMAVAULT_HELLO__GREETING=...``)."""

    greeting: str = Field("Hello", min_length=1, max_length=40)


class GreetBody(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["Ada"])


class Greeting(BaseModel):
    message: str
    count: int = Field(description="how many greetings this daemon has said so far")


class CountdownBody(BaseModel):
    seconds: float = Field(ge=0, le=3600, description="how long the job runs")
    steps: int = Field(10, ge=1, le=1000)
    lock: str | None = Field(None, max_length=64, description="jobs with the same lock run one at a time")


class HelloStats(BaseModel):
    greetings: int = Field(description="greetings said so far")
    last: str | None = Field(description="who was greeted last")


class Greeted(BaseModel):
    name: str
    count: int


@hookimpl
def register_config(register):
    register("hello", HelloConfig)


@hookimpl
def register_migrations(register):
    register("hello", ["CREATE TABLE hello_greetings (name TEXT NOT NULL, ts TEXT NOT NULL);"])


@hookimpl
def register_events(register):
    register("hello.greeted", Greeted, "somebody was greeted through POST /api/v1/hello")


@hookimpl
def register_routes(app: SigmaVault) -> None:
    @app.api.post("/hello", body=GreetBody, response=Greeting, status=200)
    async def greet(request: web.Request, body: GreetBody) -> Greeting:
        """Greet somebody by name."""
        sv = get_app(request)
        sv.db.execute("INSERT INTO hello_greetings(name, ts) VALUES(?, datetime('now'))", (body.name,))
        count = sv.db.one("SELECT count(*) AS n FROM hello_greetings")["n"]
        sv.events.publish("hello.greeted", Greeted(name=body.name, count=count))
        return Greeting(message=f"{sv.config.section('hello').greeting}, {body.name}!", count=count)

    @app.api.get("/hello/stats", response=HelloStats)
    async def stats(request: web.Request) -> HelloStats:
        """How many greetings were said, and to whom last (the dashboard widget shows this)."""
        db = get_app(request).db
        last = db.one("SELECT name FROM hello_greetings ORDER BY rowid DESC LIMIT 1")
        return HelloStats(greetings=db.one("SELECT count(*) AS n FROM hello_greetings")["n"],
                          last=last["name"] if last else None)

    @app.api.post("/hello/countdown", body=CountdownBody, response=Job, status=202)
    async def start_countdown(request: web.Request, body: CountdownBody) -> Job:
        """Start a countdown job; poll /api/v1/jobs/{id} or watch job.progress events."""
        return get_app(request).jobs.submit(
            "hello.countdown", countdown, params=body.model_dump(), lock=body.lock,
            description=f"count down {body.seconds:g} s")


async def countdown(ctx: JobContext) -> dict:
    """A job that only waits, reporting progress: the smallest example of a long operation."""
    seconds, steps = ctx.params["seconds"], ctx.params["steps"]
    for step in range(steps):
        ctx.progress(percent=100 * step / steps, description=f"step {step + 1} of {steps}")
        await asyncio.sleep(seconds / steps)
    return {"steps": steps}


@hookimpl
def job_interrupted(app: SigmaVault, job: dict) -> None:
    """A countdown cut short by a crash has nothing to clean up; say so in the audit log."""
    if job["kind"] == "hello.countdown":
        app.audit("hello.countdown.interrupted", job["id"], outcome="aborted")


@hookimpl
def register_ui_pages(register):
    register(id="hello", title="Hello", path="/plugins/hello", icon="hand")
    register(id="hello-stats", title="Greetings", path="/hello/stats", icon="hand", kind="widget")
