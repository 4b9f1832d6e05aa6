"""Where an agent may work: a storage volume (through the storage plugin) or an allowed root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from sigmavault.errors import APIError
from sigmavault.validation import Name, inside

from .paths import PathNotAllowed, resolve_in_roots


class Target(BaseModel):
    """A directory or file: ``path`` (absolute, inside ``[agents] allowed_roots``) or a storage
    volume ``pool``/``volume`` with an optional ``subpath`` inside it."""

    path: str | None = Field(None, max_length=4096, description="absolute path inside an allowed root")
    pool: Name | None = None
    volume: Name | None = None
    subpath: str = Field("", max_length=4096, description="relative path inside the volume")

    @model_validator(mode="after")
    def _one_kind(self) -> "Target":
        if self.path is None and not (self.pool and self.volume):
            raise ValueError("give either 'path' or both 'pool' and 'volume'")
        if self.path is not None and (self.pool or self.volume):
            raise ValueError("give 'path' or 'pool'/'volume', not both")
        return self

    def label(self) -> str:
        return self.path if self.path is not None else f"{self.pool}/{self.volume}/{self.subpath}".rstrip("/")


def allowed_roots(app: Any) -> list[Path]:
    try:
        return list(app.config.section("agents").allowed_roots)
    except (KeyError, AttributeError):
        return []


async def resolve(app: Any, target: Target, *, kind: str = "any", must_exist: bool = True) -> Path:
    """The real path of ``target``; 400 when it leaves its volume or the allowed roots, 404 when
    it does not exist, 400 when it is not of ``kind`` (``dir``, ``file`` or ``any``)."""
    if target.path is not None:
        try:
            path = resolve_in_roots(target.path, allowed_roots(app))
        except PathNotAllowed as exc:
            raise APIError(400, "path_not_allowed", str(exc), {"path": target.path}) from None
    else:
        if "\0" in target.subpath or Path(target.subpath).is_absolute():
            raise APIError(400, "bad_subpath", "subpath must be a relative path inside the volume")
        root = await app.call("storage.volume.path", pool=target.pool, volume=target.volume)
        path = inside(Path(root), target.subpath or ".")
    if must_exist and not os.path.lexists(path):
        raise APIError(404, "not_found", f"{target.label()} does not exist", {"kind": "path", "name": target.label()})
    if must_exist and kind == "dir" and not path.is_dir():
        raise APIError(400, "not_a_directory", f"{target.label()} is not a directory")
    if must_exist and kind == "file" and not path.is_file():
        raise APIError(400, "not_a_file", f"{target.label()} is not a regular file")
    return path
