"""The ``[compression]`` configuration section."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class CompressionConfig(BaseModel):
    """Settings of the compression plugin."""

    allowed_roots: list[Path] | None = Field(
        None, description="absolute folders that jobs and agents may read and write; default: "
        "<data_dir>/pools. Mountpoints and volume paths reported by the storage plugin are "
        "always added.")
    default_codec: str = Field("zstd", description="codec used when a request names none")
    progress_interval: float = Field(0.25, ge=0.02, le=10,
                                     description="seconds between two progress events (job.progress and "
                                     "compression.progress) of a compression job or agent")
    max_concurrent_jobs: int = Field(2, ge=1, le=64,
                                     description="compression jobs running at once; more wait")
