"""The ``[notifications]`` configuration section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class NotificationsConfig(BaseModel):
    dedup_window: float = Field(300.0, ge=0, le=7 * 86400, description=(
        "seconds in which the same alert id in the same state (raised at a severity, or resolved) "
        "is delivered once; a repeat only updates the notification"))
    attempts: int = Field(5, ge=1, le=20, description="delivery attempts per channel before it counts as failed")
    backoff: float = Field(1.0, ge=0, le=300, description="seconds before the first retry; doubles per retry")
    max_backoff: float = Field(60.0, ge=0, le=3600, description="longest wait between two attempts")
    timeout: float = Field(10.0, gt=0, le=120, description="seconds per delivery attempt (connect, send, answer)")
    history: int = Field(10000, ge=100, le=1_000_000, description=(
        "notifications (and their deliveries) kept; older ones are pruned"))
