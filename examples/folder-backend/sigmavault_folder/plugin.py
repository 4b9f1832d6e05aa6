"""Hook implementations of the folder backend: a config section and the backend itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field

from sigmavault import hookimpl
from sigmavault.app import SigmaVault
from sigmavault.backends import StorageBackend

from .backend import FolderBackend


class FolderConfig(BaseModel):
    root: str | None = Field(None, description="where pools live (default: <data_dir>/folder)")


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("folder", FolderConfig)


@hookimpl
def register_storage_backends(register: Callable[[Any], None], app: SigmaVault) -> None:
    root = app.config.section("folder").root
    backend: StorageBackend = FolderBackend(Path(root) if root else app.data_dir / "folder")
    register(backend)
