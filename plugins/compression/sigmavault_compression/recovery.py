"""After a crash: remove the temporary files of compression jobs the daemon was running."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sigmavault.files import TEMP_MARK

from .engine import STAGING_PREFIX

log = logging.getLogger("sigmavault.compression")


def sweep_interrupted(app: Any) -> list[str]:
    """Delete leftovers of compression jobs marked interrupted at this start-up; return them.

    Only names this plugin's jobs create are touched: ``.<target name>.sigmavault-tmp-*`` beside
    the job's target, and ``.sigmavault-extract-*`` staging folders inside an extraction target.
    """
    since = datetime.fromtimestamp(app.started_at, timezone.utc).isoformat(timespec="milliseconds")
    rows = app.db.all("SELECT id, params FROM jobs WHERE kind LIKE 'compression.%' AND "
                      "interrupted=1 AND finished_at >= ?", (since,))
    removed: list[str] = []
    for row in rows:
        target = json.loads(row["params"]).get("target")
        if not target:
            continue
        target = Path(target)
        leftovers = list(target.parent.glob(f".{target.name}{TEMP_MARK}*"))
        if target.is_dir():
            leftovers += list(target.glob(f"{STAGING_PREFIX}*"))
        for path in leftovers:
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(str(path))
            except OSError as exc:
                log.warning("could not remove %s left by job %s: %s", path, row["id"], exc)
    if removed:
        log.warning("removed %d temporary file(s) of interrupted compression jobs", len(removed))
    return removed
