"""The ``dir`` backend: a pool is a directory, volumes are its sub-directories, snapshots are
read-only copies (reflink where the filesystem supports it, full copies otherwise).

Layout under ``<root>/<pool>/``: ``<volume>/`` (volume data), ``.snapshots/<volume>/<snapshot>/``,
``.volumes/<volume>.json`` (volume metadata), ``.trash/`` (staging for atomic swaps) and the
marker ``.sigmavault-pool.json``. Names start with a letter or digit, so they never collide with
the dot-directories. Hard-link trees are only made when ``dir_snapshot_mode = "hardlink"`` is
configured: they protect against deletion, renaming and replacement of files, but an in-place edit
of a file changes the snapshot's copy too (the inode is shared), so they are not point-in-time.

Quotas are project quotas (see :mod:`.projquota`): each volume directory carries a project id
(``project_id`` in its metadata, unique among the pools under the root) wherever the filesystem
keeps project ids, and a limit can be set where it enforces them (XFS or ext4 with ``prjquota``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sigmavault.commands import run
from sigmavault.backends import not_supported
from sigmavault.usage import UsageMeter, walk_used
from sigmavault.errors import APIError, bad_request, conflict, not_found
from sigmavault.files import atomic_write

from . import projquota, treeops

MARKER = ".sigmavault-pool.json"
EXPORTED_MARKER = ".sigmavault-pool.exported.json"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _public_dir(path: Path, parents: bool = False) -> None:
    """A directory others may traverse (0755 whatever the daemon's umask): share users reach
    volumes and snapshots through pool directories; volumes get their access from ACLs."""
    path.mkdir(parents=parents)
    path.chmod(0o755)


def _no_quotas(reason: str) -> APIError:
    return APIError(400, "not_supported", f"quotas are not available: {reason}",
                    {"backend": "dir", "capability": "quotas", "reason": reason})


class DirBackend:
    """Storage backend over plain directories (no root needed)."""

    name = "dir"
    description = "directories on an existing filesystem (embedded default, no root needed)"
    static_capabilities: dict[str, Any] = {
        "raid_levels": [], "min_devices": {}, "needs_devices": False,
        "snapshots": True, "writable_snapshots": False, "rollback": True,
        "rollback_keeps_newer": True, "clone": True, "scrub": False, "balance": False,
        "quotas": False, "compression": [], "send_receive": True, "incremental_send": False,
        "diff": True, "import": True, "device_add": False, "device_remove": False,
        "device_replace": False, "degraded_detection": False, "needs_root": False,
        "snapshot_method": "auto",
    }

    def __init__(self, root: Path, snapshot_mode: str = "auto", copy_timeout: float = 3600.0,
                 usage_max_age: float = 300.0) -> None:
        """``root`` is the parent directory of every pool (made when missing)."""
        self.root = Path(root)
        self.snapshot_mode = snapshot_mode
        self.copy_timeout = copy_timeout
        self.usage = UsageMeter(usage_max_age)
        self._reflink: dict[str, bool] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        if not self.root.is_dir():
            _public_dir(self.root, parents=True)

    @property
    def capabilities(self) -> dict[str, Any]:
        """``quotas`` is True when the filesystem of the pools root enforces project quotas (and
        ``quotas_unavailable`` says why not); each pool says for itself in ``properties.quotas``
        (a pool directory may be a mount of its own)."""
        reason = projquota.support(self.root) if self.root.is_dir() else "no pools root"
        return {**self.static_capabilities, "quotas": reason is None, "quotas_unavailable": reason}

    # --- helpers ---------------------------------------------------------------------------------

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def _pool_dir(self, pool: str, must_exist: bool = True) -> Path:
        path = self.root / pool
        if must_exist and not (path / MARKER).is_file():
            raise not_found("pool", pool)
        return path

    def _volume_dir(self, pool: str, volume: str) -> Path:
        path = self._pool_dir(pool) / volume
        if not path.is_dir() or path.is_symlink():
            raise not_found("volume", f"{pool}/{volume}")
        return path

    def _snap_dir(self, pool: str, volume: str, name: str) -> Path:
        self._volume_dir(pool, volume)
        path = self._pool_dir(pool) / ".snapshots" / volume / name
        if not path.is_dir():
            raise not_found("snapshot", f"{pool}/{volume}@{name}")
        return path

    def _meta_path(self, pool: str, volume: str) -> Path:
        return self._pool_dir(pool) / ".volumes" / f"{volume}.json"

    def _read_meta(self, pool: str, volume: str) -> dict[str, Any]:
        try:
            return json.loads(self._meta_path(pool, volume).read_text())
        except (OSError, ValueError):
            return {}

    def _write_meta(self, pool: str, volume: str, meta: dict[str, Any]) -> None:
        path = self._meta_path(pool, volume)
        path.parent.mkdir(exist_ok=True)
        with atomic_write(path, "w") as f:
            json.dump(meta, f)

    def _trash(self, pool: str) -> Path:
        trash = self._pool_dir(pool) / ".trash"
        trash.mkdir(exist_ok=True)
        return trash / uuid.uuid4().hex

    async def _mode(self, pool: str) -> str:
        if self.snapshot_mode != "auto":
            return self.snapshot_mode
        if pool not in self._reflink:
            self._reflink[pool] = await treeops.reflink_supported(self._pool_dir(pool))
        return "reflink" if self._reflink[pool] else "copy"

    # --- protocol: availability and pools --------------------------------------------------------

    async def available(self) -> dict[str, Any]:
        ok = shutil.which("cp") is not None
        return {"available": ok, "reason": None if ok else "cp (coreutils) is missing",
                "version": None}

    def _pool_info(self, name: str) -> dict[str, Any]:
        """A dir pool is a directory on a filesystem it shares with the system: ``size`` and
        ``free`` are that filesystem's (free: what may still be written), ``used`` is what the
        pool's own files take, measured (``properties.used_measured_at``)."""
        path = self._pool_dir(name)
        st = os.statvfs(path)
        size, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        meta = json.loads((path / MARKER).read_text())
        reason = projquota.support(path)
        mount = projquota.mount_of(path)
        measured = self.usage.cached(path)
        return {"name": name, "backend": self.name, "state": "online", "layout": None,
                "mountpoint": str(path), "size": size, "used": measured.used if measured else None,
                "free": free, "devices": [],
                "properties": {"created": meta.get("created"),
                               "snapshot_method": self._reflink_label(name),
                               "quotas": reason is None, "quotas_unavailable": reason,
                               "shares_filesystem": True,
                               "filesystem": {"mount": mount.point, "fstype": mount.fstype,
                                              "size": size, "free": free,
                                              "used": size - st.f_bfree * st.f_frsize},
                               "used_measured_at": measured.measured_at if measured else None}}

    def _reflink_label(self, pool: str) -> str:
        if self.snapshot_mode != "auto":
            return self.snapshot_mode
        known = self._reflink.get(pool)
        return "unknown" if known is None else ("reflink" if known else "copy")

    async def pool_create(self, *, name: str, topology: dict, devices: list[str],
                          options: dict) -> dict[str, Any]:
        if devices:
            raise bad_request("the dir backend takes no devices: a pool is a directory",
                              code="devices_not_supported")
        if topology.get("layout"):
            raise bad_request("the dir backend has no raid layouts", code="layout_not_supported")
        if options:
            raise bad_request(f"unknown dir pool options: {sorted(options)}", code="bad_options")
        path = self._pool_dir(name, must_exist=False)
        try:
            _public_dir(path)
        except FileExistsError:
            raise conflict(f"directory {path} already exists; import it instead",
                           code="pool_exists") from None
        try:
            _public_dir(path / ".snapshots")
            for sub in (".volumes", ".trash"):
                (path / sub).mkdir()
            with atomic_write(path / MARKER, "w") as f:
                json.dump({"name": name, "created": _iso(time.time())}, f)
            await self._mode(name)
        except BaseException:
            treeops.remove_tree(path)
            raise
        return self._pool_info(name)

    async def pool_import(self, *, name: str, devices: list[str] | None,
                          options: dict) -> dict[str, Any]:
        path = self._pool_dir(name, must_exist=False)
        if not path.is_dir():
            raise not_found("pool directory", str(path))
        exported = path / EXPORTED_MARKER
        if exported.is_file() and not (path / MARKER).exists():
            os.rename(exported, path / MARKER)
        if not (path / MARKER).is_file():
            for sub in (".snapshots", ".volumes", ".trash"):
                (path / sub).mkdir(exist_ok=True)
            with atomic_write(path / MARKER, "w") as f:
                json.dump({"name": name, "created": _iso(path.stat().st_mtime)}, f)
        return self._pool_info(name)

    async def pool_export(self, *, name: str) -> None:
        """The directory stays where it is; without its marker it is no longer listed."""
        path = self._pool_dir(name)
        os.rename(path / MARKER, path / EXPORTED_MARKER)
        self._reflink.pop(name, None)

    async def pool_list(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        return [self._pool_info(p.name) for p in sorted(self.root.iterdir())
                if (p / MARKER).is_file()]

    async def pool_get(self, *, name: str) -> dict[str, Any]:
        return self._pool_info(name)

    async def pool_update(self, *, name: str, changes: dict) -> dict[str, Any]:
        if changes:
            raise bad_request(f"the dir backend has no pool options to change: {sorted(changes)}",
                              code="bad_options")
        return self._pool_info(name)

    async def pool_destroy(self, *, name: str) -> None:
        path = self._pool_dir(name)
        async with self._lock(name):
            staging = self.root / f".destroy-{name}-{uuid.uuid4().hex}"
            os.rename(path, staging)
            await asyncio.to_thread(treeops.remove_tree, staging)
        self._reflink.pop(name, None)

    async def pool_health(self, *, name: str) -> dict[str, Any]:
        path = self._pool_dir(name)
        problems = []
        if not os.access(path, os.W_OK):
            problems.append({"severity": "critical", "message": f"{path} is not writable",
                             "device": None})
        st = os.statvfs(path)
        if st.f_blocks and st.f_bavail / st.f_blocks < 0.05:
            problems.append({"severity": "warning", "message": "less than 5% free space",
                             "device": None})
        return {"state": "faulted" if any(p["severity"] == "critical" for p in problems)
                else "online", "problems": problems, "devices": []}

    async def pool_devices(self, *, name: str) -> list[str]:
        return []

    # --- project quotas --------------------------------------------------------------------------

    def _known_project_ids(self) -> set[int]:
        """Project ids recorded by any pool under the root (exported ones too)."""
        ids: set[int] = set()
        for meta_dir in self.root.glob("*/.volumes"):
            for f in meta_dir.glob("*.json"):
                try:
                    pid = json.loads(f.read_text()).get("project_id")
                except (OSError, ValueError, AttributeError):
                    continue
                if isinstance(pid, int):
                    ids.add(pid)
        return ids

    async def _assign_project(self, pool: str, name: str, path: Path,
                              meta: dict[str, Any]) -> int | None:
        """Give the tree at ``path`` a new project id and record it in ``name``'s metadata (also
        when the filesystem keeps no ids: then the metadata is written without one)."""
        async with self._lock(":project-ids"):
            used = await asyncio.to_thread(self._known_project_ids)
            if projquota.support(path) is None:
                used |= set(await projquota.report(projquota.mount_of(path)))
            pid = max(used | {projquota.FIRST_ID - 1}) + 1
            if pid > projquota.MAX_ID:
                raise APIError(507, "project_ids_exhausted",
                               "no free project id left on this filesystem")
            if await asyncio.to_thread(projquota.try_set_project_tree, path, pid):
                meta["project_id"] = pid
            else:
                meta.pop("project_id", None)
            self._write_meta(pool, name, meta)
        return meta.get("project_id")

    async def _set_quota(self, pool: str, name: str, path: Path, quota: int | None) -> None:
        """Set or clear (None) the volume's limit; 400 with the reason where quotas are off."""
        reason = projquota.support(path)
        meta = self._read_meta(pool, name)
        if reason is not None:
            if quota is not None:
                raise _no_quotas(reason)
            meta.pop("quota", None)
            self._write_meta(pool, name, meta)
            return
        pid = meta.get("project_id")
        if pid is not None and projquota.get_project(path)[0] != pid:
            await asyncio.to_thread(projquota.set_project_tree, path, pid)   # e.g. restored by hand
        if pid is None:
            pid = await self._assign_project(pool, name, path, meta)
            if pid is None:
                raise _no_quotas(f"the filesystem at {projquota.mount_of(path).point} keeps no "
                                 f"project ids")
        await projquota.set_limit(projquota.mount_of(path), pid, quota)
        if quota is None:
            meta.pop("quota", None)
        else:
            meta["quota"] = quota
        self._write_meta(pool, name, meta)

    # --- volumes ---------------------------------------------------------------------------------

    def _volume_info(self, pool: str, name: str, quotas: bool = False) -> dict[str, Any]:
        """``used`` is the last measurement of the volume's tree (``properties.used_measured_at``;
        None until the first one, made in the background); with quotas on, volume_get reads it
        from the filesystem's project quota report instead."""
        path = self._volume_dir(pool, name)
        meta = self._read_meta(pool, name)
        measured = self.usage.cached(path)
        return {"name": name, "pool": pool, "path": str(path),
                "used": measured.used if measured else None,
                "quota": meta.get("quota") if quotas else None,
                "compression": None, "origin": meta.get("origin"),
                "created": meta.get("created") or _iso(path.stat().st_mtime),
                "properties": {"project_id": meta.get("project_id"),
                               "used_measured_at": measured.measured_at if measured else None}}

    async def volume_create(self, *, pool: str, name: str, quota: int | None,
                            compression: str | None) -> dict[str, Any]:
        if compression not in (None, "off"):
            raise not_supported("dir", "compression")
        path = self._pool_dir(pool) / name
        if quota is not None and (reason := projquota.support(path.parent)) is not None:
            raise _no_quotas(reason)
        try:
            _public_dir(path)
        except FileExistsError:
            raise conflict(f"volume {pool}/{name} already exists", code="volume_exists") from None
        try:
            async with self._lock(f"{pool}/{name}"):
                await self._assign_project(pool, name, path, {"created": _iso(time.time())})
                if quota is not None:
                    await self._set_quota(pool, name, path, quota)
        except BaseException:
            self._meta_path(pool, name).unlink(missing_ok=True)
            treeops.remove_tree(path)
            raise
        return await self.volume_get(pool=pool, name=name)

    async def volume_list(self, *, pool: str) -> list[dict[str, Any]]:
        root = self._pool_dir(pool)
        quotas = projquota.support(root) is None
        return [self._volume_info(pool, p.name, quotas) for p in sorted(root.iterdir())
                if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]

    async def volume_get(self, *, pool: str, name: str) -> dict[str, Any]:
        """``used`` from the project quota report where quotas are on (``quota`` is the limit the
        filesystem enforces), else by walking the tree."""
        info = self._volume_info(pool, name)
        path, pid = Path(info["path"]), info["properties"]["project_id"]
        if pid is not None and projquota.support(path) is None:
            used, hard = (await projquota.report(projquota.mount_of(path))).get(pid, (0, 0))
            info["used"], info["quota"] = used, hard or None
        elif info["used"] is None:
            measured = await self.usage.measure(path)
            info["used"], info["properties"]["used_measured_at"] = measured.used, measured.measured_at
        return info

    async def volume_update(self, *, pool: str, name: str, changes: dict) -> dict[str, Any]:
        path = self._volume_dir(pool, name)
        if changes.get("compression") not in (None, "off"):
            raise not_supported("dir", "compression")
        if "quota" in changes:
            async with self._lock(f"{pool}/{name}"):
                await self._set_quota(pool, name, path, changes["quota"])
        return await self.volume_get(pool=pool, name=name)

    async def volume_destroy(self, *, pool: str, name: str) -> None:
        path = self._volume_dir(pool, name)
        snaps = self._pool_dir(pool) / ".snapshots" / name
        if snaps.is_dir() and any(snaps.iterdir()):
            raise conflict(f"volume {pool}/{name} has snapshots; delete them first",
                           code="volume_has_snapshots")
        async with self._lock(f"{pool}/{name}"):
            meta = self._read_meta(pool, name)
            staging = self._trash(pool)
            os.rename(path, staging)
            self._meta_path(pool, name).unlink(missing_ok=True)
            if snaps.is_dir():
                snaps.rmdir()
            await asyncio.to_thread(treeops.remove_tree, staging)
            if meta.get("quota") and meta.get("project_id") is not None \
                    and projquota.support(staging.parent) is None:
                await projquota.set_limit(projquota.mount_of(staging.parent), meta["project_id"],
                                          None)

    async def volume_path(self, *, pool: str, name: str) -> str:
        return str(self._volume_dir(pool, name))

    # --- snapshots -------------------------------------------------------------------------------

    def _snap_info(self, pool: str, volume: str, path: Path, st: os.stat_result | None = None
                   ) -> dict[str, Any]:
        """``used``: what the snapshot holds that the live volume does not (files it shares by
        hard link count once, in the volume), as last measured."""
        st = st or path.stat()
        measured = self.usage.cached(path, shared_with=path.parent.parent.parent / volume)
        return {"name": path.name, "pool": pool, "volume": volume, "created": _iso(st.st_mtime),
                "writable": False, "used": measured.used if measured else None, "path": str(path),
                "properties": {"used_measured_at": measured.measured_at if measured else None}}

    async def snapshot_create(self, *, pool: str, volume: str, name: str,
                              writable: bool = False) -> dict[str, Any]:
        if writable:
            raise not_supported("dir", "writable snapshots (clone the snapshot into a volume instead)")
        src = self._volume_dir(pool, volume)
        parent = self._pool_dir(pool) / ".snapshots" / volume
        if not parent.is_dir():
            _public_dir(parent)
        final = parent / name
        if final.exists():
            raise conflict(f"snapshot {pool}/{volume}@{name} already exists",
                           code="snapshot_exists")
        mode = await self._mode(pool)
        staging = self._trash(pool)
        async with self._lock(f"{pool}/{volume}"):
            try:
                await treeops.copy_tree(src, staging, mode, self.copy_timeout)
                dropped = await asyncio.to_thread(treeops.make_read_only, staging,
                                                  mode != "hardlink")
                self._write_bits_path(final).write_text(json.dumps(dropped))
                now = time.time()
                os.utime(staging, (now, now))
                os.rename(staging, final)
            finally:
                if staging.exists():
                    await asyncio.to_thread(treeops.remove_tree, staging)
        info = self._snap_info(pool, volume, final)
        info["properties"]["method"] = mode
        return info

    async def snapshot_list(self, *, pool: str, volume: str) -> list[dict[str, Any]]:
        self._volume_dir(pool, volume)
        parent = self._pool_dir(pool) / ".snapshots" / volume

        def scan() -> list[dict[str, Any]]:
            if not parent.is_dir():
                return []
            out = []
            with os.scandir(parent) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        out.append(self._snap_info(pool, volume, Path(entry.path),
                                                   entry.stat(follow_symlinks=False)))
            return out

        return await asyncio.to_thread(scan)

    async def snapshot_list_token(self, *, pool: str, volume: str) -> str:
        """Changes whenever a snapshot of ``volume`` is added, removed or renamed."""
        self._volume_dir(pool, volume)
        try:
            st = os.stat(self._pool_dir(pool) / ".snapshots" / volume)
        except FileNotFoundError:
            return "none"
        return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_ctime_ns}"

    async def snapshot_get(self, *, pool: str, volume: str, name: str) -> dict[str, Any]:
        return self._snap_info(pool, volume, self._snap_dir(pool, volume, name))

    @staticmethod
    def _write_bits_path(snap: Path) -> Path:
        """Beside the snapshot: the write bits its read-only copy dropped, by relative path."""
        return snap.with_name(f".{snap.name}.write-bits.json")

    async def snapshot_write_bits(self, *, pool: str, volume: str,
                                  name: str) -> dict[str, int] | None:
        """The write bits the snapshot's originals had (``None`` when not recorded: snapshots
        received or made by older versions), for restores that keep the original modes."""
        path = self._write_bits_path(self._snap_dir(pool, volume, name))
        try:
            data = await asyncio.to_thread(path.read_text)
        except FileNotFoundError:
            return None
        return {str(k): int(v) for k, v in json.loads(data).items()}

    async def snapshot_delete(self, *, pool: str, volume: str, name: str) -> None:
        path = self._snap_dir(pool, volume, name)
        staging = self._trash(pool)
        self._write_bits_path(path).unlink(missing_ok=True)
        os.rename(path, staging)
        await asyncio.to_thread(treeops.remove_tree, staging)

    async def _materialize(self, pool: str, snap: Path, staging: Path) -> None:
        """An independent writable copy of a snapshot at ``staging``."""
        try:
            await treeops.copy_tree(snap, staging, "copy", self.copy_timeout)
            try:
                bits = json.loads(self._write_bits_path(snap).read_text())
            except FileNotFoundError:
                bits = None
            if bits is None:
                await asyncio.to_thread(treeops.make_dirs_writable, staging)
                await asyncio.to_thread(treeops.make_files_writable, staging)
            else:   # the modes the snapshot's originals had
                await asyncio.to_thread(treeops.restore_write_bits, staging, bits, "")
        except BaseException:
            await asyncio.to_thread(treeops.remove_tree, staging)
            raise

    async def snapshot_rollback(self, *, pool: str, volume: str, name: str) -> dict[str, Any]:
        snap = self._snap_dir(pool, volume, name)
        target = self._volume_dir(pool, volume)
        async with self._lock(f"{pool}/{volume}"):
            meta = self._read_meta(pool, volume)
            fresh, old = self._trash(pool), self._trash(pool)
            await self._materialize(pool, snap, fresh)
            try:
                quota = meta.get("quota")
                if quota and projquota.support(target) is None:
                    need = (await asyncio.to_thread(walk_used, fresh))[0]
                    if need > quota:
                        raise conflict(f"snapshot {name} holds {need} bytes, more than the quota "
                                       f"of {pool}/{volume} ({quota}); raise the quota first",
                                       code="quota_exceeded", needed=need, quota=quota)
                os.chmod(fresh, target.stat().st_mode)
            except BaseException:
                await asyncio.to_thread(treeops.remove_tree, fresh)
                raise
            os.rename(target, old)
            os.rename(fresh, target)
            await asyncio.to_thread(treeops.remove_tree, old)
            if meta.get("project_id") is not None:   # counted again once the old tree is gone
                await asyncio.to_thread(projquota.try_set_project_tree, target,
                                        meta["project_id"])
        return self._volume_info(pool, volume)

    async def snapshot_clone(self, *, pool: str, volume: str, name: str,
                             target: str) -> dict[str, Any]:
        snap = self._snap_dir(pool, volume, name)
        dest = self._pool_dir(pool) / target
        if dest.exists():
            raise conflict(f"volume {pool}/{target} already exists", code="volume_exists")
        staging = self._trash(pool)
        await self._materialize(pool, snap, staging)
        meta = {"created": _iso(time.time()), "origin": f"{pool}/{volume}@{name}"}
        try:
            await self._assign_project(pool, target, staging, meta)
            os.rename(staging, dest)
        except BaseException:
            self._meta_path(pool, target).unlink(missing_ok=True)
            await asyncio.to_thread(treeops.remove_tree, staging)
            raise
        return self._volume_info(pool, target)

    async def snapshot_path(self, *, pool: str, volume: str, name: str) -> str:
        return str(self._snap_dir(pool, volume, name))

    # --- replication and diff --------------------------------------------------------------------

    async def send(self, *, pool: str, volume: str, snapshot: str, target: str,
                   base: str | None = None) -> dict[str, Any]:
        if base is not None:
            raise not_supported("dir", "incremental send")
        snap = self._snap_dir(pool, volume, snapshot)
        dest = Path(target)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            await run(["tar", "--create", "--numeric-owner", "--xattrs", "-C", str(snap),
                       "-f", str(tmp), "."], timeout=self.copy_timeout)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return {"bytes": dest.stat().st_size, "format": "tar", "incremental": False}

    async def receive(self, *, pool: str, volume: str, source: str,
                      snapshot: str | None = None) -> dict[str, Any]:
        name = snapshot or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        root = self._pool_dir(pool)
        final = root / ".snapshots" / volume / name
        if final.exists():
            raise conflict(f"snapshot {pool}/{volume}@{name} already exists", code="snapshot_exists")
        staging = self._trash(pool)
        staging.mkdir()
        try:
            await run(["tar", "--extract", "--numeric-owner", "--xattrs", "--no-same-owner"
                       if os.geteuid() else "--same-owner", "-C", str(staging), "-f", source],
                      timeout=self.copy_timeout)
            if not (root / volume).exists():
                vol_staging = self._trash(pool)
                await self._materialize(pool, staging, vol_staging)
                await self._assign_project(pool, volume, vol_staging, {
                    "created": _iso(time.time()), "origin": f"received:{name}"})
                os.rename(vol_staging, root / volume)
            await asyncio.to_thread(treeops.make_read_only, staging, True)
            now = time.time()
            os.utime(staging, (now, now))
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, final)
        finally:
            if staging.exists():
                await asyncio.to_thread(treeops.remove_tree, staging)
        return self._snap_info(pool, volume, final)

    async def diff(self, *, pool: str, volume: str, old: str,
                   new: str | None = None) -> list[dict[str, Any]]:
        a = self._snap_dir(pool, volume, old)
        b = self._snap_dir(pool, volume, new) if new else self._volume_dir(pool, volume)
        return await asyncio.to_thread(treeops.diff_trees, a, b)
