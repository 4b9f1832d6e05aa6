"""The ``[replication]`` config section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReplicationConfig(BaseModel):
    tick: float = Field(30, ge=0, description="longest seconds between two checks for due tasks "
                        "(0: scheduler off; run now still works)")
    chunk_bytes: int = Field(8 << 20, ge=64 << 10, le=12 << 20,
                             description="bytes per signed upload/download request")
    inflight: int = Field(3, ge=1, le=16, description="upload chunks in flight at once")
    retry_seconds: float = Field(300, ge=0, description="how long a run keeps retrying a cut "
                                 "link before it fails (the next run resumes where it stopped)")
    inbox_ttl_seconds: float = Field(7 * 86400, gt=0, description="an unfinished upload from a "
                                     "peer untouched this long is deleted (checked at start)")
    request_timeout: float = Field(120, gt=0, description="seconds one node-to-node request may take")
