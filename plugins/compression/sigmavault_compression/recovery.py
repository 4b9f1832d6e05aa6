"""After a crash: remove the temporary files of the compression jobs the daemon was running."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from sigmavault.files import TEMP_MARK, sweep_temporaries

from .engine import STAGING_PREFIX

log = logging.getLogger("sigmavault.compression")

AGENT_KINDS = {"agent.FLUX", "agent.SPARK", "agent.FORGE"}


def clean_after(job: dict[str, Any]) -> list[str]:
    """Delete what an interrupted job of this plugin left behind; return the removed paths.

    A compression job: only names it creates — ``.<target name>.sigmavault-tmp-*`` beside its
    target and ``.sigmavault-extract-*`` staging folders inside an extraction target. FLUX, SPARK
    and FORGE tasks: ``atomic_write`` temporaries under their folder (and output folder).
    """
    kind = job.get("kind", "")
    params = job.get("params") or {}
    removed: list[str] = []
    if kind.startswith("compression.") and params.get("target"):
        target = Path(params["target"])
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
                log.warning("could not remove %s left by job %s: %s", path, job.get("id"), exc)
    elif kind in AGENT_KINDS:
        inner = params.get("params") or {}
        for key in ("path", "output"):
            if inner.get(key):
                root = Path(inner[key])
                count = sweep_temporaries(root if root.is_dir() else root.parent)
                removed += [f"{root}: {count} temporary file(s)"] if count else []
    if removed:
        log.warning("job %s was interrupted; removed its temporaries: %s", job.get("id"), removed)
    return removed
