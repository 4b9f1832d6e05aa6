"""A cheap change token for a pool: the write counters of its devices.

Every change to a pool's snapshot list (create, destroy, rename, hold, receive, rollback) is a
ZFS sync task, which returns only after its transaction group has been written to the pool's
devices. So the sectors-written counter of each block device (``/sys/dev/block/M:m/stat``,
field 7) — or the mtime and size of a file vdev — moves whenever the list may have changed, and
stays put while the pool is idle. Reading it takes no tool call.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def write_mark(path: str) -> str | None:
    """The device's write counter (block device) or ``mtime_ns:size`` (file); None if gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISBLK(st.st_mode):
        sysfs = Path("/sys/dev/block") / f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" / "stat"
        try:
            fields = sysfs.read_text().split()
            return fields[6]
        except (OSError, IndexError):
            return None
    return f"{st.st_mtime_ns}:{st.st_size}"


def pool_token(devices: list[str]) -> str | None:
    """Token of a pool from its device paths; None when any device cannot be read."""
    marks = []
    for path in sorted(devices):
        mark = write_mark(path)
        if mark is None:
            return None
        marks.append(f"{path}={mark}")
    return ";".join(marks) if marks else None
