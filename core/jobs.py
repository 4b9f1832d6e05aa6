"""Persistent jobs: every long operation runs as one, with progress, cancel, locks and a log."""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from pydantic import BaseModel, Field

from .auth import current_user
from .errors import APIError

if TYPE_CHECKING:  # pragma: no cover
    from .app import SigmaVault

log = logging.getLogger("sigmavault.jobs")

MIGRATIONS = ["""
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    lock TEXT,
    owner TEXT NOT NULL DEFAULT 'sigmavault',
    created_by TEXT,
    percent REAL NOT NULL DEFAULT 0,
    progress_description TEXT NOT NULL DEFAULT '',
    bytes_done INTEGER,
    bytes_total INTEGER,
    result TEXT,
    error TEXT,
    interrupted INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX jobs_state ON jobs(state);
CREATE INDEX jobs_kind ON jobs(kind);
CREATE TABLE job_logs (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    ts TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_logs_job ON job_logs(job_id);
""", """
CREATE INDEX jobs_state_created ON jobs(state, created_at);
""", """
ALTER TABLE jobs ADD COLUMN progress_detail TEXT;
"""]

PROGRESS_INTERVAL = 0.2  # default seconds between job.progress events of one job
PRUNE_EVERY = 50  # finished jobs between two history prunes


class JobState(str, Enum):
    WAITING = "WAITING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


FINISHED = (JobState.SUCCESS, JobState.FAILED, JobState.ABORTED)


class ProgressDetail(BaseModel):
    """What a job that reads and writes bytes reports besides percent and ``bytes_done`` (read)
    of ``bytes_total``: output, plain bytes and ratio so far, speed, time. Every field optional."""

    bytes_out: int | None = Field(None, ge=0, description="bytes written so far")
    bytes_plain: int | None = Field(None, ge=0, description="plain bytes handled so far: before "
                                    "encoding, or after decoding (what the ratio compares)")
    ratio: float | None = Field(None, ge=0, description="plain bytes / encoded bytes so far "
                                "(2.41 means 2.41x)")
    speed_bps: float | None = Field(None, ge=0, description="bytes read per second so far")
    elapsed_s: float | None = Field(None, ge=0, description="seconds since the work started")
    eta_s: float | None = Field(None, ge=0, description="estimated seconds left")


class Progress(BaseModel):
    percent: float = Field(0, ge=0, le=100)
    description: str = ""
    bytes_done: int | None = None
    bytes_total: int | None = None
    detail: ProgressDetail | None = Field(None, description="bytes written, ratio, speed and ETA "
                                          "of a job that moves bytes (null for other jobs)")


class Job(BaseModel):
    id: str
    kind: str
    description: str
    state: JobState
    params: dict[str, Any]
    lock: str | None
    owner: str
    created_by: str | None
    progress: Progress
    result: Any = None
    error: str | None = None
    interrupted: bool = False
    created_at: str
    started_at: str | None
    finished_at: str | None


