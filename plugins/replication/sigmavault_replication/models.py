"""Request and response models of the replication API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from sigmavault.schedule import cron_pattern
from sigmavault.validation import Name

CRON_PATTERN = cron_pattern()
CRON: dict[str, Any] = {"json_schema_extra": {"pattern": CRON_PATTERN}}


class Retention(BaseModel):
    keep_last: int = Field(0, ge=0, le=100000, description="snapshots kept on the target (0: all); "
                           "the newest common snapshot is always kept")


class TaskBody(BaseModel):
    name: str = Field("", max_length=100, description="a label")
    pool: Name = Field(description="source pool")
    volume: Name = Field(description="source volume")
    peer: Name = Field(description="target node: a PhantomMesh node peer")
    target_pool: Name = Field(description="pool on the target node (the target must allow this "
                              "node into it: /replication/targets there)")
    target_volume: Name | None = Field(None, description="volume on the target (default: the "
                                       "source volume's name)")
    schedule: str | None = Field(None, max_length=100, description="5-field cron (UTC); null: run "
                                 "only on request", **CRON)
    enabled: bool = True
    match: str = Field("*", min_length=1, max_length=100, description="glob on snapshot names")
    take_snapshot: bool = Field(False, description="take a snapshot (repl-YYYYmmddTHHMMSSZ) "
                                "before each run")
    retention: Retention = Field(default_factory=Retention)
    bwlimit: int | None = Field(None, ge=16384, description="bytes per second on the wire (null: "
                                "unlimited)")
    encrypt: bool = Field(False, description="untrusted target: every stream sealed with age to "
                          "this node's keys and stored there as opaque files")
    pad: bool = Field(False, description="sealed replicas: pad every stream (Padmé, at most "
                      "+12 %) so the target sees only a rounded size")
    recipients: list[str] = Field(default_factory=list, max_length=16, description="encryption "
                                  "key ids (k-…) or age1…/age1pq1… recipients; empty: this "
                                  "node's default keys (post-quantum ones when present)")


class TaskUpdate(BaseModel):
    name: str | None = Field(None, max_length=100)
    schedule: str | None = Field(None, max_length=100, **CRON)
    enabled: bool | None = None
    match: str | None = Field(None, min_length=1, max_length=100)
    take_snapshot: bool | None = None
    retention: Retention | None = None
    bwlimit: int | None = Field(None, ge=0, description="0 removes the limit")


class Task(TaskBody):
    id: str
    created: float
    next_run: float | None = None
    last_run: dict[str, Any] | None = None
    running: bool = False


class Run(BaseModel):
    id: str
    task: str
    trigger: Literal["schedule", "manual"]
    state: Literal["running", "success", "failed", "aborted", "skipped"]
    job_id: str | None = None
    started: float
    ended: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class RunsQuery(BaseModel):
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class TargetBody(BaseModel):
    peer: Name = Field(description="mesh node peer allowed to write")
    pool: Name = Field(description="pool of this node it may write replicas into")


class Target(TargetBody):
    created: float


class ReplicaQuery(BaseModel):
    pass


class ReplicaFilesQuery(BaseModel):
    path: str = Field("", max_length=4096, description="folder inside the replica snapshot "
                      "(relative; empty: its root)")
    limit: int = Field(200, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class RestoreBody(BaseModel):
    snapshot: Name = Field(description="replica snapshot to restore from")
    target_volume: Name | None = Field(None, description="new volume on the source pool "
                                       "(whole-volume restore; must not exist)")
    path: str | None = Field(None, max_length=4096, description="one file inside the snapshot: "
                             "restored into the live source volume")
    overwrite: bool = False


class RecoverBody(BaseModel):
    peer: Name = Field(description="the node holding the sealed replica")
    target_pool: Name = Field(description="its pool")
    target_volume: Name = Field(description="the replica volume there")
    pool: Name = Field(description="pool of this node to restore into")
    volume: Name = Field(description="new volume (must not exist)")
    snapshot: Name | None = Field(None, description="default: the newest in the manifest")


class ReplicaOwner(BaseModel):
    peer: Name = Field(description="the mesh peer that owns the replica from now on (e.g. "
                           "the node that replaces a lost source)")


# --- node to node (target side) ------------------------------------------------------------------

class NodeRef(BaseModel):
    pool: Name
    volume: Name | None = None
    identify: list[Name] = Field(default_factory=list, max_length=32, description="snapshots "
                                 "whose origin (btrfs received UUID) the answer should name")


class NodeFiles(ReplicaFilesQuery):
    pool: Name
    volume: Name
    snapshot: Name


class UploadBegin(BaseModel):
    pool: Name
    volume: Name
    kind: Literal["stream", "sealed", "manifest"]
    key: str = Field(pattern=r"^[A-Za-z0-9._:@-]{1,200}$", description="the sender's idempotency "
                     "key: the same key resumes the same upload")
    snapshot: Name | None = None
    size: int | None = Field(None, ge=0, description="null: a stream still being written on the "
                             "source (the commit then says its size and SHA-256)")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    replaces: str | None = Field(None, pattern=r"^[A-Za-z0-9._:@-]{1,200}$", description="the key "
                                 "of an unfinished upload of this peer to drop (its stream is gone "
                                 "on the source)")


class UploadEnd(BaseModel):
    size: int | None = Field(None, ge=0, description="required when the upload began without")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class ChunkQuery(BaseModel):
    offset: int = Field(ge=0)


class PruneBody(BaseModel):
    pool: Name
    volume: Name
    snapshots: list[Name] = Field(default_factory=list, max_length=10000)
    blobs: list[str] = Field(default_factory=list, max_length=10000)


class ExportBody(BaseModel):
    pool: Name
    volume: Name
    snapshot: Name | None = None
    blob: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    path: str | None = Field(None, max_length=4096)
    manifest: bool = False


class DownloadQuery(BaseModel):
    offset: int = Field(0, ge=0)
    length: int = Field(8 << 20, ge=1, le=12 << 20)
