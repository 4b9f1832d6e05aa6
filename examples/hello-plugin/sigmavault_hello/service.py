"""The hello service. Each operation is declared once: its REST route and its ``app.call`` name."""

from __future__ import annotations

import asyncio

from sigmavault import operation
from sigmavault.app import SigmaVault
from sigmavault.jobs import Job, JobContext

from .config import HelloConfig
from .models import CountdownBody, GreetBody, Greeted, Greeting, HelloStats

MIGRATIONS = ["CREATE TABLE hello_greetings (name TEXT NOT NULL, ts TEXT NOT NULL);"]


class HelloService:
    def __init__(self, app: SigmaVault, config: HelloConfig) -> None:
        self.app = app
        self.config = config

    @operation("hello.greet", post="/hello", body=GreetBody, response=Greeting, status=200)
    async def greet(self, name: str) -> Greeting:
        """Greet somebody by name."""
        db = self.app.db
        db.execute("INSERT INTO hello_greetings(name, ts) VALUES(?, datetime('now'))", (name,))
        count = db.one("SELECT count(*) AS n FROM hello_greetings")["n"]
        self.app.events.publish("hello.greeted", Greeted(name=name, count=count))
        return Greeting(message=f"{self.config.greeting}, {name}!", count=count)

    @operation("hello.stats", get="/hello/stats", response=HelloStats)
    async def stats(self) -> HelloStats:
        """How many greetings were said, and to whom last (the dashboard widget shows this)."""
        db = self.app.db
        last = db.one("SELECT name FROM hello_greetings ORDER BY rowid DESC LIMIT 1")
        return HelloStats(greetings=db.one("SELECT count(*) AS n FROM hello_greetings")["n"],
                          last=last["name"] if last else None)

    @operation("hello.countdown", post="/hello/countdown", body=CountdownBody, job=True)
    async def start_countdown(self, body: CountdownBody) -> Job:
        """Start a countdown job; poll /api/v1/jobs/{id} or watch job.progress events."""
        return self.app.jobs.submit("hello.countdown", countdown, params=body.model_dump(),
                                    lock=body.lock, description=f"count down {body.seconds:g} s")


async def countdown(ctx: JobContext) -> dict[str, int]:
    """A job that only waits, reporting progress: the smallest example of a long operation."""
    seconds, steps = ctx.params["seconds"], ctx.params["steps"]
    for step in range(steps):
        ctx.progress(percent=100 * step / steps, description=f"step {step + 1} of {steps}")
        await asyncio.sleep(seconds / steps)
    return {"steps": steps}
