"""The running storage service, set at startup (routes and named methods reach it here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sigmavault.errors import APIError

if TYPE_CHECKING:  # pragma: no cover
    from .service import StorageService

_service: "StorageService | None" = None


def set_service(svc: "StorageService | None") -> None:
    global _service
    _service = svc


def service() -> "StorageService":
    """The storage service; 503 before startup."""
    if _service is None:
        raise APIError(503, "storage_not_ready", "the storage service has not started yet")
    return _service
