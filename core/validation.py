"""Strict names and contained paths: nothing user-supplied reaches argv or the filesystem raw."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from .errors import APIError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
# NAME_RE without '..', written without look-around so that every JSON Schema tool (and the
# fuzzer's generator) can use it; the length (1-64) is stated by minLength/maxLength.
NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_:-]|\.[A-Za-z0-9_:-])*\.?$"


def check_name(value: str, what: str = "name") -> str:
    """Return ``value`` if it is a safe object name, else raise a 400 that says why."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value) or ".." in value:
        raise APIError(400, "invalid_name",
                       f"invalid {what} {value!r}: use 1-64 letters, digits, '_', '.', ':' or '-', "
                       "starting with a letter or digit, without '..'", {"field": what})
    return value


def _pydantic_name(value: str) -> str:
    if not NAME_RE.fullmatch(value) or ".." in value:
        raise ValueError("use 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or "
                         "digit, without '..'")
    return value


# The pattern is stated in the schema (json_schema_extra) but checked by _pydantic_name, whose
# message says the rule in words.
Name = Annotated[str, Field(min_length=1, max_length=64, examples=["tank"],
                            json_schema_extra={"pattern": NAME_PATTERN}),
                 AfterValidator(_pydantic_name)]


def inside(root: Path | str, relpath: str | Path) -> Path:
    """Resolve ``relpath`` under ``root``; a 400 if the result escapes ``root`` (``..``, symlinks)."""
    root = Path(root).resolve()
    candidate = (root / relpath).resolve()
    if candidate != root and root not in candidate.parents:
        raise APIError(400, "path_outside_volume", f"path {str(relpath)!r} leaves {root}",
                       {"root": str(root)})
    return candidate
