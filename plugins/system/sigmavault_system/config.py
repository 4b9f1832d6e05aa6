"""The ``[system]`` configuration section."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from .thresholds import PulseParams
from .units import DEFAULT_SERVICES, ServiceSpec


class SystemConfig(BaseModel):
    interval: float = Field(1.0, ge=0.05, le=3600, description="seconds between metric samples")
    history_seconds: float = Field(900.0, ge=1, le=86400,
                                   description="how much sample history to keep in memory")
    fs_interval: float = Field(10.0, ge=0, le=3600,
                               description="re-read filesystem usage at most this often (seconds)")
    disk_exclude: str | None = Field(r"^(loop|ram)\d+$",
                                     description="regex of block devices left out of disk I/O")
    net_exclude: str | None = Field(None, description="regex of interfaces left out of network rates")
    prometheus: bool = Field(True, description="serve the Prometheus exposition")
    services: list[ServiceSpec] = Field(default_factory=lambda: list(DEFAULT_SERVICES),
                                        description="services shown by /system/services")
    pulse_interval: float = Field(60.0, ge=0, le=86400, description=(
        "seconds between PULSE heartbeats run in-process (0: only when the agent is tasked)"))
    pulse: PulseParams = Field(default_factory=PulseParams,
                               description="default thresholds of agent PULSE")

    @field_validator("disk_exclude", "net_exclude")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value or None
