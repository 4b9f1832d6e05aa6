"""The storage backend contract: what ``register_storage_backends`` registers.

``StorageBackend`` is what every backend implements (dir, btrfs, zfs, a third party's); each
optional capability is a protocol of its own, offered when the backend's ``capabilities`` flag is
true *and* the object has the methods (``supports(backend, "rollback")``). A type checker verifies
an implementation with ``backend: StorageBackend = MyBackend()``; ``docs/plugins/storage-backends.md``
says what each method returns.

Also here: the small helpers several backends need (device paths, file kinds).
"""

from __future__ import annotations

import os
import re
import stat
from typing import Any, Callable, Protocol, runtime_checkable

from .errors import APIError, bad_request

Progress = Callable[[float | None, str | None], None]  # (percent 0..100 or None, description)
Row = dict[str, Any]


@runtime_checkable
class StorageBackend(Protocol):
    """Pools, volumes and snapshots of one kind of storage. Every method takes keyword arguments
    and returns plain JSON-able dicts (the storage service validates them)."""

    name: str
    description: str

    @property
    def capabilities(self) -> dict[str, Any]: ...

    async def available(self) -> Row: ...
    async def pool_create(self, *, name: str, topology: dict[str, Any], devices: list[str],
                          options: dict[str, Any]) -> Row: ...
    async def pool_list(self) -> list[Row]: ...
    async def pool_get(self, *, name: str) -> Row: ...
    async def pool_update(self, *, name: str, changes: dict[str, Any]) -> Row: ...
    async def pool_destroy(self, *, name: str) -> None: ...
    async def pool_health(self, *, name: str) -> Row: ...
    async def pool_devices(self, *, name: str) -> list[str]: ...
    async def volume_create(self, *, pool: str, name: str, quota: int | None,
                            compression: str | None) -> Row: ...
    async def volume_list(self, *, pool: str) -> list[Row]: ...
    async def volume_get(self, *, pool: str, name: str) -> Row: ...
    async def volume_update(self, *, pool: str, name: str, changes: dict[str, Any]) -> Row: ...
    async def volume_destroy(self, *, pool: str, name: str) -> None: ...
    async def volume_path(self, *, pool: str, name: str) -> str: ...


@runtime_checkable
class Snapshots(Protocol):
    """Capability ``snapshots`` (and ``writable_snapshots`` for ``writable=True``)."""

    async def snapshot_create(self, *, pool: str, volume: str, name: str,
                              writable: bool = False) -> Row: ...
    async def snapshot_list(self, *, pool: str, volume: str) -> list[Row]: ...
    async def snapshot_get(self, *, pool: str, volume: str, name: str) -> Row: ...
    async def snapshot_delete(self, *, pool: str, volume: str, name: str) -> None: ...
    async def snapshot_path(self, *, pool: str, volume: str, name: str) -> str: ...


@runtime_checkable
class SnapshotListToken(Protocol):
    """Optional: a cheap value that changes whenever a volume's snapshot list may have changed."""

    async def snapshot_list_token(self, *, pool: str, volume: str) -> str | None: ...


@runtime_checkable
class Rollback(Protocol):
    async def snapshot_rollback(self, *, pool: str, volume: str, name: str) -> Row: ...


@runtime_checkable
class Clone(Protocol):
    async def snapshot_clone(self, *, pool: str, volume: str, name: str, target: str) -> Row: ...


@runtime_checkable
class Scrub(Protocol):
    async def scrub_start(self, *, pool: str) -> None: ...
    async def scrub_status(self, *, pool: str) -> Row: ...
    async def scrub_cancel(self, *, pool: str) -> None: ...


@runtime_checkable
class Balance(Protocol):
    async def balance(self, *, pool: str, options: dict[str, Any],
                      progress: Progress | None = None) -> Row: ...


@runtime_checkable
class SendReceive(Protocol):
    """Capabilities ``send_receive`` and ``incremental_send`` (``base``)."""

    async def send(self, *, pool: str, volume: str, snapshot: str, target: str,
                   base: str | None = None) -> Row: ...
    async def receive(self, *, pool: str, volume: str, source: str,
                      snapshot: str | None = None) -> Row: ...


@runtime_checkable
class Diff(Protocol):
    async def diff(self, *, pool: str, volume: str, old: str, new: str | None = None) -> list[Row]: ...


@runtime_checkable
class Import(Protocol):
    async def pool_import(self, *, name: str, devices: list[str] | None,
                          options: dict[str, Any]) -> Row: ...
    async def pool_export(self, *, name: str) -> None: ...


@runtime_checkable
class DeviceAdd(Protocol):
    async def device_add(self, *, pool: str, devices: list[str]) -> Row: ...


@runtime_checkable
class DeviceRemove(Protocol):
    async def device_remove(self, *, pool: str, device: str,
                            progress: Progress | None = None) -> Row: ...


@runtime_checkable
class DeviceReplace(Protocol):
    async def device_replace(self, *, pool: str, old: str, new: str,
                             progress: Progress | None = None) -> Row: ...


CAPABILITIES: dict[str, type] = {
    "snapshots": Snapshots, "writable_snapshots": Snapshots, "rollback": Rollback, "clone": Clone,
    "scrub": Scrub, "balance": Balance, "send_receive": SendReceive,
    "incremental_send": SendReceive, "diff": Diff, "import": Import, "device_add": DeviceAdd,
    "device_remove": DeviceRemove, "device_replace": DeviceReplace,
}


def supports(backend: Any, capability: str) -> bool:
    """True when ``backend`` claims ``capability`` and has the methods it takes."""
    if not backend.capabilities.get(capability):
        return False
    protocol = CAPABILITIES.get(capability)
    return protocol is None or isinstance(backend, protocol)


def not_supported(backend: str, what: str, reason: str | None = None) -> APIError:
    """The 400 for a request the backend cannot do (never a 5xx: nothing broke)."""
    return APIError(400, "not_supported", f"the {backend} backend does not support {what}"
                    + (f" here: {reason}" if reason else ""),
                    {"backend": backend, "capability": what, **({"reason": reason} if reason else {})})


_DEVICE = re.compile(r"^/dev/[A-Za-z0-9_.:+@/-]{1,200}$")


def check_device_path(dev: Any, field: str = "devices") -> str:
    """A /dev path made of safe characters (no NUL, no '..'); 400 naming ``field`` otherwise."""
    if not isinstance(dev, str) or not _DEVICE.fullmatch(dev) or ".." in dev:
        raise bad_request(f"{field}: device {str(dev)[:200]!r} must be an absolute /dev path",
                          code="invalid_device", device=str(dev)[:200], field=field)
    return dev


def check_block_device(dev: Any, field: str = "devices") -> str:
    """:func:`check_device_path`, and the path exists and is a block device."""
    check_device_path(dev, field)
    try:
        mode = os.stat(dev).st_mode
    except OSError:
        raise bad_request(f"{field}: device {dev!r} does not exist", code="invalid_device",
                          device=dev, field=field) from None
    if not stat.S_ISBLK(mode):
        raise bad_request(f"{field}: {dev!r} is not a block device", code="invalid_device",
                          device=dev, field=field)
    return dev


def kind_of(mode: int) -> str:
    """``file``, ``dir``, ``symlink`` or ``other`` for an ``st_mode``."""
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"
