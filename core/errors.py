"""The one error type handlers raise, and its JSON envelope."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """An error answered as ``{"error": {"code", "message", "details"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def bad_request(message: str, code: str = "bad_request", **details: Any) -> APIError:
    return APIError(400, code, message, details)


def not_found(what: str, name: str) -> APIError:
    return APIError(404, "not_found", f"{what} {name!r} does not exist", {"kind": what, "name": name})


def conflict(message: str, code: str = "conflict", **details: Any) -> APIError:
    return APIError(409, code, message, details)


def unprocessable(message: str, code: str = "unprocessable", **details: Any) -> APIError:
    return APIError(422, code, message, details)
