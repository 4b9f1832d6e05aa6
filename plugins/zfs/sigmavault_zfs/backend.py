"""The ``zfs`` storage backend (see docs/plugins/storage-backends.md for the protocol)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Callable

from sigmavault.commands import CommandError
from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import delta, model
from .token import pool_token
from .checks import bool_prop, check_device, check_mountpoint, check_pool_name
from .cli import ZFS_FUSE, ZfsCli
from .diffparse import parse_diff
from .errors import translate, zfs_errors
from .listing import parse_get, parse_import_list, parse_list_as_get, parse_pool_list
from .status import parse_status, parse_status_json
from .streams import receive_from_file, send_to_file

log = logging.getLogger("sigmavault.zfs")

Progress = Callable[[float | None, str | None], None]

LAYOUTS = ("stripe", "mirror", "raidz1", "raidz2", "raidz3")
MIN_DEVICES = {"stripe": 1, "mirror": 2, "raidz1": 2, "raidz2": 3, "raidz3": 4}
# accepted volume compression values, preferred first; "off" (remove) is always accepted too
COMPRESSION = ["lzjb", "gzip", "zle", "on"] + [f"gzip-{n}" for n in range(1, 10)]
COMPRESSION_OPENZFS = ["lz4", "zstd", "gzip", "lzjb", "zle", "on"] + \
    [f"gzip-{n}" for n in range(1, 10)] + [f"zstd-{n}" for n in range(1, 20)]
POOL_SETTABLE = {"autoexpand": ("on", "off"), "autoreplace": ("on", "off"),
                 "failmode": ("wait", "continue", "panic"), "listsnapshots": ("on", "off"),
                 "delegation": ("on", "off")}
VIEW_PREFIX = "sv-view."
SCRUB_TIMEOUT = 7 * 24 * 3600.0
POOL_OPTIONS = {"ashift", "mountpoint", "log", "cache", "spares", "compression", "force"}


def _log_scrub_end(task: asyncio.Task) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        log.warning("zpool scrub failed: %s", task.exception())
    elif not task.result().ok:
        log.warning("zpool scrub failed: %s", task.result().stderr.strip())


class ZfsBackend:
    """Pools, datasets-as-volumes, snapshots, scrub, replication and diff through the ZFS CLI."""

    name = "zfs"
    description = "ZFS pools and datasets (OpenZFS 2.x or zfs-fuse)"

    def __init__(self, cli: ZfsCli | None = None):
        self.cli = cli or ZfsCli()
        self.mount_root: str | None = None
        self.on_change: Callable[[str, dict[str, Any]], None] | None = None
        self._last_errors: dict[str, tuple[str, dict[str, tuple[int, int, int]]]] = {}
        self._scrubs: dict[str, asyncio.Task] = {}
        self._devices: dict[str, list[str]] = {}   # pool -> device paths, from the last status
        self.capabilities: dict[str, Any] = {
            "raid_levels": list(LAYOUTS), "min_devices": dict(MIN_DEVICES), "needs_devices": True,
            "snapshots": True, "writable_snapshots": False, "rollback": True,
            "rollback_keeps_newer": False, "clone": True, "scrub": True, "balance": False,
            "quotas": True, "compression": COMPRESSION, "send_receive": True,
            "incremental_send": True, "diff": True, "import": True, "device_add": True,
            "device_remove": True, "device_replace": True, "degraded_detection": True,
            "needs_root": True, "holds": True,
            "volume_properties": ["quota", "compression", "recordsize", "atime", "readonly"],
            "vdev_classes": ["log", "cache", "spares"],
        }

    # --- availability -------------------------------------------------------------------------

    async def available(self) -> dict[str, Any]:
        """Whether ``zpool`` answers (for zfs-fuse: whether its daemon runs)."""
        try:
            gen = await self.cli.generation()
            result = await self.cli.zpool("list", "-H", "-o", "name", timeout=15, check=False)
        except CommandError as exc:
            return {"available": False, "reason": exc.message, "version": None}
        if not result.ok:
            reason = (result.stderr.strip() or f"zpool exited {result.returncode}").splitlines()[-1]
            if gen.name == "zfs-fuse":
                reason += " (is the zfs-fuse daemon running?)"
            return {"available": False, "reason": reason, "version": gen.version}
        if gen.name == "openzfs":
            self.capabilities["compression"] = COMPRESSION_OPENZFS
        return {"available": True, "reason": None, "version": f"{gen.name} {gen.version}"}

    # --- helpers ------------------------------------------------------------------------------

    async def _statuses(self, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
        gen = await self.cli.generation()
        args = list(names or [])
        if gen.json:
            res = await self.cli.zpool("status", "-j", "--json-int", "-P", *args, check=False)
            if res.ok:
                try:
                    return {p["name"]: p for p in parse_status_json(json.loads(res.stdout))}
                except (ValueError, KeyError, TypeError, AttributeError):
                    log.warning("zpool status -j output not understood; reading the text form")
        res = await self.cli.zpool("status", *(["-P"] if gen.parsable else []), *args, check=False)
        if not res.ok:
            if names and "no such pool" in res.stderr:
                raise not_found("pool", names[0])
            raise translate(CommandError(res, res.stderr.strip() or "zpool status failed"))
        return {p["name"]: p for p in parse_status(res.stdout)}

    async def _status(self, name: str) -> dict[str, Any]:
        statuses = await self._statuses([name])
        if name not in statuses:
            raise not_found("pool", name)
        status = statuses[name]
        self._observe(status)
        return status

    async def _pool_rows(self, name: str | None = None) -> list[dict[str, Any]]:
        gen = await self.cli.generation()
        cols = ("name", "size", "allocated", "free", "health", "altroot", "guid")
        args = ["list", "-H", *(["-p"] if gen.parsable else []), "-o", ",".join(cols)]
        res = await self.cli.zpool(*args, *([name] if name else []), check=False)
        if not res.ok:
            if name and "no such pool" in res.stderr:
                raise not_found("pool", name)
            raise translate(CommandError(res, res.stderr.strip() or "zpool list failed"))
        return parse_pool_list(res.stdout, cols)

    async def _mountpoints(self, names: list[str]) -> dict[str, str]:
        if not names:
            return {}
        res = await self.cli.zfs("get", "-H", "-o", "name,value", "mountpoint", *names, check=False)
        return dict(line.split("\t", 1) for line in res.stdout.splitlines() if "\t" in line)

    def _observe(self, status: dict[str, Any]) -> None:
        """Publish a change event when the pool state or a device's error counters move."""
        devices = model.pool_devices(status)
        self._devices[status["name"]] = [d["path"] for d in devices if d["path"].startswith("/")]
        counters = {d["path"]: (d["errors"]["read"], d["errors"]["write"], d["errors"]["checksum"])
                    for d in devices}
        current = (status["state"], counters)
        previous = self._last_errors.get(status["name"])
        self._last_errors[status["name"]] = current
        if previous is None or previous == current or self.on_change is None:
            return
        changed = [{"device": path, "read": c[0], "write": c[1], "checksum": c[2]}
                   for path, c in counters.items() if previous[1].get(path) != c]
        self.on_change(status["name"], {
            "state": model.POOL_STATE.get(status["state"], "unknown"), "zfs_state": status["state"],
            "previous_state": model.POOL_STATE.get(previous[0], "unknown"),
            "devices": changed, "status": status["status"],
            "scan": {k: status["scan"][k] for k in ("function", "state", "errors", "repaired")}})

    def _dataset(self, pool: str, volume: str) -> str:
        return f"{pool}/{volume}"

    # --- pools --------------------------------------------------------------------------------

    async def pool_create(self, *, name: str, topology: dict, devices: list[str],
                          options: dict) -> dict:
        """``zpool create`` with the requested layout and optional log/cache/spare vdevs."""
        check_pool_name(name)
        layout = (topology or {}).get("layout") or "stripe"
        if layout not in LAYOUTS:
            raise bad_request(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}",
                              field="topology.layout")
        if len(devices) < MIN_DEVICES[layout]:
            raise bad_request(f"{layout} needs at least {MIN_DEVICES[layout]} devices, got {len(devices)}",
                              field="devices")
        if len(set(devices)) != len(devices):
            raise bad_request("a device is listed twice", field="devices")
        options = dict(options or {})
        options.update((topology or {}).get("options") or {})
        unknown = set(options) - POOL_OPTIONS
        if unknown:
            raise bad_request(f"unknown zfs pool options: {', '.join(sorted(unknown))}; "
                              f"accepted: {', '.join(sorted(POOL_OPTIONS))}", field="options")
        argv = ["create"]
        if "ashift" in options:
            ashift = options["ashift"]
            if not isinstance(ashift, int) or not 9 <= ashift <= 16:
                raise bad_request("ashift must be an integer from 9 to 16", field="options.ashift")
            argv += ["-o", f"ashift={ashift}"]
        if options.get("compression") is not None:
            argv += ["-O", f"compression={self._check_compression(options['compression'])}"]
        mountpoint = options.get("mountpoint")
        if mountpoint is None and self.mount_root:
            mountpoint = os.path.join(self.mount_root, name)
        if mountpoint is not None:
            argv += ["-m", check_mountpoint(mountpoint)]
        if options.get("force"):
            argv.append("-f")
        argv.append(name)
        argv += devices if layout == "stripe" else [layout, *devices]
        extra: list[str] = []
        for key, word in (("log", "log"), ("cache", "cache"), ("spares", "spare")):
            devs = options.get(key) or []
            if not isinstance(devs, list):
                raise bad_request(f"options.{key} must be a list of devices", field=f"options.{key}")
            if devs:
                argv += [word, *[check_device(d) for d in devs]]
                extra += devs
        if set(extra) & set(devices) or len(set(extra)) != len(extra):
            raise bad_request("a device is used twice", field="devices")
        with zfs_errors():
            await self.cli.zpool(*argv, timeout=300)
        return await self.pool_get(name=name)

    async def pool_import(self, *, name: str, devices: list[str] | None, options: dict) -> dict:
        """``zpool import -d <dir>``: the directories of ``devices`` (default ``/dev``)."""
        check_pool_name(name)
        options = dict(options or {})
        dirs = sorted({os.path.dirname(d) for d in devices or []}) or ["/dev"]
        for extra in options.get("dirs") or []:
            if not isinstance(extra, str) or not extra.startswith("/") or ".." in extra:
                raise bad_request("options.dirs must be absolute directories", field="options.dirs")
            dirs.append(extra)
        argv = ["import"]
        for d in dirs:
            argv += ["-d", d]
        if options.get("force"):
            argv.append("-f")
        argv.append(name)
        if options.get("new_name"):
            argv.append(check_pool_name(str(options["new_name"])))
            name = argv[-1]
        with zfs_errors():
            await self.cli.zpool(*argv, timeout=300)
        return await self.pool_get(name=name)

    async def importable(self, *, dirs: list[str] | None = None) -> list[dict]:
        """Exported pools found in ``dirs`` (default ``/dev``)."""
        argv = ["import"]
        for d in dirs or ["/dev"]:
            argv += ["-d", d]
        res = await self.cli.zpool(*argv, check=False)
        return parse_import_list(res.stdout)

    async def pool_list(self) -> list[dict]:
        """Every imported pool with topology (three tool calls in all)."""
        rows = await self._pool_rows()
        if not rows:
            return []
        statuses = await self._statuses()
        mounts = await self._mountpoints([r["name"] for r in rows])
        for st in statuses.values():
            self._observe(st)
        return [model.pool_dict(r, statuses.get(r["name"]), mounts.get(r["name"])) for r in rows]

    async def pool_get(self, *, name: str) -> dict:
        """One pool with topology, device error counters and scan state."""
        rows = await self._pool_rows(name)
        status = await self._status(name)
        mounts = await self._mountpoints([name])
        return model.pool_dict(rows[0], status, mounts.get(name))

    async def pool_update(self, *, name: str, changes: dict) -> dict:
        """Set pool properties (``autoexpand``, ``autoreplace``, ``failmode`` …)."""
        await self._pool_rows(name)
        props = changes.get("properties", changes) if isinstance(changes, dict) else None
        if not isinstance(props, dict) or not props:
            raise bad_request(f"changes must set some of: {', '.join(POOL_SETTABLE)}", field="changes")
        for key, value in props.items():
            allowed = POOL_SETTABLE.get(key)
            if allowed is None:
                raise bad_request(f"pool property {key!r} cannot be changed; "
                                  f"settable: {', '.join(POOL_SETTABLE)}", field=key)
            if isinstance(value, bool) and "on" in allowed:
                value = "on" if value else "off"
            if value not in allowed:
                raise bad_request(f"{key} must be one of {', '.join(allowed)}", field=key)
            props[key] = value
        for key, value in props.items():
            with zfs_errors():
                await self.cli.zpool("set", f"{key}={value}", name)
        return await self.pool_get(name=name)

    async def pool_destroy(self, *, name: str) -> None:
        """``zpool destroy`` — the caller has asked for confirmation."""
        await self._pool_rows(name)
        await self._retry_busy(self.cli.zpool, "destroy", "-f", name, timeout=300)
        self._last_errors.pop(name, None)
        self._devices.pop(name, None)

    async def pool_export(self, *, name: str) -> None:
        """``zpool export``: the pool leaves this machine until imported again."""
        await self._pool_rows(name)
        with zfs_errors():
            await self.cli.zpool("export", name, timeout=300)
        self._last_errors.pop(name, None)
        self._devices.pop(name, None)

    async def pool_health(self, *, name: str) -> dict:
        """State, per-device read/write/checksum counters and the problems to act on."""
        return model.health_dict(await self._status(name))

    async def pool_devices(self, *, name: str) -> list[str]:
        """Absolute paths of every vdev (data, log, cache, spare) the pool uses."""
        status = await self._status(name)
        return [d["path"] for d in model.pool_devices(status) if d["path"].startswith("/")]

    # --- devices ------------------------------------------------------------------------------

    async def device_add(self, *, pool: str, devices: list[str], role: str = "data") -> dict:
        """Grow the pool with a vdev of its own layout, or add log/cache/spare devices."""
        status = await self._status(pool)
        words = {"log": ["log"], "cache": ["cache"], "spare": ["spare"], "spares": ["spare"]}
        if role != "data":
            if role not in words:
                raise bad_request("role must be data, log, cache or spare", field="role")
            vdev = words[role] + [check_device(d) for d in devices]
        else:
            layout = model.layout_of(status["vdevs"])
            if layout not in LAYOUTS:
                raise conflict(f"cannot grow a {layout} pool automatically")
            if len(devices) < MIN_DEVICES[layout] or (layout == "mirror" and len(devices) % 2):
                raise bad_request(f"a {layout} pool grows by {MIN_DEVICES[layout]} devices at a time",
                                  field="devices")
            if layout == "mirror":
                vdev = [w for i in range(0, len(devices), 2) for w in ("mirror", *devices[i:i + 2])]
            elif layout == "stripe":
                vdev = list(devices)
            else:
                vdev = [layout, *devices]
        with zfs_errors():
            await self.cli.zpool("add", pool, *vdev, timeout=300)
        return await self.pool_get(name=pool)

    async def _find_leaf(self, pool: str, device: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The leaf vdev named by path or zfs id; ``dev["arg"]`` is how the CLI wants it named
        (zfs-fuse needs the full path of a device it prints as ``loop0``)."""
        status = await self._status(pool)
        for dev in model.pool_devices(status):
            if device in (dev["path"], dev["id"]):
                dev["arg"] = dev["path"] if dev["path"].startswith("/") else dev["id"]
                return dev, status
        raise not_found("device", device)

    async def device_remove(self, *, pool: str, device: str,
                            progress: Progress | None = None) -> dict:
        """Detach a mirror member, or remove a log/cache/spare (or, on OpenZFS, a data vdev)."""
        dev, status = await self._find_leaf(pool, device)
        in_mirror = any(v["type"] in ("mirror", "replacing", "spare") and
                        any(c["name"] == dev["id"] for c in v["children"]) for v in status["vdevs"])
        gen = await self.cli.generation()
        if dev["role"] == "data" and not in_mirror and not gen.device_removal:
            raise APIError(501, "not_supported",
                           f"{gen.name} cannot remove a data device from a {model.layout_of(status['vdevs'])} "
                           "pool; only mirror members, log, cache and spare devices")
        with zfs_errors():
            if in_mirror:
                await self.cli.zpool("detach", pool, dev["arg"])
            else:
                await self.cli.zpool("remove", pool, dev["arg"])
        if progress:
            progress(100.0, f"removed {device}")
        return await self.pool_get(name=pool)

    async def device_replace(self, *, pool: str, old: str, new: str,
                             progress: Progress | None = None) -> dict:
        """``zpool replace`` then wait for the resilver, reporting its progress."""
        dev, _ = await self._find_leaf(pool, old)
        with zfs_errors():
            await self.cli.zpool("replace", "-f", pool, dev["arg"], new, timeout=300)
        await self._wait_scan(pool, "resilver", progress)
        return await self.pool_get(name=pool)

    async def _wait_scan(self, pool: str, function: str, progress: Progress | None,
                         interval: float = 1.0) -> dict[str, Any]:
        while True:
            status = await self._status(pool)
            scan = status["scan"]
            if scan["state"] != "running" or scan["function"] != function:
                if progress:
                    progress(100.0, f"{function} finished")
                return scan
            if progress:
                progress(scan["percent"], f"{function} {scan['percent'] or 0:.1f}%")
            await asyncio.sleep(interval)

    async def device_attach(self, *, pool: str, device: str, new: str,
                            progress: Progress | None = None) -> dict:
        """``zpool attach``: mirror ``device`` onto ``new`` (a single disk becomes a mirror)."""
        dev, _ = await self._find_leaf(pool, device)
        with zfs_errors():
            await self.cli.zpool("attach", "-f", pool, dev["arg"], new, timeout=300)
        await self._wait_scan(pool, "resilver", progress)
        return await self.pool_get(name=pool)

    async def device_detach(self, *, pool: str, device: str) -> dict:
        """``zpool detach`` a mirror member."""
        dev, _ = await self._find_leaf(pool, device)
        with zfs_errors():
            await self.cli.zpool("detach", pool, dev["arg"])
        return await self.pool_get(name=pool)

    async def device_offline(self, *, pool: str, device: str, temporary: bool = False) -> dict:
        """``zpool offline [-t]``."""
        dev, _ = await self._find_leaf(pool, device)
        with zfs_errors():
            await self.cli.zpool("offline", *(["-t"] if temporary else []), pool, dev["arg"])
        return await self.pool_get(name=pool)

    async def device_online(self, *, pool: str, device: str) -> dict:
        """``zpool online``."""
        dev, _ = await self._find_leaf(pool, device)
        with zfs_errors():
            await self.cli.zpool("online", pool, dev["arg"])
        return await self.pool_get(name=pool)

    async def pool_clear(self, *, pool: str, device: str | None = None) -> dict:
        """``zpool clear``: reset error counters (of one device or all)."""
        args = [pool]
        if device:
            dev, _ = await self._find_leaf(pool, device)
            args.append(dev["arg"])
        else:
            await self._pool_rows(pool)
        with zfs_errors():
            await self.cli.zpool("clear", *args)
        return await self.pool_get(name=pool)

    # --- volumes (datasets directly under the pool's root dataset) ----------------------------

    def _check_compression(self, value: Any) -> str:
        allowed = self.capabilities["compression"] + ["off"]
        if value not in allowed:
            raise bad_request(f"compression must be one of {', '.join(allowed)}", field="compression")
        return value

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

    async def _volume_props(self, datasets: list[str], depth: int | None = None) -> dict[str, dict]:
        argv = ["get", "-Hp", "-o", "name,property,value,source"]
        if depth is not None:
            argv += ["-d", str(depth)]
        res = await self.cli.zfs(*argv, ",".join(model.VOLUME_PROPS), *datasets, check=False)
        if not res.ok and not res.stdout:
            raise translate(CommandError(res, res.stderr.strip() or "zfs get failed"))
        return await self._effective_readonly(parse_get(res.stdout))

    async def _effective_readonly(self, parsed: dict[str, dict]) -> dict[str, dict]:
        """zfs-fuse prints ``readonly off temporary`` for a mounted dataset whose readonly is on
        (it reads the FUSE mount's "rw" from /proc/mounts) while refusing writes with EROFS
        (recorded: fixtures/zfsfuse/zfs_get_Hp_readonly_on_mounted.txt): report it as on."""
        if (await self.cli.generation()).name == ZFS_FUSE:
            for props in parsed.values():
                if props.get("readonly") == ("off", "temporary"):
                    props["readonly"] = ("on", "temporary")
        return parsed

    async def volume_create(self, *, pool: str, name: str, quota: int | None = None,
                            compression: str | None = None, **extra: Any) -> dict:
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

    async def volume_list(self, *, pool: str) -> list[dict]:
        """Filesystems directly under the pool's root dataset (one ``zfs get`` call)."""
        await self._pool_rows(pool)
        props = await self._volume_props([pool], depth=1)
        return [model.volume_dict(pool, ds, p) for ds, p in props.items()
                if ds.count("/") == 1 and "@" not in ds
                and p.get("type", ("",))[0] == "filesystem"
                and not ds.split("/", 1)[1].startswith(VIEW_PREFIX)]

    async def volume_get(self, *, pool: str, name: str) -> dict:
        """One volume with quota, compression, compressratio, recordsize, atime, readonly."""
        ds = self._dataset(pool, name)
        res = await self.cli.zfs("get", "-Hp", "-o", "name,property,value,source",
                                 ",".join(model.VOLUME_PROPS), ds, check=False)
        if not res.ok or not res.stdout.strip():
            if "no such pool" in res.stderr or "does not exist" in res.stderr:
                raise not_found("volume", f"{pool}/{name}")
            raise translate(CommandError(res, res.stderr.strip() or "zfs get failed"))
        return model.volume_dict(pool, ds, (await self._effective_readonly(parse_get(res.stdout)))[ds])

    async def volume_update(self, *, pool: str, name: str, changes: dict) -> dict:
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

    async def _destroy_dataset(self, ds: str, flags: tuple[str, ...] = ()) -> None:
        """Unmount politely (409 while something uses it), then destroy.

        zfs-fuse answers "dataset is busy" to a destroy even after a clean unmount, so the destroy
        itself is forced (``-f``) once the polite unmount has succeeded; it still refuses a
        dataset with snapshots or children. If it refuses, the dataset is mounted again.
        """
        unmounted = False
        for attempt in range(5):
            res = await self.cli.zfs("unmount", ds, check=False)
            if res.ok or "not currently mounted" in res.stderr:
                unmounted = res.ok
                break
            if attempt == 4:
                raise conflict(f"{ds} is in use and cannot be unmounted: {res.stderr.strip()}",
                               code="busy")
            await asyncio.sleep(0.2 * (attempt + 1))  # a fresh FUSE mount stays busy for a moment
        try:
            await self._retry_busy(self.cli.zfs, "destroy", "-f", *flags, ds)
        except APIError:
            if unmounted:
                await self.cli.zfs("mount", ds, check=False)
            raise

    async def _retry_busy(self, runner: Callable[..., Any], *args: str, attempts: int = 12,
                          timeout: float | None = None) -> Any:
        """Run a destroy; zfs-fuse releases a FUSE mount asynchronously and answers "is busy"
        for a moment after an unmount, so "busy" is retried with a growing pause."""
        for attempt in range(attempts):
            res = await runner(*args, check=False, timeout=timeout)
            if res.ok:
                return res
            if "is busy" not in res.stderr or attempt == attempts - 1:
                raise translate(CommandError(res, res.stderr.strip() or "failed"))
            await asyncio.sleep(0.25 * (attempt + 1))

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

    # --- snapshots ----------------------------------------------------------------------------

    async def _snapshot_props(self, pool: str, volume: str) -> dict[str, dict]:
        gen = await self.cli.generation()
        ds = self._dataset(pool, volume)
        if gen.parsable:
            cols = ("name",) + model.SNAPSHOT_PROPS[1:]
            res = await self.cli.zfs("list", "-Hp", "-t", "snapshot", "-d", "1", "-o",
                                     ",".join(cols), ds, check=False)
            if not res.ok:
                raise translate(CommandError(res, res.stderr.strip()))
            return parse_list_as_get(res.stdout, cols)
        # zfs-fuse: `zfs list` has no -p (creation only to the minute); `zfs get -p` is exact.
        res = await self.cli.zfs("get", "-Hp", "-d", "1", "-o", "name,property,value",
                                 "creation,used,referenced,userrefs", ds, check=False)
        if not res.ok:
            if "does not exist" in res.stderr or "no such pool" in res.stderr:
                raise not_found("volume", f"{pool}/{volume}")
            raise translate(CommandError(res, res.stderr.strip()))
        prefix = ds + "@"
        return {k: v for k, v in parse_get(res.stdout).items() if k.startswith(prefix)}

    async def snapshot_create(self, *, pool: str, volume: str, name: str,
                              writable: bool = False) -> dict:
        """``zfs snapshot pool/volume@name`` (ZFS snapshots are read-only)."""
        if writable:
            raise APIError(501, "not_supported", "ZFS snapshots are read-only; clone one instead")
        await self.volume_get(pool=pool, name=volume)
        with zfs_errors():
            await self.cli.zfs("snapshot", f"{self._dataset(pool, volume)}@{name}")
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    async def snapshot_list(self, *, pool: str, volume: str) -> list[dict]:
        """All snapshots of a volume in one tool call."""
        gen = await self.cli.generation()
        props = await self._snapshot_props(pool, volume)
        if not props:
            await self.volume_get(pool=pool, name=volume)
        base = None
        if gen.ctldir:
            base = (await self.volume_get(pool=pool, name=volume))["path"]
        return [model.snapshot_dict(pool, volume, full, p,
                                    f"{base}/.zfs/snapshot/{full.split('@', 1)[1]}" if base else None)
                for full, p in props.items()]

    async def snapshot_list_token(self, *, pool: str, volume: str) -> str | None:
        """Changes whenever the pool's devices were written (see ``token``); no tool call once
        the pool's devices are known (the first call of a process reads ``zpool status``)."""
        if pool not in self._devices:
            try:
                await self._status(pool)
            except APIError:
                return None
        return pool_token(self._devices.get(pool, []))

    async def snapshot_get(self, *, pool: str, volume: str, name: str) -> dict:
        """One snapshot."""
        full = f"{self._dataset(pool, volume)}@{name}"
        res = await self.cli.zfs("get", "-Hp", "-o", "name,property,value,source",
                                 ",".join(model.SNAPSHOT_PROPS), full, check=False)
        if not res.ok or not res.stdout.strip():
            raise not_found("snapshot", f"{pool}/{volume}@{name}")
        gen = await self.cli.generation()
        path = None
        if gen.ctldir:
            path = f"{(await self.volume_get(pool=pool, name=volume))['path']}/.zfs/snapshot/{name}"
        return model.snapshot_dict(pool, volume, full, parse_get(res.stdout)[full], path)

    async def snapshot_delete(self, *, pool: str, volume: str, name: str) -> None:
        """``zfs destroy pool/volume@name``; 409 while it is held or cloned."""
        snap = await self.snapshot_get(pool=pool, volume=volume, name=name)
        if snap["properties"]["holds"]:
            raise conflict(f"snapshot {name!r} has {snap['properties']['holds']} hold(s); release them first",
                           code="snapshot_held")
        await self._drop_view(pool, volume, name)
        with zfs_errors():
            await self.cli.zfs("destroy", f"{self._dataset(pool, volume)}@{name}")

    async def snapshot_rollback(self, *, pool: str, volume: str, name: str) -> dict:
        """``zfs rollback -r``: newer snapshots are destroyed (the service asked for force)."""
        snap = await self.snapshot_get(pool=pool, volume=volume, name=name)
        for other in await self.snapshot_list(pool=pool, volume=volume):
            if other["created"] >= snap["created"] and other["name"] != name:
                await self._drop_view(pool, volume, other["name"])
        with zfs_errors():
            await self.cli.zfs("rollback", "-r", f"{self._dataset(pool, volume)}@{name}", timeout=300)
        return await self.volume_get(pool=pool, name=volume)

    async def snapshot_clone(self, *, pool: str, volume: str, name: str, target: str) -> dict:
        """``zfs clone`` into a new writable volume ``pool/target``."""
        if target.startswith(VIEW_PREFIX):
            raise bad_request(f"volume names starting with {VIEW_PREFIX!r} are reserved", field="target")
        await self.snapshot_get(pool=pool, volume=volume, name=name)
        with zfs_errors():
            await self.cli.zfs("clone", f"{self._dataset(pool, volume)}@{name}",
                               self._dataset(pool, target))
        return await self.volume_get(pool=pool, name=target)

    async def snapshot_path(self, *, pool: str, volume: str, name: str) -> str:
        """``.zfs/snapshot/<name>`` on OpenZFS; on zfs-fuse (no ``.zfs`` directory) a read-only
        clone ``pool/sv-view.<volume>.<name>`` made on first use and removed with the snapshot."""
        snap = await self.snapshot_get(pool=pool, volume=volume, name=name)
        if snap["path"]:
            return snap["path"]
        view = self._dataset(pool, f"{VIEW_PREFIX}{volume}.{name}")
        res = await self.cli.zfs("get", "-H", "-o", "value", "mountpoint", view, check=False)
        if not res.ok:
            with zfs_errors():
                await self.cli.zfs("clone", "-o", "readonly=on",
                                   f"{self._dataset(pool, volume)}@{name}", view)
            res = await self.cli.zfs("get", "-H", "-o", "value", "mountpoint", view)
        return res.stdout.strip()

    async def _drop_view(self, pool: str, volume: str, name: str) -> None:
        view = self._dataset(pool, f"{VIEW_PREFIX}{volume}.{name}")
        if (await self.cli.zfs("get", "-H", "-o", "value", "type", view, check=False)).ok:
            await self._destroy_dataset(view)

    async def snapshot_hold(self, *, pool: str, volume: str, name: str, tag: str) -> dict:
        """``zfs hold <tag>``: the snapshot cannot be destroyed until released."""
        await self.snapshot_get(pool=pool, volume=volume, name=name)
        with zfs_errors():
            await self.cli.zfs("hold", tag, f"{self._dataset(pool, volume)}@{name}")
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    async def snapshot_release(self, *, pool: str, volume: str, name: str, tag: str) -> dict:
        """``zfs release <tag>``."""
        await self.snapshot_get(pool=pool, volume=volume, name=name)
        with zfs_errors():
            await self.cli.zfs("release", tag, f"{self._dataset(pool, volume)}@{name}")
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    # --- scrub --------------------------------------------------------------------------------

    async def scrub_start(self, *, pool: str) -> None:
        """``zpool scrub``; returns as soon as the scrub runs.

        OpenZFS's ``zpool scrub`` returns at once. zfs-fuse's returns only when the scrub is
        over (its status shows the progress meanwhile), so there it runs as a background task and
        this method returns once ``zpool status`` reports the scrub (or it has already ended).
        """
        await self._status(pool)
        gen = await self.cli.generation()
        if gen.name != ZFS_FUSE:
            with zfs_errors():
                await self.cli.zpool("scrub", pool)
            return
        running = self._scrubs.get(pool)
        if running is not None and not running.done():
            raise conflict(f"a scrub of {pool} is already running", code="scrub_running")
        task = asyncio.create_task(self.cli.zpool("scrub", pool, timeout=SCRUB_TIMEOUT, check=False))
        task.add_done_callback(_log_scrub_end)
        self._scrubs[pool] = task
        for _ in range(40):
            done, _ = await asyncio.wait({task}, timeout=0.05)
            if done:
                res = task.result()
                if not res.ok:
                    raise translate(CommandError(res, res.stderr.strip() or "zpool scrub failed"))
                return
            if (await self._status(pool))["scan"]["state"] == "running":
                return

    async def scrub_status(self, *, pool: str) -> dict:
        """Progress and result of the last scrub, with the pool's checksum error total."""
        status = await self._status(pool)
        result = model.scrub_dict(status["scan"], status)
        task = self._scrubs.get(pool)
        if task is not None and task.done() and not task.cancelled():
            res = task.result() if task.exception() is None else None
            if res is None or not res.ok:
                result["state"] = "failed"
                result["details"]["error"] = (res.stderr.strip() if res else str(task.exception()))
        elif task is not None and not task.done() and result["state"] != "running":
            result["state"] = "running"  # the scrub command has not reported yet
        return result

    async def scrub_cancel(self, *, pool: str) -> None:
        """``zpool scrub -s``. On zfs-fuse the stop request waits behind the running scrub
        (observed: it returns when the scrub has completed), so it gets the scrub's time limit."""
        await self._status(pool)
        gen = await self.cli.generation()
        with zfs_errors():
            await self.cli.zpool("scrub", "-s", pool,
                                 timeout=SCRUB_TIMEOUT if gen.name == ZFS_FUSE else None)

    # --- replication --------------------------------------------------------------------------

    async def send(self, *, pool: str, volume: str, snapshot: str, target: str,
                   base: str | None = None) -> dict:
        """``zfs send [-i base]`` into the file ``target`` (temporary name, then rename)."""
        await self.snapshot_get(pool=pool, volume=volume, name=snapshot)
        ds = self._dataset(pool, volume)
        argv = [self.cli.zfs_bin, "send"]
        if base:
            await self.snapshot_get(pool=pool, volume=volume, name=base)
            argv += ["-i", f"{ds}@{base}"]
        argv.append(f"{ds}@{snapshot}")
        if not os.path.isabs(target) or not os.path.isdir(os.path.dirname(target)):
            raise bad_request("target must be an absolute path in an existing directory", field="target")
        with zfs_errors():
            size = await send_to_file(argv, target)
        return {"bytes": size, "format": "zfs-send", "incremental": base is not None}

    async def receive(self, *, pool: str, volume: str, source: str,
                      snapshot: str | None = None) -> dict:
        """``zfs receive pool/volume[@snapshot]`` from the stream file ``source``."""
        await self._pool_rows(pool)
        if not os.path.isfile(source):
            raise bad_request(f"stream file {source!r} does not exist", field="source")
        before = set(await self._snapshot_names(pool, volume))
        target = self._dataset(pool, volume) + (f"@{snapshot}" if snapshot else "")
        try:
            await receive_from_file([self.cli.zfs_bin, "receive", target], source)
        except CommandError as exc:
            err = translate(exc)
            if "destination" in err.message and "exists" in err.message or \
                    "most recent snapshot" in err.message or "does not match" in err.message or \
                    "has been modified" in err.message:
                raise conflict(err.message, code="receive_conflict") from None
            raise err from None
        after = await self.snapshot_list(pool=pool, volume=volume)
        new = [s for s in after if s["name"] not in before]
        if snapshot:
            new = [s for s in after if s["name"] == snapshot] or new
        if not new:
            raise APIError(500, "receive_failed", "zfs receive finished but no new snapshot appeared")
        return max(new, key=lambda s: s["created"] or "")

    async def _snapshot_names(self, pool: str, volume: str) -> list[str]:
        try:
            return [k.split("@", 1)[1] for k in await self._snapshot_props(pool, volume)]
        except APIError:
            return []

    # --- diff ---------------------------------------------------------------------------------

    async def diff(self, *, pool: str, volume: str, old: str, new: str | None = None,
                   check: Callable[[], None] | None = None) -> list[dict]:
        """``zfs diff -H -F`` on OpenZFS; on zfs-fuse a walk of both trees (see ``delta``)."""
        vol = await self.volume_get(pool=pool, name=volume)
        await self.snapshot_get(pool=pool, volume=volume, name=old)
        if new:
            await self.snapshot_get(pool=pool, volume=volume, name=new)
        gen = await self.cli.generation()
        ds = self._dataset(pool, volume)
        if gen.diff:
            argv = ["diff", "-H", "-F", f"{ds}@{old}"] + ([f"{ds}@{new}"] if new else [ds])
            with zfs_errors():
                res = await self.cli.zfs(*argv, timeout=600)
            return parse_diff(res.stdout, vol["path"] or "")
        old_root = await self.snapshot_path(pool=pool, volume=volume, name=old)
        new_root = await self.snapshot_path(pool=pool, volume=volume, name=new) if new else vol["path"]
        old_tree, new_tree = await asyncio.gather(
            asyncio.to_thread(delta.scan_tree, old_root, check),
            asyncio.to_thread(delta.scan_tree, new_root, check))
        return delta.compare_trees(old_tree, new_tree)
