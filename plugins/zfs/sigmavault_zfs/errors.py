"""Turn ``zpool``/``zfs`` failures into API errors a person can act on."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

from sigmavault.commands import CommandError
from sigmavault.errors import APIError

_RULES: list[tuple[re.Pattern[str], int, str]] = [
    (re.compile(r"no such pool|dataset does not exist|could not find any snapshots|"
                r"no such device in pool|not currently mounted", re.I), 404, "not_found"),
    (re.compile(r"already exists|is busy|has children|dependent clones|has snapshots|"
                r"is part of (?:active|exported) pool|is in use|currently in use|"
                r"more recent snapshots|pool I/O is currently suspended|"
                r"no valid replicas|only applicable to mirror", re.I), 409, "conflict"),
    (re.compile(r"invalid|bad property|out of space|exceeds|must be|too small|too many|"
                r"requires at least|not supported|can only|cannot be|unsupported|"
                r"mismatched replication", re.I), 400, "zfs_rejected"),
]


def translate(exc: CommandError) -> APIError:
    """A 4xx for failures caused by the request (missing object, busy, invalid value); the
    original 5xx otherwise. The tool's last stderr line becomes the message."""
    if exc.result is None:
        return exc
    lines = [ln.strip() for ln in (exc.result.stderr or exc.result.stdout).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("Defaulting to")]
    cannot = [ln for ln in lines if ln.startswith("cannot ")]
    message = cannot[0] if cannot else lines[-1] if lines else exc.message
    for pattern, status, code in _RULES:
        if pattern.search(message):
            return APIError(status, code, message, exc.details)
    return APIError(exc.status, exc.code, message, exc.details)


@contextmanager
def zfs_errors() -> Iterator[None]:
    """``with zfs_errors(): await cli.zfs(...)`` re-raises tool failures as :func:`translate` says."""
    try:
        yield
    except CommandError as exc:
        raise translate(exc) from None
