"""The ``[storage_agents]`` configuration section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StorageAgentsConfig(BaseModel):
    allowed_roots: list[str] = Field(default_factory=list, description="directories where STREAM "
                                     "may write and read stream files besides <data_dir>/storage-agents")
    aegis_on_alert: bool = Field(True, description="AEGIS snapshots every volume on a SENTINEL alert")
    aegis_min_interval: float = Field(300.0, ge=0, description="at most one alert-triggered AEGIS "
                                      "run per this many seconds")
    sentry_interval: float = Field(300.0, ge=0, description="seconds between SENTRY polls (0: off)")
    oracle_interval: float = Field(3600.0, ge=0, description="seconds between ORACLE usage samples "
                                   "(0: off)")