class JobAborted(Exception):
    """Raised inside a job when it was cancelled."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class JobContext:
    """What a job function gets: its id and params, progress, log and cancellation."""

    def __init__(self, manager: "JobManager", job_id: str, params: dict[str, Any]):
        self.manager = manager
        self.app = manager.app
        self.job_id = job_id
        self.params = params
        self._cancel = threading.Event()
        self.progress_interval = PROGRESS_INTERVAL
        self._last_emit = 0.0
        self._lock = threading.Lock()
        self._pending: dict[str, Any] | None = None  # progress not yet stored (under _lock)
        self._scheduled = False  # a flush on the loop will take _pending (under _lock)
        self._flush_timer: asyncio.TimerHandle | None = None
        self._listeners: list[ProgressListener] = []

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`JobAborted` if the job was cancelled (safe from worker threads)."""
        if self._cancel.is_set():
            raise JobAborted("cancelled")

    def progress(self, percent: float | None = None, description: str | None = None,
                 bytes_done: int | None = None, bytes_total: int | None = None,
                 detail: ProgressDetail | None = None) -> None:
        """Record progress. Thread-safe, and cheap enough to call for every piece of work.

        ``job.progress`` goes out at most once per ``progress_interval`` seconds per job
        (``PROGRESS_INTERVAL`` unless the job sets it), carrying the newest value of each field,
        and only when a field differs from what the job already shows (repeating the same
        progress sends nothing). ``detail`` (bytes written, ratio, speed, ETA) replaces the
        previous detail as a whole.
        """
        update: dict[str, Any] = {
            k: v for k, v in {"percent": None if percent is None else max(0.0, min(100.0, percent)),
                              "description": description, "bytes_done": bytes_done,
                              "bytes_total": bytes_total}.items() if v is not None}
        if detail is not None:
            update["progress_detail"] = detail.model_dump_json()
        with self._lock:
            self._pending = {**self._pending, **update} if self._pending else update
            if self._scheduled:
                return  # a flush is due already and takes this update along
            self._scheduled = True
        self.manager._loop.call_soon_threadsafe(self.manager._progress, self)

    def on_progress(self, listener: ProgressListener) -> None:
        """Call ``listener(job)`` on the event loop after each ``job.progress`` of this job, the
        last time with the finished job: the one throttled progress channel, for a plugin that
        derives its own event from it (``compression.progress``)."""
        self._listeners.append(listener)

    def log(self, message: str) -> None:
        """Append a line to this job's log. Thread-safe."""
        self.manager.app.db.execute("INSERT INTO job_logs(job_id, ts, message) VALUES(?,?,?)",
                                    (self.job_id, now(), message))

    def waiting(self, description: str) -> None:
        """Show the job as WAITING (queued behind something other than a core lock)."""
        self.manager._set_state(self, JobState.WAITING, description)

    def running(self, description: str = "") -> None:
        """Back to RUNNING after :meth:`waiting`."""
        self.manager._set_state(self, JobState.RUNNING, description)

    async def to_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run blocking ``fn`` in a worker thread; ``fn`` should call ``check()`` regularly.

        On cancellation this waits for ``fn`` to stop, so the job's lock is held until it has.
        """
        future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self._cancel.set()
            await asyncio.wait([future])
            raise


JobFunc = Callable[[JobContext], Awaitable[Any]]
ProgressListener = Callable[[Job], None]


class JobManager:
    def __init__(self, app: "SigmaVault", history: int = 1000, queue_limit: int = 16):
        self.app = app
        self.history = history
        self.queue_limit = queue_limit
        self.tasks: dict[str, asyncio.Task] = {}
        self.contexts: dict[str, JobContext] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.waiting: dict[str, int] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._finished_since_prune = 0
        self._loop: asyncio.AbstractEventLoop

    def start(self) -> list[Job]:
        """Mark jobs left RUNNING/WAITING by a dead daemon as interrupted and return them."""
        self._loop = asyncio.get_running_loop()
        ids = [r["id"] for r in self.app.db.all("SELECT id FROM jobs WHERE state IN (?, ?)",
                                                 (JobState.WAITING.value, JobState.RUNNING.value))]
        cur = self.app.db.execute(
            "UPDATE jobs SET state=?, interrupted=1, finished_at=?, error=? WHERE state IN (?, ?)",
            (JobState.ABORTED.value, now(), "interrupted: the daemon stopped while this job was "
             "active", JobState.WAITING.value, JobState.RUNNING.value))
        if cur.rowcount:
            log.warning("%d job(s) were interrupted by the last shutdown", cur.rowcount)
        return [self.get(i) for i in ids]

    def submit(self, kind: str, func: JobFunc, *, params: dict[str, Any] | None = None,
               lock: str | None = None, description: str = "", owner: str | None = None,
               created_by: str | None = None) -> Job:
        """Start ``func(ctx)`` as a job and return it (answer it with status 202)."""
        if lock is not None and self.waiting.get(lock, 0) >= self.queue_limit:
            raise APIError(409, "lock_queue_full",
                           f"{self.waiting[lock]} jobs already wait for {lock!r}; try again later",
                           {"lock": lock})
        job_id = uuid.uuid4().hex
        params = params or {}
        self.app.db.execute(
            "INSERT INTO jobs(id, kind, description, state, params, lock, owner, created_by, created_at)"
            " VALUES(?,?,?,?,?,?,?,?,?)",
            (job_id, kind, description or kind, JobState.WAITING.value, json.dumps(params, default=str),
             lock, owner or kind.split(".")[0], created_by or current_user.get(), now()))
        ctx = JobContext(self, job_id, params)
        self.contexts[job_id] = ctx
        self._done[job_id] = asyncio.Event()
        if lock is not None:
            self.waiting[lock] = self.waiting.get(lock, 0) + 1
        self.tasks[job_id] = asyncio.get_running_loop().create_task(self._run(ctx, func, lock))
        return self.get(job_id)

    async def _run(self, ctx: JobContext, func: JobFunc, lock: str | None) -> None:
        state, result, error = JobState.FAILED, None, None
        try:
            if lock is not None:
                mutex = self.locks.setdefault(lock, asyncio.Lock())
                try:
                    await mutex.acquire()
                finally:
                    self.waiting[lock] -= 1
            try:
                self._set(ctx.job_id, state=JobState.RUNNING.value, started_at=now())
                result = await func(ctx)
                state = JobState.SUCCESS
            finally:
                if lock is not None:
                    mutex.release()
        except (asyncio.CancelledError, JobAborted):
            state, error = JobState.ABORTED, "cancelled"
        except APIError as exc:
            error = exc.message
        except Exception as exc:
            log.exception("job %s failed", ctx.job_id)
            error = f"{type(exc).__name__}: {exc}"
        if ctx._flush_timer is not None:
            ctx._flush_timer.cancel()
        with ctx._lock:  # the final event carries the last progress
            pending, ctx._pending, ctx._scheduled = ctx._pending or {}, None, True
        if "description" in pending:
            pending["progress_description"] = pending.pop("description")
        if state == JobState.SUCCESS:
            pending["percent"] = 100
        self._set(ctx.job_id, **pending, state=state.value, finished_at=now(), error=error,
                  result=None if result is None else json.dumps(result, default=str))
        if error:
            ctx.log(f"{state.value}: {error}")
        self.tasks.pop(ctx.job_id, None)
        self.contexts.pop(ctx.job_id, None)
        self._done.pop(ctx.job_id).set()
        job = self._publish(ctx)
        self._prune()
        try:
            await self.app.plugins.acall("job_finished", app=self.app, job=job)
        except Exception:
            log.exception("job_finished hook failed")

    def _progress(self, ctx: JobContext) -> None:
        """A job reported progress: flush it now, or when the job's interval has passed."""
        if ctx.job_id not in self.contexts or ctx._flush_timer is not None:
            return
        wait = ctx.progress_interval - (time.monotonic() - ctx._last_emit)
        if wait > 0:
            ctx._flush_timer = self._loop.call_later(wait, self._flush, ctx)
            return
        self._flush(ctx)

    def _flush(self, ctx: JobContext) -> None:
        """Store the pending progress and publish ``job.progress`` if any of it changed."""
        ctx._flush_timer = None
        with ctx._lock:
            update, ctx._pending, ctx._scheduled = ctx._pending, None, False
        if not update or ctx.job_id not in self.contexts:
            return
        if "description" in update:
            update["progress_description"] = update.pop("description")
        row = self.app.db.one(f"SELECT {', '.join(update)} FROM jobs WHERE id=?", (ctx.job_id,))
        changed = {k: v for k, v in update.items() if row is None or row[k] != v}
        if not changed:
            return
        self._set(ctx.job_id, **changed)
        ctx._last_emit = time.monotonic()
        self._publish(ctx)

    def _set_state(self, ctx: JobContext, state: JobState, description: str) -> None:
        self._set(ctx.job_id, state=state.value, progress_description=description)
        self._publish(ctx)

    def _publish(self, ctx: JobContext) -> dict[str, Any]:
        """Publish ``job.progress`` with the stored job, then tell the job's listeners."""
        job = self.get(ctx.job_id)
        data = job.model_dump(mode="json")
        self.app.events.publish("job.progress", data)
        for listener in ctx._listeners:
            try:
                listener(job)
            except Exception:
                log.exception("progress listener of job %s failed", ctx.job_id)
        return data

    def _set(self, job_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k}=?" for k in fields)
        self.app.db.execute(f"UPDATE jobs SET {cols} WHERE id=?", (*fields.values(), job_id))

    def _prune(self) -> None:
        self._finished_since_prune += 1
        if self._finished_since_prune < PRUNE_EVERY:
            return
        self._finished_since_prune = 0
        self.app.db.execute(
            "DELETE FROM jobs WHERE state IN ('SUCCESS','FAILED','ABORTED') AND id NOT IN "
            "(SELECT id FROM jobs WHERE state IN ('SUCCESS','FAILED','ABORTED') "
            "ORDER BY created_at DESC, rowid DESC LIMIT ?)", (self.history,))

    # --- queries ---------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        row = self.app.db.one("SELECT * FROM jobs WHERE id=?", (job_id,))
        if row is None:
            raise APIError(404, "not_found", f"job {job_id!r} does not exist", {"kind": "job"})
        return _job(row)

    def list(self, state: str | None = None, kind: str | None = None, limit: int = 100,
             offset: int = 0) -> "tuple[builtins.list[Job], int]":
        where, args = [], []
        if state:
            where.append("state=?")
            args.append(state)
        if kind:
            where.append("(kind=? OR kind LIKE ?)")
            args += [kind, kind.rstrip("*").rstrip(".") + ".%"]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.app.db.value(f"SELECT count(*) FROM jobs {clause}", args)
        rows = self.app.db.all(f"SELECT * FROM jobs {clause} ORDER BY created_at DESC, rowid DESC "
                               "LIMIT ? OFFSET ?", (*args, limit, offset))
        return [_job(r) for r in rows], total

    def logs(self, job_id: str) -> "builtins.list[dict[str, Any]]":
        self.get(job_id)
        return self.app.db.all("SELECT ts, message FROM job_logs WHERE job_id=? ORDER BY rowid",
                               (job_id,))

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.state in FINISHED:
            raise APIError(409, "job_finished", f"job {job_id} already finished ({job.state.value})")
        self.contexts[job_id]._cancel.set()
        self.tasks[job_id].cancel()
        return job

    def delete(self, job_id: str) -> None:
        """Forget a finished job and its log (409 while it is still active)."""
        job = self.get(job_id)
        if job.state not in FINISHED:
            raise APIError(409, "job_active", f"job {job_id} is {job.state.value}; cancel it first")
        self.app.db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        event = self._done.get(job_id)
        if event is not None:
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return self.get(job_id)

    async def stop(self) -> None:
        """Cancel running jobs at shutdown (they end ABORTED, their temp files removed)."""
        for task in list(self.tasks.values()):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)


def _job(row: dict[str, Any]) -> Job:
    return Job(
        id=row["id"], kind=row["kind"], description=row["description"], state=row["state"],
        params=json.loads(row["params"]), lock=row["lock"], owner=row["owner"],
        created_by=row["created_by"],
        progress=Progress(percent=row["percent"], description=row["progress_description"],
                          bytes_done=row["bytes_done"], bytes_total=row["bytes_total"],
                          detail=ProgressDetail.model_validate_json(row["progress_detail"])
                          if row.get("progress_detail") else None),
        result=json.loads(row["result"]) if row["result"] else None, error=row["error"],
        interrupted=bool(row["interrupted"]), created_at=row["created_at"],
        started_at=row["started_at"], finished_at=row["finished_at"])
