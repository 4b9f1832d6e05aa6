"""The ``[agents]`` configuration section."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class Webhook(BaseModel):
    """A RELAY target: events whose type matches ``events`` are delivered to ``url``."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    url: str = Field(pattern=r"^https?://")
    events: list[str] = Field(default_factory=lambda: ["alert"],
                              description="event types or wildcards, e.g. 'alert', 'storage.*'")
    secret: str | None = Field(None, description="HMAC-SHA256 key for X-SigmaVault-Signature")
    attempts: int = Field(5, ge=1, le=20)


class AgentsConfig(BaseModel):
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="absolute directories agents may read and write besides storage volumes")
    history: int = Field(10_000, ge=100, description="finished agent tasks kept")
    scheduler_interval: float = Field(1.0, gt=0, le=60, description="seconds between schedule checks")
    webhooks: list[Webhook] = Field(default_factory=list)
    retry_backoff: float = Field(1.0, ge=0, le=60, description="first retry delay; doubles each retry")
