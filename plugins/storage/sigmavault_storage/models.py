"""Request and response schemas of the storage API (also the validated shapes of backend results)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sigmavault.validation import Name

DeviceState = Literal["online", "missing", "faulted", "replacing", "removed", "unknown"]
PoolState = Literal["online", "degraded", "faulted", "unavailable", "scrubbing", "unknown"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BackendInfo(BaseModel):
    name: str
    description: str = ""
    available: bool
    reason: str | None = None
    version: str | None = None
    capabilities: dict[str, Any]


class PoolDevice(_Open):
    path: str | None = None
    id: str | None = None
    state: DeviceState = "unknown"
    size: int | None = None
    errors: dict[str, int] = Field(default_factory=dict)


class Pool(_Open):
    name: str
    backend: str
    state: PoolState = "unknown"
    layout: str | None = None
    mountpoint: str | None = None
    size: int | None = None
    used: int | None = None
    free: int | None = None
    devices: list[PoolDevice] = Field(default_factory=list)
    properties: dict[str, Any] = Field(default_factory=dict)


class Topology(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layout: str | None = Field(None, description="one of the backend's raid_levels", examples=["raid1"])
    metadata_layout: str | None = Field(None, description="btrfs: metadata profile (default: layout)")


class PoolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    backend: str = Field("dir", examples=["btrfs"])
    topology: Topology = Field(default_factory=Topology)
    devices: list[str] = Field(default_factory=list, max_length=64,
                               description="block devices (/dev/...) from GET /storage/disks")
    options: dict[str, Any] = Field(default_factory=dict)


class PoolImport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    backend: str
    devices: list[str] | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class PoolUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add_devices: list[str] = Field(default_factory=list, max_length=64)
    options: dict[str, Any] = Field(default_factory=dict, description="backend-specific changes")


class PoolDelete(BaseModel):
    confirm: str = Field(..., description="must equal the pool name")


class DeviceRemove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str = Field(..., description="device path or backend device id")


class DeviceReplace(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old: str = Field(..., description="device path, or the backend's id of a missing device")
    new: str


class Balance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data_profile: str | None = None
    metadata_profile: str | None = None
    force: bool = Field(False, description="allow conversions that reduce metadata redundancy")


class HealthProblem(_Open):
    severity: Literal["warning", "critical"]
    message: str
    device: str | None = None


class Health(_Open):
    state: PoolState
    problems: list[HealthProblem] = Field(default_factory=list)
    devices: list[PoolDevice] = Field(default_factory=list)


class ScrubStatus(_Open):
    state: Literal["idle", "running", "finished", "canceled", "failed"]
    percent: float | None = None
    bytes_scrubbed: int | None = None
    bytes_total: int | None = None
    errors: int = 0
    started: str | None = None
    finished: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Volume(_Open):
    name: str
    pool: str
    path: str
    used: int | None = None
    quota: int | None = None
    compression: str | None = None
    origin: str | None = None
    created: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class VolumeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    quota: int | None = Field(None, ge=1 << 20, description="bytes; null = no quota")
    compression: str | None = Field(None, examples=["zstd"])


class VolumeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quota: int | None = Field(None, ge=1 << 20)
    compression: str | None = None

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent (null in the body means: remove)."""
        return {k: getattr(self, k) for k in self.model_fields_set}


class VolumeDelete(BaseModel):
    confirm: str | None = Field(None, description="must equal the volume name")


class Snapshot(_Open):
    name: str
    pool: str
    volume: str
    created: str
    writable: bool = False
    used: int | None = None
    path: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class SnapshotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = Field(None, description="default: the UTC time, e.g. 20261127T140311Z")
    writable: bool = False


class SnapshotQuery(BaseModel):
    limit: int = Field(100, ge=1, le=10_000)
    offset: int = Field(0, ge=0)
    sort: Literal["created", "name"] = "created"
    order: Literal["asc", "desc"] = "desc"


class SnapshotPage(BaseModel):
    items: list[Snapshot]
    total: int
    limit: int
    offset: int


class DiffQuery(BaseModel):
    old: str
    new: str | None = None


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: bool = Field(False, description="allow destroying newer snapshots (backends that must)")


class Restore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(..., min_length=1, max_length=4096,
                      description="file or directory, relative to the snapshot root")
    target: str | None = Field(None, max_length=4096, description="where in the live volume "
                               "(relative; default: the same path)")
    overwrite: bool = Field(False, description="replace what is at the target")


class Restored(BaseModel):
    path: str
    target: str
    type: Literal["file", "dir", "symlink", "other"]
    replaced: bool


class Clone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: Name


class Disk(BaseModel):
    name: str
    path: str
    model: str | None = None
    serial: str | None = None
    vendor: str | None = None
    wwn: str | None = None
    size: int
    type: Literal["hdd", "ssd", "nvme", "loop", "virtual", "other"]
    rotational: bool
    transport: str | None = None
    removable: bool = False
    read_only: bool = False
    in_use: bool
    in_use_by: dict[str, Any] | None = Field(
        None, description='{"pool": name, "backend": ...} or {"kind": "mounted"|"filesystem"|...}')
    partitions: list[dict[str, Any]] = Field(default_factory=list)


class DiskQuery(BaseModel):
    available: bool | None = Field(None, description="true: only disks that can go into a new pool")


class SmartAttribute(BaseModel):
    id: int
    name: str
    value: int | None = None
    worst: int | None = None
    threshold: int | None = None
    raw: str | None = None
    when_failed: str | None = None


class SmartTest(BaseModel):
    num: int | None = None
    type: str | None = None
    status: str | None = None
    remaining: str | None = None
    hours: str | None = None
    lba: str | None = None


class SmartReport(BaseModel):
    disk: str
    supported: bool
    enabled: bool
    health: Literal["PASS", "WARN", "FAIL", "UNKNOWN"]
    interface: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    capacity: int | None = None
    is_ssd: bool | None = None
    rotation_rate: int | None = None
    temperature: int | None = None
    power_on_hours: int | None = None
    messages: list[str] = Field(default_factory=list)
    attributes: list[SmartAttribute] = Field(default_factory=list)
    nvme: dict[str, Any] | None = None
    self_tests: list[SmartTest] = Field(default_factory=list)
    test_running: bool = False
    test_progress: int | None = None
    test_capabilities: dict[str, bool] = Field(default_factory=dict)


class SmartTestStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["short", "long", "conveyance", "offline"] = "short"
    wait: bool = Field(True, description="keep the job running until the test has finished")
    poll_interval: float = Field(10.0, ge=0.05, le=600)


class StorageEvent(BaseModel):
    """``storage.event`` data."""

    kind: Literal["pool_state", "pool_created", "pool_destroyed", "pool_exported",
                  "pool_imported", "scrub_progress",
                  "scrub_finished", "disk_added", "disk_removed", "smart_health",
                  "device_replaced", "snapshot_created", "snapshot_deleted", "volume_created",
                  "volume_deleted"]
    pool: str | None = None
    volume: str | None = None
    snapshot: str | None = None
    disk: str | None = None
    old: str | None = None
    new: str | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
