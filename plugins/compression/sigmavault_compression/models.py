"""Request, response and event models of the compression API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from sigmavault.locations import Location

Operation = Literal["compress", "decompress", "recompress", "verify"]


PathText = Annotated[str, Field(min_length=1, max_length=4096,
                                 description="absolute path inside the allowed roots")]
# a file or folder: an absolute path (as before) or the location every plugin takes
# ({"pool", "volume", "subpath"} inside a storage volume, or {"path"})
Where = PathText | Location
MaybeWhere = Annotated[str, Field(max_length=4096)] | Location | None  # "" = not given


class JobRequest(BaseModel):
    """One compression job. ``source`` and ``target`` are absolute paths inside the allowed
    roots, or locations (``{"pool", "volume", "subpath"}``, the model encryption and the agents
    take)."""

    model_config = {"extra": "forbid"}

    operation: Operation = Field(..., description="compress a file or folder (tar), decompress or "
                                 "extract, recompress with another codec/level, or verify")
    source: Where = Field(..., description="absolute path, or {pool, volume, subpath}")
    target: MaybeWhere = Field(
        None, description="absolute path, or {pool, volume, subpath}; "
        "default (also for an empty string): beside the source in its volume or allowed root "
        "(x → x.zst, folder → folder.tar.zst, x.gz → x, x.tar.zst extracts into the archive's "
        "folder)")
    codec: str | None = Field(None, max_length=32, description="codec name; compress/recompress "
                              "default to the configured codec, decompress/verify detect it")
    level: int | None = Field(None, description="codec level; default: the codec's default")
    threads: int = Field(0, ge=0, le=256, description="worker threads (multi-threaded codecs); "
                         "0 = every core")
    extract: bool | None = Field(None, description="decompress: extract a tar payload into the "
                                 "target folder; default: when the payload is a tar archive")
    verify: bool = Field(False, description="compress: decode the new archive and compare before "
                         "renaming it into place")
    replace_source: bool = Field(False, description="recompress: remove the source once the new "
                                 "archive is verified (in place)")
    keep_smaller: bool = Field(False, description="recompress: keep the original when the new "
                               "archive is not smaller")
    overwrite: bool = Field(False, description="replace an existing target file")


class JobsQuery(BaseModel):
    state: Literal["WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED"] | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class ProgressEvent(BaseModel):
    """Data of a ``compression.progress`` event."""

    job_id: str
    operation: str
    codec: str
    source: str
    bytes_in: int = Field(description="bytes read so far (uncompressed when compressing)")
    bytes_out: int = Field(description="bytes written so far")
    bytes_total: int | None = Field(None, description="expected size of the input side")
    uncompressed: int = Field(description="uncompressed bytes handled so far")
    percent: float | None
    ratio: float | None = Field(None, description="uncompressed / compressed so far")
    ratio_text: str | None = None
    saved_percent: float | None = None
    throughput: float = Field(description="input bytes per second")
    elapsed: float
    eta_seconds: float | None
    done: bool = False


class CodecInfo(BaseModel):
    name: str
    description: str
    extension: str
    magic: str = Field(description="hex")
    multithreaded: bool
    levels: dict[str, int]
    plugin: str | None = None


class CodecTotals(BaseModel):
    codec: str | None = None
    jobs: int
    bytes_in: int
    bytes_out: int
    uncompressed_bytes: int
    compressed_bytes: int
    ratio: float | None
    ratio_text: str | None = Field(description='e.g. "2.41x"')
    saved_percent: float | None = Field(description="space saved, percent of the uncompressed size")
    mean_throughput: float | None = Field(description="mean of per-job uncompressed bytes/s")
    overall_throughput: float | None
    seconds: float
    operations: dict[str, int] = Field(default_factory=dict)


class StorageRatio(BaseModel):
    pool: str | None
    volume: str | None
    backend: str | None
    ratio: float | None
    ratio_text: str | None
    saved_percent: float | None
    source: str


class Stats(BaseModel):
    codecs: list[CodecTotals]
    total: CodecTotals
    storage_available: bool = Field(description="whether a storage plugin answered")
    storage: list[StorageRatio]
    available_codecs: list[str]


class Deleted(BaseModel):
    id: str
    action: Literal["cancelled", "deleted"]
    state: str
    details: dict[str, Any] = Field(default_factory=dict)
