"""Where a plugin's job reads or writes: an absolute path inside allowed roots, or a place inside
a storage volume. One model and one resolver, so every plugin confines paths the same way."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import APIError
from .validation import Name, inside

if TYPE_CHECKING:  # pragma: no cover
    from .app import SigmaVault


class Location(BaseModel):
    """A file or folder: ``path`` (absolute, inside the plugin's allowed roots) or a storage
    volume ``pool``/``volume`` with an optional ``subpath`` inside it."""

    # the rule of _one_kind, stated for clients and fuzzers
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["path"], "properties": {"path": {"type": "string"}, "pool": {"type": "null"},
                                              "volume": {"type": "null"}}},
        {"required": ["pool", "volume"], "properties": {
            "path": {"type": "null"}, "pool": {"type": "string"}, "volume": {"type": "string"}}}]})

    path: str | None = Field(None, max_length=4096, description="absolute path inside an allowed root")
    pool: Name | None = None
    volume: Name | None = None
    subpath: str = Field("", max_length=4096, description="relative path inside the volume")

    @model_validator(mode="after")
    def _one_kind(self) -> "Location":
        if self.path is None and not (self.pool and self.volume):
            raise ValueError("give either 'path' or both 'pool' and 'volume'")
        if self.path is not None and (self.pool or self.volume):
            raise ValueError("give 'path' (absolute) or 'pool'/'volume' with an optional 'subpath' "
                             "inside the volume, not both")
        return self

    def label(self) -> str:
        return self.path if self.path is not None else f"{self.pool}/{self.volume}/{self.subpath}".rstrip("/")


def within_roots(raw: str | os.PathLike, roots: Iterable[Path | str], what: str = "path") -> Path:
    """Resolve ``raw`` (absolute; symlinks followed; need not exist) and require it inside one of
    ``roots``: 400 ``invalid_path`` or ``path_not_allowed`` (naming the roots) otherwise."""
    text = os.fspath(raw)
    if not text or "\x00" in text:
        raise APIError(400, "invalid_path", f"{what} must be a non-empty path", {"field": what})
    if not os.path.isabs(text):
        raise APIError(400, "invalid_path", f"{what} {text!r} must be an absolute path",
                       {"field": what})
    resolved = Path(os.path.realpath(text))
    real_roots = [Path(os.path.realpath(r)) for r in roots]
    if any(resolved == root or root in resolved.parents for root in real_roots):
        return resolved
    raise APIError(400, "path_not_allowed",
                   f"{what} {text!r} is outside the allowed roots "
                   f"({', '.join(map(str, real_roots)) or 'none configured'})",
                   {"field": what, "path": text, "allowed_roots": [str(r) for r in real_roots]})


async def resolve(app: "SigmaVault", location: Location, roots: Iterable[Path | str], *,
                  kind: Literal["any", "dir", "file"] = "any", must_exist: bool = True,
                  field: str | None = None) -> Path:
    """The real path of ``location``: 400 when it leaves its volume or the roots (naming
    ``field``, e.g. ``source``, in the message and ``details.field``), 404 when its volume is
    unknown or it must exist and does not, 400 when it is not of ``kind``."""
    prefix = f"{field}." if field else ""
    if location.path is not None:
        path = within_roots(location.path, roots, f"{prefix}path")
    else:
        name = f"{prefix}subpath"
        if "\x00" in location.subpath or os.path.isabs(location.subpath):
            raise APIError(400, "invalid_path", f"{name} must be a relative path inside the volume",
                           {"field": name})
        root = Path(await app.call("storage.volume.path", pool=location.pool,
                                   volume=location.volume))
        if not root.is_dir():
            raise APIError(404, "not_found",
                           f"volume {location.volume!r} of pool {location.pool!r} does not exist",
                           {"kind": "volume", "name": f"{location.pool}/{location.volume}"})
        try:
            path = inside(root, location.subpath or ".")
        except APIError as exc:
            raise APIError(exc.status, exc.code, f"{name} {location.subpath!r} leaves volume "
                           f"{location.pool}/{location.volume}",
                           {"field": name, "pool": location.pool, "volume": location.volume}
                           ) from None
    if must_exist:
        if not os.path.lexists(path):
            raise APIError(404, "not_found", f"{location.label()} does not exist",
                           {"kind": "path", "name": location.label()})
        if kind == "dir" and not path.is_dir():
            raise APIError(400, "not_a_directory", f"{location.label()} is not a folder")
        if kind == "file" and not path.is_file():
            raise APIError(400, "not_a_file", f"{location.label()} is not a regular file")
    return path
