"""The ``[system]`` configuration section."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from .store import DEFAULT_TIERS, Tier, check_tiers
from .thresholds import PulseParams
from .units import DEFAULT_SERVICES, ServiceSpec

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def duration(value: object) -> object:
    """Seconds from a number or a string like ``"10s"``, ``"5m"``, ``"30d"``, ``"2y"``."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*([smhdwy]?)\s*", value)
        if not m:
            raise ValueError("a duration is a number of seconds or like 10s, 5m, 1h, 30d, 2y")
        return int(m.group(1)) * _UNITS[m.group(2) or "s"]
    return value


class TierConfig(BaseModel):
    step: int = Field(ge=1, le=86400, description="seconds per bucket (10s, 5m, 1h …)")
    keep: int = Field(ge=1, le=20 * 365 * 86400, description="how long this tier is kept (1d, 30d, 2y …)")

    @field_validator("step", "keep", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return duration(value)


class HistoryStoreConfig(BaseModel):
    enabled: bool = Field(True, description="keep metrics history on disk (<data dir>/metrics.db)")
    tiers: list[TierConfig] = Field(
        default_factory=lambda: [TierConfig(step=t.step, keep=t.keep) for t in DEFAULT_TIERS],
        description="finest first; each step a multiple of the previous one")
    pool_interval: float = Field(300.0, ge=1, le=86400,
                                 description="seconds between pool usage reads (storage plugin)")
    prune_interval: float = Field(3600.0, ge=1, le=86400,
                                  description="seconds between deletions of expired rows")

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[TierConfig]) -> list[TierConfig]:
        check_tiers(tuple(Tier(t.step, t.keep) for t in value))
        return value


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
    history: HistoryStoreConfig = Field(default_factory=HistoryStoreConfig,
                                        description="metrics history kept on disk, in tiers")

    @field_validator("disk_exclude", "net_exclude")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value or None
