"""Request and response models of the ``/api/v1/ceph`` routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ClusterInfo(BaseModel):
    fsid: str
    name: str
    source: str = Field(description="config | adopted | bootstrapped")
    conf: str
    client_id: str
    root: str | None = Field(None, description="bootstrapped: the directory holding it")
    health: str | None = None
    checks: dict[str, str] = Field(default_factory=dict)
    osds: int | None = None
    osds_up: int | None = None
    filesystems: list[str] = Field(default_factory=list)
    daemons: dict[str, int | None] = Field(default_factory=dict,
                                           description="bootstrapped: daemon → pid (None: down)")
    warnings: list[str] = Field(default_factory=list)


class AdoptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conf: str = Field(..., max_length=4096, description="absolute path of the cluster's ceph.conf")
    keyring: str | None = Field(None, max_length=4096, description="absolute path of the keyring")
    client_id: str = Field("admin", pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class BootstrapBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("ceph", pattern=r"^[a-z][a-z0-9_-]{0,30}$", description="$cluster name")
    osds: int = Field(1, ge=1, le=8, description="BlueStore OSDs on sparse files")
    osd_size: int = Field(8 << 30, ge=2 << 30, le=1 << 44, description="bytes per OSD file")
    mds: int = Field(2, ge=1, le=8, description="MDS daemons (one per file system)")
    address: str = Field("127.0.0.1", max_length=64,
                         description="the monitor's address (this host)")


class BootstrapResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    fsid: str
    root: str
    seconds: float
    details: dict[str, Any] = Field(default_factory=dict)


class OsdInfo(BaseModel):
    id: int
    name: str = Field(description="osd.<id>")
    fsid: str = Field(description="the cluster's fsid")
    host: str | None = Field(None, description="CRUSH host (else the OSD's hostname)")
    up: bool
    in_: bool = Field(alias="in", description="in the data distribution (not marked out)")
    device: str | None = Field(None, description="the BlueStore block device or file (resolved "
                                                 "on this host)")
    devices: list[str] = Field(default_factory=list, description="kernel disks under it")
    device_class: str | None = None
    size: int | None = Field(None, description="bytes")
    used: int | None = Field(None, description="bytes (data + BlueStore metadata)")
    utilization: float | None = Field(None, description="percent")
    pgs: int | None = None
    local: bool = Field(False, description="its daemon runs under this SigmaVault")
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)


class PgSummary(BaseModel):
    fsid: str
    health: str | None = None
    checks: dict[str, str] = Field(default_factory=dict)
    osds: dict[str, int] = Field(default_factory=dict, description="total, up, in")
    num_pgs: int = 0
    states: dict[str, int] = Field(default_factory=dict, description="PG state → count")
    recovery: dict[str, Any] = Field(
        default_factory=dict, description="degraded/misplaced objects and ratios, recovering "
                                          "bytes and objects per second (when any)")
    progress: list[dict[str, Any]] = Field(
        default_factory=list, description="the manager's progress events: message, 0..1")


class OsdAddBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str | None = Field(None, max_length=4096,
                               description="a whole block device to give to the OSD (wiped)")
    file: str | None = Field(None, max_length=4096,
                             description="a new sparse file (absolute path) of `size` bytes; "
                                         "default: one under the cluster's disks dir")
    size: int | None = Field(None, ge=2 << 30, le=1 << 44, description="bytes of the file")
