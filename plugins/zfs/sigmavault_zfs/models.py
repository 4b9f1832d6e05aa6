"""Request and response models of the ``/zfs`` routes (ZFS-only operations the generic storage
API does not cover: attach/detach/offline/online/clear, holds, dataset properties, import scan)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sigmavault.validation import Name


class Generation(BaseModel):
    available: bool
    reason: str | None
    version: str | None
    cli: str | None = Field(None, description="openzfs or zfs-fuse")
    parsable: bool | None = None
    json_output: bool | None = None
    diff: bool | None = None


class Errors(BaseModel):
    read: int
    write: int
    checksum: int


class Vdev(BaseModel):
    name: str
    type: str
    state: str
    path: str | None
    errors: Errors
    note: str | None
    children: list["Vdev"] = []


class Scan(BaseModel):
    function: str | None
    state: str
    percent: float | None
    bytes_scanned: int | None
    bytes_issued: int | None
    bytes_total: int | None
    repaired: int | None
    errors: int
    started: str | None
    finished: str | None
    elapsed: int | None
    eta: int | None


class PoolStatus(BaseModel):
    name: str
    state: str
    layout: str
    status: str | None
    action: str | None
    data_errors: str | None
    scan: Scan
    vdevs: list[Vdev]
    logs: list[Vdev]
    cache: list[Vdev]
    spares: list[Vdev]


class DeviceBody(BaseModel):
    device: str = Field(..., description="device path (/dev/loop3) or zfs id (guid of a missing device)")


class AttachBody(DeviceBody):
    new: str = Field(..., description="block device to mirror onto")


class OfflineBody(DeviceBody):
    temporary: bool = False


class ClearBody(BaseModel):
    device: str | None = None


class AddBody(BaseModel):
    devices: list[str] = Field(..., min_length=1)
    role: Literal["data", "log", "cache", "spare"] = "data"


class Importable(BaseModel):
    name: str
    id: str | None
    state: str | None


class ImportableQuery(BaseModel):
    dir: str = Field("/dev", description="directory to search for pool members")


class VolumeProperties(BaseModel):
    dataset: str
    quota: int | None
    compression: str
    compressratio: float | None
    recordsize: int | None
    atime: str | None
    readonly: str | None
    used: int
    referenced: int | None
    available: int | None
    usedbysnapshots: int | None
    mountpoint: str | None
    origin: str | None
    sources: dict[str, str]


class VolumePropertiesPatch(BaseModel):
    quota: int | None = Field(None, ge=0)
    compression: str | None = None
    recordsize: int | None = None
    atime: bool | None = None
    readonly: bool | None = None


class HoldBody(BaseModel):
    tag: Name


class SnapshotHolds(BaseModel):
    snapshot: str
    holds: int

