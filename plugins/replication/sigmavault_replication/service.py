"""The source side: replication tasks (CRUD, schedule, run now, history), browsing a task's replica
on the target, restores, and the fleet view. The work itself is in :mod:`.transfer`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from typing import TYPE_CHECKING, Any, Callable

from sigmavault import operation
from sigmavault.errors import APIError, conflict
from sigmavault.jobs import Job
from sigmavault.schedule import DueLoop, next_after, normalise
from sigmavault.validation import Name

from .config import ReplicationConfig
from .models import (RecoverBody, ReplicaFilesQuery, RestoreBody, Run, RunsQuery, Task, TaskBody,
                     TaskUpdate)
from . import transfer

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.replication")
T = "/replication/{task}"
COLUMNS = ("id, name, pool, volume, peer, target_pool, target_volume, schedule, enabled, match, "
           "take_snapshot, retention, bwlimit, encrypt, pad, recipients, created, next_run")


def check_schedule(expr: str | None) -> str | None:
    if expr is None:
        return None
    try:
        return normalise(expr)
    except ValueError as exc:
        raise APIError(422, "invalid_schedule", str(exc), {"field": "schedule"}) from None


def next_time(expr: str | None, after: float) -> float | None:
    return None if expr is None else next_after(expr, after)


SEALED_FILES = ("the target keeps this replica only as sealed (encrypted) streams it cannot read: "
                "it cannot list or hand out single files. To get one file back, POST "
                "/replication/{task}/restore with snapshot and path: this node pulls the snapshot's "
                "whole chain of streams back, decrypts it, receives it into a temporary volume, "
                "copies the file out and removes the volume. Browse this node's own snapshot of the "
                "same name, if it still exists, to find the path.")


def escapes(path: str) -> bool:
    """Whether a relative ``path`` leaves its root by ``..`` alone (symlinks are checked where
    it is resolved, on the node that holds the files)."""
    return "\x00" in path or os.path.normpath(path.strip("/") or ".").split("/")[0] == ".."


def fleet_health(node: dict[str, Any], pools: list[dict[str, Any]],
                 alerts: list[dict[str, Any]] | None) -> dict[str, Any]:
    """{state: ok | degraded | down, reasons: [{kind, message}]} of one federation entry."""
    if not node.get("reachable"):
        return {"state": "down", "reasons": [{"kind": "unreachable",
                                              "message": str(node.get("error") or "no answer")}]}
    reasons = []
    for p in pools:
        if p["state"] not in ("online", "scrubbing"):
            reasons.append({"kind": "pool_degraded", "message": f"pool {p['name']} is {p['state']}"})
    if not isinstance(node.get("storage"), list):
        reasons.append({"kind": "pools_unknown", "message": "its pools could not be read: "
                        f"{(node.get('storage') or {}).get('unavailable', 'no answer')}"})
    for a in alerts or []:
        reasons.append({"kind": "alert", "message": f"{a['severity']}: {a['message']}"})
    return {"state": "degraded" if reasons else "ok", "reasons": reasons}


class ReplicationService:
    """Replication tasks of this node (``app.services[ReplicationService]``)."""

    route_defaults = {"errors": [502]}

    def __init__(self, app: "SigmaVault", cfg: ReplicationConfig) -> None:
        self.app, self.cfg = app, cfg
        self.clock: Callable[[], float] = time.time
        self.loop = DueLoop(self.tick, self._next_due, lambda: self.cfg.tick,
                            clock=lambda: self.clock(), name="replication scheduler")
        self.active: dict[str, str] = {}   # task id -> run id

    async def start(self) -> None:
        self.app.db.execute("UPDATE replication_runs SET state='aborted', ended=?, error=? "
                            "WHERE state='running'", (self.clock(), "the daemon stopped during the run"))
        if self.cfg.tick > 0:
            self.loop.start(self.app.spawn)

    async def stop(self) -> None:
        await self.loop.stop()

    # --- rows ------------------------------------------------------------------------------------

    def _row(self, task: str) -> dict[str, Any]:
        row = self.app.db.one(f"SELECT {COLUMNS} FROM replication_tasks WHERE id=?", (task,))
        if row is None:
            raise APIError(404, "unknown_task", f"no replication task {task}")
        return row

    def task_params(self, task: str) -> dict[str, Any]:
        row = dict(self._row(task))
        row["retention"] = json.loads(row["retention"])
        row["recipients"] = json.loads(row["recipients"])
        for k in ("enabled", "take_snapshot", "encrypt", "pad"):
            row[k] = bool(row[k])
        return row

    def _view(self, task: str) -> Task:
        row = self.task_params(task)
        last = self.app.db.one("SELECT * FROM replication_runs WHERE task=? ORDER BY started DESC LIMIT 1",
                               (task,))
        return Task(**row, last_run=self._run_view(last).model_dump() if last else None,
                    running=task in self.active)

    @staticmethod
    def _run_view(row: dict[str, Any]) -> Run:
        r = dict(row)
        r["result"] = json.loads(r["result"]) if r["result"] else None
        return Run(**r)

    async def _validate(self, body: TaskBody) -> None:
        pools = {p["name"]: p for p in await self.app.call("storage.pools.list")}
        if body.pool not in pools:
            raise APIError(404, "unknown_pool", f"pool {body.pool} does not exist", {"field": "pool"})
        vols = {v["name"] for v in await self.app.call("storage.volumes.list", pool=body.pool)}
        if body.volume not in vols:
            raise APIError(404, "unknown_volume", f"volume {body.pool}/{body.volume} does not exist",
                           {"field": "volume"})
        if not self.app.has_method("mesh.peers.list"):
            raise APIError(503, "mesh_unavailable", "PhantomMesh is not installed on this node")
        peers = {p["name"]: p for p in await self.app.call("mesh.peers.list")}
        if body.peer not in peers:
            raise APIError(404, "unknown_peer", f"{body.peer} is not a PhantomMesh peer",
                           {"field": "peer"})
        if body.encrypt:
            if "encryptors" not in self.app.registries or "age" not in self.app.registries["encryptors"]:
                raise APIError(400, "encryption_unavailable", "encrypted replicas need the "
                               "encryption plugin", {"field": "encrypt"})
            enc = self.app.registries["encryptors"]["age"]
            if not (body.recipients or enc.default_recipients()):
                raise APIError(422, "no_recipients", "no encryption key on this node: create one, or "
                               "give recipients", {"field": "recipients"})
        if body.match:
            body.match = body.match.strip()

    # --- CRUD ------------------------------------------------------------------------------------

    @operation("replication.tasks.list", get="/replication", response=list[Task],
               summary="Replication tasks of this node")
    async def list_tasks(self) -> list[Task]:
        return [self._view(r["id"]) for r in self.app.db.all(
            "SELECT id FROM replication_tasks ORDER BY created")]

    @operation("replication.task.create", post="/replication", body=TaskBody, response=Task,
               status=201, errors=[404], summary="Create a replication task")
    async def create_task(self, body: TaskBody) -> Task:
        schedule = check_schedule(body.schedule)
        await self._validate(body)
        tid = "r-" + secrets.token_hex(6)
        now = self.clock()
        self.app.db.execute(
            f"INSERT INTO replication_tasks({COLUMNS}) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (tid, body.name, body.pool, body.volume, body.peer, body.target_pool,
             body.target_volume or body.volume, schedule, int(body.enabled), body.match,
             int(body.take_snapshot), body.retention.model_dump_json(), body.bwlimit, int(body.encrypt),
             int(body.pad and body.encrypt), json.dumps(body.recipients), now, next_time(schedule, now) if body.enabled else None))
        self.loop.wake()
        return self._view(tid)

    @operation("replication.task.get", get=T, response=Task, summary="One replication task")
    async def get_task(self, task: str) -> Task:
        return self._view(task)

    @operation("replication.task.update", patch=T, body=TaskUpdate, response=Task, status=200,
               summary="Change a replication task (source and target stay)")
    async def update_task(self, task: str, body: TaskUpdate) -> Task:
        row = self.task_params(task)
        changes = body.model_dump(exclude_unset=True)
        if "schedule" in changes:
            changes["schedule"] = check_schedule(changes["schedule"])
        if "bwlimit" in changes and not changes["bwlimit"]:
            changes["bwlimit"] = None
        row.update(changes)
        sets = {k: (json.dumps(v) if k == "retention" else int(v) if isinstance(v, bool) else v)
                for k, v in changes.items()}
        sets["next_run"] = next_time(row["schedule"], self.clock()) if row["enabled"] else None
        self.app.db.execute(f"UPDATE replication_tasks SET {', '.join(f'{k}=?' for k in sets)} WHERE id=?",
                            (*sets.values(), task))
        self.loop.wake()
        return self._view(task)

    @operation("replication.task.delete", delete=T, summary="Delete a replication task (the "
               "replica on the target stays)")
    async def delete_task(self, task: str) -> None:
        self._row(task)
        if task in self.active:
            raise conflict("the task is running", code="task_running")
        for row in self.app.db.all("SELECT spool FROM replication_outbox WHERE task=?", (task,)):
            with contextlib.suppress(OSError):
                os.unlink(row["spool"])
        with self.app.db.transaction() as conn:
            for table in ("replication_tasks", "replication_runs", "replication_outbox",
                          "replication_catalog"):
                conn.execute(f"DELETE FROM {table} WHERE {'id' if table == 'replication_tasks' else 'task'}=?",
                             (task,))

    # --- runs ------------------------------------------------------------------------------------

    @operation("replication.task.run", post=T + "/run", response=Run, status=202,
               summary="Run a replication task now (its job in job_id)")
    async def run_now(self, task: str) -> Run:
        return self.start_run(task, "manual")

    def start_run(self, task: str, trigger: str) -> Run:
        self._row(task)
        if task in self.active:
            raise conflict("the task's previous run is still active", code="task_running",
                           run=self.active[task])
        rid = "run-" + secrets.token_hex(6)
        now = self.clock()
        self.app.db.execute("INSERT INTO replication_runs(id, task, trigger, state, started) "
                            "VALUES(?,?,?,?,?)", (rid, task, trigger, "running", now))
        self.active[task] = rid
        params = self.task_params(task)
        try:
            job = self.app.jobs.submit("replication.run", self._job(task, rid),
                                       params={"task": task, "run": rid, "peer": params["peer"]},
                                       lock=f"replication:{task}",
                                       description=f"replicate {params['pool']}/{params['volume']} to "
                                                   f"{params['peer']}:{params['target_pool']}")
        except Exception:
            self.active.pop(task, None)
            self.app.db.execute("DELETE FROM replication_runs WHERE id=?", (rid,))
            raise
        self.app.db.execute("UPDATE replication_runs SET job_id=? WHERE id=?", (job.id, rid))
        return self._run_view(self.app.db.one("SELECT * FROM replication_runs WHERE id=?", (rid,)) or {})

    def _job(self, task: str, rid: str) -> Callable[[Any], Any]:
        async def job(ctx: Any) -> dict[str, Any]:
            state, result, error = "failed", None, None
            try:
                result = await transfer.replicate(ctx, self, self.task_params(task))
                state = "success"
                return result
            except asyncio.CancelledError:
                state, error = "aborted", "cancelled"
                raise
            except APIError as exc:
                error = f"{exc.code}: {exc.message}"
                raise
            except Exception as exc:
                if type(exc).__name__ == "JobAborted":
                    state, error = "aborted", "cancelled"
                else:
                    error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                self.active.pop(task, None)
                self.app.db.execute("UPDATE replication_runs SET state=?, ended=?, result=?, error=? "
                                    "WHERE id=?", (state, self.clock(),
                                                   json.dumps(result) if result else None, error, rid))
        return job

    @operation("replication.task.runs", get=T + "/runs", query=RunsQuery, response=list[Run],
               summary="A task's runs, newest first")
    async def runs(self, task: str, limit: int = 50, offset: int = 0) -> list[Run]:
        self._row(task)
        return [self._run_view(r) for r in self.app.db.all(
            "SELECT * FROM replication_runs WHERE task=? ORDER BY started DESC LIMIT ? OFFSET ?",
            (task, limit, offset))]

    # --- the replica on the target ---------------------------------------------------------------

    @operation("replication.task.replica", get=T + "/replica", response=dict,
               summary="The task's replica on the target: its snapshots (over the mesh)")
    async def replica(self, task: str) -> dict[str, Any]:
        return await transfer.browse(self, self.task_params(task))

    @operation("replication.task.replica.files", get=T + "/replica/snapshots/{snapshot}/files",
               query=ReplicaFilesQuery, response=dict, errors=[400, 404, 409, 502],
               params={"snapshot": Name},
               summary="One page of a folder of a replica snapshot on the target (over the mesh; "
               "open replicas only)")
    async def replica_files(self, task: str, snapshot: str, path: str = "", limit: int = 200,
                            offset: int = 0) -> dict[str, Any]:
        params = self.task_params(task)
        if params["encrypt"]:
            raise APIError(409, "sealed_replica", SEALED_FILES.replace("{task}", task),
                           {"field": "snapshot"})
        if escapes(path):
            raise APIError(400, "path_outside_snapshot", f"path {path!r} leaves the snapshot "
                           f"{snapshot}", {"field": "path", "path": path})
        link = transfer.link_for(None, self, params)
        link.retry_seconds = 0
        page: dict[str, Any] = await link.request("POST", "/files", {
            "pool": params["target_pool"], "volume": params["target_volume"], "snapshot": snapshot,
            "path": path, "limit": limit, "offset": offset})
        return {**page, "peer": params["peer"], "snapshot": snapshot}

    @operation("replication.task.check", get=T + "/check", response=dict,
               summary="Ask the target whether it accepts this task's replica (over the mesh)")
    async def check(self, task: str) -> dict[str, Any]:
        """{ok, backend?, error?}: the target's answer to a signed hello for the task's pool."""
        params = self.task_params(task)
        link = transfer.link_for(None, self, params)
        try:
            hello = await link.request("POST", "/hello", {"pool": params["target_pool"]})
        except APIError as exc:
            return {"ok": False, "error": {"code": exc.code, "message": exc.message}}
        return {"ok": True, "backend": hello.get("backend")}

    @operation("replication.task.restore", post=T + "/restore", body=RestoreBody, job=True,
               summary="Restore a volume (as a new volume) or one file from the replica")
    async def restore(self, task: str, body: RestoreBody) -> Job:
        params = self.task_params(task)
        if body.path is not None and escapes(body.path):
            raise APIError(400, "path_outside_snapshot", f"path {body.path!r} is not a file inside "
                           f"the snapshot {body.snapshot}", {"field": "path", "path": body.path})
        if (body.target_volume is None) == (body.path is None):
            raise APIError(422, "validation_error", "give target_volume (whole volume) or path "
                           "(one file)", {"field": "target_volume"})
        if body.target_volume is not None:
            vols = {v["name"] for v in await self.app.call("storage.volumes.list", pool=params["pool"])}
            if body.target_volume in vols:
                raise conflict(f"volume {params['pool']}/{body.target_volume} exists",
                               code="volume_exists", field="target_volume")
        return self.app.jobs.submit("replication.restore", lambda ctx: transfer.restore(
            ctx, self, params, body), params={"task": task, **body.model_dump()},
            lock=f"replication:{task}", description=f"restore {body.snapshot} from {params['peer']}")

    @operation("replication.recover", post="/replication/recover", body=RecoverBody, job=True,
               errors=[404, 409],
               summary="Rebuild a volume from a sealed replica after the source was lost (its "
               "keys imported here)")
    async def recover(self, body: RecoverBody) -> Job:
        vols = {v["name"] for v in await self.app.call("storage.volumes.list", pool=body.pool)}
        if body.volume in vols:
            raise conflict(f"volume {body.pool}/{body.volume} exists", code="volume_exists", field="volume")
        if "age" not in self.app.registries.get("encryptors", {}):
            raise APIError(400, "encryption_unavailable", "recovering a sealed replica needs the "
                           "encryption plugin and the source's keys")
        return self.app.jobs.submit("replication.recover", lambda ctx: transfer.recover(ctx, self, body),
                                    params=body.model_dump(), lock=f"replication:recover:{body.pool}/{body.volume}",
                                    description=f"recover {body.pool}/{body.volume} from {body.peer}")

    # --- fleet -----------------------------------------------------------------------------------

    @operation("replication.fleet", get="/replication/fleet", response=list[dict],
               summary="Mesh nodes with health (ok, degraded, down and why), system status, pools, "
               "and the last replication to and from each")
    async def fleet(self) -> list[dict[str, Any]]:
        fed = await self.app.call("mesh.federation") if self.app.has_method("mesh.federation") else []
        return [await self._fleet_node(node) for node in fed]

    async def _fleet_node(self, node: dict[str, Any]) -> dict[str, Any]:
        peer = str(node.get("peer"))
        last = self.app.db.one(
            "SELECT r.* FROM replication_runs r JOIN replication_tasks t ON t.id=r.task "
            "WHERE t.peer=? ORDER BY r.started DESC LIMIT 1", (peer,))
        storage = node.get("storage")
        pools = [{"name": p.get("name"), "backend": p.get("backend"), "state": p.get("state"),
                  "size": p.get("size"), "free": p.get("free")}
                 for p in storage] if isinstance(storage, list) else []
        system: dict[str, Any] = node["system"] if isinstance(node.get("system"), dict) else {}
        alerts = await self._peer_alerts(peer) if node.get("reachable") else None
        return {"peer": peer, "reachable": node.get("reachable", False),
                "latency_ms": node.get("latency_ms"),
                "node_name": (node.get("status") or {}).get("node_name"),
                "health": fleet_health(node, pools, alerts),
                "system": {k: system.get(k) for k in ("hostname", "os", "uptime", "cpu_percent",
                                                      "load")} | {
                    "memory_percent": (system.get("memory") or {}).get("percent")}
                if "hostname" in system else None,
                "alerts": alerts,
                "pools": pools,
                "tasks": self.app.db.value("SELECT COUNT(*) FROM replication_tasks WHERE peer=?",
                                           (peer,)),
                "last_replication": self._run_view(last).model_dump() if last else None,
                "last_replication_from": self._last_from(peer),
                "error": node.get("error")}

    async def _peer_alerts(self, peer: str) -> list[dict[str, Any]] | None:
        """The peer's active alerts (its ``/system/alerts``, with the readonly key it gave this
        node); ``None`` when it does not say."""
        try:
            r = await self.app.call("mesh.node.request", peer=peer, method="GET",
                                    path="/api/v1/system/alerts",
                                    timeout=min(self.cfg.request_timeout, 10))
        except APIError:
            return None
        if r["status"] != 200:
            return None
        try:
            got = json.loads(r["body"])
        except ValueError:
            return None
        return [{"id": a.get("id"), "severity": a.get("severity"), "message": a.get("message")}
                for a in got if isinstance(a, dict)] if isinstance(got, list) else None

    def _last_from(self, peer: str) -> dict[str, Any] | None:
        """The newest upload ``peer`` finished into a replica here (or, once those records have
        expired, the replica it created last)."""
        row = self.app.db.one("SELECT pool, volume, kind, snapshot, size, updated FROM "
                              "replication_inbox WHERE peer=? AND result IS NOT NULL AND kind!='manifest' "
                              "ORDER BY updated DESC LIMIT 1", (peer,))
        if row is not None:
            return {"pool": row["pool"], "volume": row["volume"], "sealed": row["kind"] == "sealed",
                    "snapshot": row["snapshot"], "bytes": row["size"], "at": row["updated"]}
        rep = self.app.db.one("SELECT pool, volume, sealed, created FROM replication_replicas WHERE "
                              "peer=? ORDER BY created DESC LIMIT 1", (peer,))
        if rep is None:
            return None
        return {"pool": rep["pool"], "volume": rep["volume"], "sealed": bool(rep["sealed"]),
                "snapshot": None, "bytes": None, "at": None}

    # --- scheduler -------------------------------------------------------------------------------

    def _next_due(self) -> float | None:
        nxt = self.app.db.value("SELECT MIN(next_run) FROM replication_tasks WHERE enabled=1 AND "
                                "next_run IS NOT NULL")
        return None if nxt is None else float(nxt)

    def tick(self) -> None:
        now = self.clock()
        for row in self.app.db.all("SELECT id, schedule FROM replication_tasks WHERE enabled=1 AND "
                                   "next_run IS NOT NULL AND next_run<=?", (now,)):
            self.app.db.execute("UPDATE replication_tasks SET next_run=? WHERE id=?",
                                (next_time(row["schedule"], now), row["id"]))
            if row["id"] in self.active:
                self.app.db.execute("INSERT INTO replication_runs(id, task, trigger, state, started, "
                                    "ended, error) VALUES(?,?,?,?,?,?,?)",
                                    ("run-" + secrets.token_hex(6), row["id"], "schedule", "skipped",
                                     now, now, "the previous run is still active"))
                continue
            self.start_run(row["id"], "schedule")
