"""Volumes of the zfs backend: filesystems directly under the pool's root dataset, with quota,
compression, recordsize, atime and readonly."""

from __future__ import annotations

from typing import Any

from sigmavault.backends import Row
from sigmavault.commands import CommandError
from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import rows
from .base import VIEW_PREFIX, Props, ZfsBase
from .checks import bool_prop
from .errors import translate, zfs_errors
from .listing import parse_get
from .zfs_tool import ZFS_FUSE


class VolumeOps(ZfsBase):
    """The volume methods of the storage protocol."""

    def _property_args(self, changes: dict[str, Any]) -> dict[str, str]:
        """Validated ``{property: value}`` for the volume properties this backend manages."""
        props: dict[str, str] = {}
        for key, value in changes.items():
            if key == "quota":
                if value is None or value == 0:
                    props["quota"] = "none"
                elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    if value < 64 * 1024:
                        raise bad_request("quota must be at least 64 KiB", field="quota")
                    props["quota"] = str(value)
                else:
                    raise bad_request("quota must be a positive number of bytes or null", field="quota")
            elif key == "compression":
                props["compression"] = "off" if value is None else self._check_compression(value)
            elif key == "recordsize":
                if not isinstance(value, int) or isinstance(value, bool) or value < 512 or \
                        value > 128 * 1024 or value & (value - 1):
                    raise bad_request("recordsize must be a power of two from 512 to 131072",
                                      field="recordsize")
                props["recordsize"] = str(value)
            elif key in ("atime", "readonly"):
                props[key] = bool_prop(value, key)
            else:
                raise bad_request(f"volume property {key!r} is not managed here; use quota, "
                                  "compression, recordsize, atime or readonly", field=key)
        return props

    async def _volume_props(self, datasets: list[str], depth: int | None = None
                            ) -> dict[str, Props]:
        argv = ["get", "-Hp", "-o", "name,property,value,source"]
        if depth is not None:
            argv += ["-d", str(depth)]
        res = await self.cli.zfs(*argv, ",".join(rows.VOLUME_PROPS), *datasets, check=False)
        if not res.ok and not res.stdout:
            raise translate(CommandError(res, res.stderr.strip() or "zfs get failed"))
        return await self._effective_readonly(parse_get(res.stdout))

    async def _effective_readonly(self, parsed: dict[str, Props]) -> dict[str, Props]:
        """zfs-fuse prints ``readonly off temporary`` for a mounted dataset whose readonly is on
        (it reads the FUSE mount's "rw" from /proc/mounts) while refusing writes with EROFS
        (recorded: fixtures/zfsfuse/zfs_get_Hp_readonly_on_mounted.txt): report it as on."""
        if (await self.cli.generation()).name == ZFS_FUSE:
            for props in parsed.values():
                if props.get("readonly") == ("off", "temporary"):
                    props["readonly"] = ("on", "temporary")
        return parsed

    async def volume_create(self, *, pool: str, name: str, quota: int | None = None,
                            compression: str | None = None, **extra: Any) -> Row:
        """``zfs create pool/name`` with its properties in one call."""
        if name.startswith(VIEW_PREFIX):
            raise bad_request(f"volume names starting with {VIEW_PREFIX!r} are reserved", field="name")
        await self._pool_rows(pool)
        changes: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
        if quota is not None:
            changes["quota"] = quota
        if compression is not None:
            changes["compression"] = compression
        props = self._property_args(changes)
        argv = ["create"]
        for key, value in props.items():
            if not (key == "quota" and value == "none"):
                argv += ["-o", f"{key}={value}"]
        with zfs_errors():
            await self.cli.zfs(*argv, self._dataset(pool, name))
        return await self.volume_get(pool=pool, name=name)

    async def volume_list(self, *, pool: str) -> list[Row]:
        """Filesystems directly under the pool's root dataset (one ``zfs get`` call)."""
        await self._pool_rows(pool)
        props = await self._volume_props([pool], depth=1)
        return [rows.volume_dict(pool, ds, p) for ds, p in props.items()
                if ds.count("/") == 1 and "@" not in ds
                and p.get("type", ("",))[0] == "filesystem"
                and not ds.split("/", 1)[1].startswith(VIEW_PREFIX)]

    async def volume_get(self, *, pool: str, name: str) -> Row:
        """One volume with quota, compression, compressratio, recordsize, atime, readonly."""
        ds = self._dataset(pool, name)
        res = await self.cli.zfs("get", "-Hp", "-o", "name,property,value,source",
                                 ",".join(rows.VOLUME_PROPS), ds, check=False)
        if not res.ok or not res.stdout.strip():
            if "no such pool" in res.stderr or "does not exist" in res.stderr:
                raise not_found("volume", f"{pool}/{name}")
            raise translate(CommandError(res, res.stderr.strip() or "zfs get failed"))
        props = await self._effective_readonly(parse_get(res.stdout))
        return rows.volume_dict(pool, ds, props[ds])

    async def volume_update(self, *, pool: str, name: str, changes: dict[str, Any]) -> Row:
        """Set properties; if one fails the ones already set are put back."""
        current = await self.volume_get(pool=pool, name=name)
        props = self._property_args(changes)
        ds = self._dataset(pool, name)
        res = await self.cli.zfs("get", "-Hp", "-o", "property,value,source", ",".join(props), ds)
        before = {line.split("\t")[0]: line.split("\t")[1:] for line in res.stdout.splitlines()}
        done: list[str] = []
        try:
            for key, value in props.items():
                with zfs_errors():
                    await self.cli.zfs("set", f"{key}={value}", ds)
                done.append(key)
        except APIError:
            for key in reversed(done):
                value, source = before[key]
                if source in ("local", "received"):
                    await self.cli.zfs("set", f"{key}={value}", ds, check=False)
                else:
                    await self.cli.zfs("inherit", key, ds, check=False)
            raise
        del current
        return await self.volume_get(pool=pool, name=name)

    async def volume_destroy(self, *, pool: str, name: str) -> None:
        """Refuses (409) while the volume has snapshots or child datasets."""
        await self.volume_get(pool=pool, name=name)
        ds = self._dataset(pool, name)
        snaps = await self._snapshot_props(pool, name)
        if snaps:
            raise conflict(f"volume {name!r} has {len(snaps)} snapshots; delete them first",
                           code="has_snapshots", snapshots=len(snaps))
        await self._destroy_dataset(ds)

    async def volume_path(self, *, pool: str, name: str) -> str:
        """The mounted root of the dataset."""
        vol = await self.volume_get(pool=pool, name=name)
        if not vol["path"]:
            raise conflict(f"volume {name!r} has no mountpoint")
        return vol["path"]
