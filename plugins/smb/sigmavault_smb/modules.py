"""Which VFS modules a configuration needs that this Samba does not have.

``testparm`` accepts ``vfs objects = shadow_copy2`` when the module is not installed (Debian ships
it in ``samba-vfs-modules``); smbd then refuses every connection to that share with
``NT_STATUS_BAD_NETWORK_NAME``. So the modules are checked before a configuration goes live.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sigmavault.commands import run
from sigmavault.errors import APIError


def parse_modules_dir(build_options: str) -> Path:
    """``MODULESDIR`` from ``smbd -b`` output."""
    for line in build_options.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "MODULESDIR" and value.strip():
            return Path(value.strip())
    raise ValueError("smbd -b did not name MODULESDIR")


def vfs_objects(conf_text: str) -> set[str]:
    """Every module named in a ``vfs objects`` line of a rendered ``smb.conf``."""
    out: set[str] = set()
    for line in conf_text.splitlines():
        key, _, value = line.strip().partition("=")
        if key.strip().lower() == "vfs objects":
            out.update(value.split())
    return out


def missing(conf_text: str, modules_dir: Path) -> list[str]:
    return sorted(m for m in vfs_objects(conf_text) if not (modules_dir / "vfs" / f"{m}.so").exists())


# smbd binary (path, mtime) → its MODULESDIR: ``smbd -b`` once per installed Samba, not per apply
_modules_dirs: dict[tuple[str, int], Path] = {}


async def modules_dir() -> Path:
    binary = shutil.which("smbd") or "smbd"
    try:
        key = (binary, os.stat(binary).st_mtime_ns)
    except OSError:
        key = (binary, 0)
    if key not in _modules_dirs:
        result = await run([binary, "-b"], timeout=30)
        _modules_dirs[key] = parse_modules_dir(result.stdout)
    return _modules_dirs[key]


async def check_vfs_modules(conf_text: str) -> None:
    """Raise 501 ``smb_module_missing`` when a needed VFS module is not installed."""
    needed = vfs_objects(conf_text)
    if not needed:
        return
    absent = missing(conf_text, await modules_dir())
    if absent:
        raise APIError(501, "smb_module_missing",
                       f"Samba VFS module(s) not installed: {', '.join(absent)} "
                       "(Debian: samba-vfs-modules)", {"modules": absent})
