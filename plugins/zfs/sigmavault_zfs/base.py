"""What every part of the zfs backend shares: the CLI driver and its generation, pool status and
list queries, the pool-state observer behind ``storage.event``, and dataset destruction.

The resource modules (:mod:`.pools`, :mod:`.devices`, :mod:`.scrub`, :mod:`.volumes`,
:mod:`.snapshots`, :mod:`.replication`) are mixins over :class:`ZfsBase`; :mod:`.backend`
composes them."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable

from sigmavault.backends import Row
from sigmavault.commands import CommandError, Result
from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import rows
from .errors import translate
from .listing import parse_get, parse_list_as_get, parse_pool_list
from .status import parse_status, parse_status_json
from .units import parse_size
from .zfs_tool import ZfsCli

log = logging.getLogger("sigmavault.zfs")

LAYOUTS = ("stripe", "mirror", "raidz1", "raidz2", "raidz3")
MIN_DEVICES = {"stripe": 1, "mirror": 2, "raidz1": 2, "raidz2": 3, "raidz3": 4}
# accepted volume compression values, preferred first; "off" (remove) is always accepted too
COMPRESSION = ["lzjb", "gzip", "zle", "on"] + [f"gzip-{n}" for n in range(1, 10)]
COMPRESSION_OPENZFS = ["lz4", "zstd", "gzip", "lzjb", "zle", "on"] + \
    [f"gzip-{n}" for n in range(1, 10)] + [f"zstd-{n}" for n in range(1, 20)]
VIEW_PREFIX = "sv-view."
Props = dict[str, tuple[str, str]]   # property → (value, source), as ``parse_get`` reads them
ChangeListener = Callable[[str, dict[str, Any]], None]


class ZfsBase:
    """The CLI, the observed pool states and the queries the resource mixins share."""

    name: str   # "zfs", set by ZfsBackend
    capabilities: dict[str, Any]

    def __init__(self, cli: ZfsCli | None = None) -> None:
        self.cli = cli or ZfsCli()
        self.mount_root: str | None = None
        self.on_change: ChangeListener | None = None
        self._last_errors: dict[str, tuple[str, dict[str, tuple[int, int, int]]]] = {}
        self._scrubs: dict[str, asyncio.Task[Result]] = {}
        self._devices: dict[str, list[str]] = {}   # pool -> device paths, from the last status

    async def available(self) -> Row:
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

    async def _status(self, name: str) -> Row:
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

    async def _roots(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """The root datasets of the pools ``names``: ``{pool: {"mountpoint", "used",
        "available"}}`` (sizes in bytes, None where unreadable), in one ``zfs get -Hp`` call."""
        if not names:
            return {}
        res = await self.cli.zfs("get", "-Hp", "-o", "name,property,value",
                                 ",".join(rows.ROOT_PROPS), *names, check=False)
        out: dict[str, dict[str, Any]] = {}
        for ds, props in parse_get(res.stdout).items():
            root: dict[str, Any] = {"mountpoint": props.get("mountpoint", (None,))[0]}
            for key in ("used", "available"):
                try:
                    root[key] = parse_size(props[key][0]) if key in props else None
                except ValueError:
                    root[key] = None
            out[ds] = root
        return out

    def _observe(self, status: dict[str, Any]) -> None:
        """Publish a change event when the pool state or a device's error counters move."""
        devices = rows.pool_devices(status)
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
            "state": rows.POOL_STATE.get(status["state"], "unknown"), "zfs_state": status["state"],
            "previous_state": rows.POOL_STATE.get(previous[0], "unknown"),
            "devices": changed, "status": status["status"],
            "scan": {k: status["scan"][k] for k in ("function", "state", "errors", "repaired")}})

    def _dataset(self, pool: str, volume: str) -> str:
        return f"{pool}/{volume}"

    def _check_compression(self, value: Any) -> str:
        allowed = self.capabilities["compression"] + ["off"]
        if value not in allowed:
            raise bad_request(f"compression must be one of {', '.join(allowed)}", field="compression")
        return value

    async def _snapshot_props(self, pool: str, volume: str) -> dict[str, Props]:
        gen = await self.cli.generation()
        ds = self._dataset(pool, volume)
        if gen.parsable:
            cols = ("name",) + rows.SNAPSHOT_PROPS[1:]
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
