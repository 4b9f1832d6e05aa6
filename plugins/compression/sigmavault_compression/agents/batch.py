"""Compressing many files for FLUX and SPARK: one file at a time or on a pool of threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sigmavault.files import fsync_dir

from .. import engine, stats
from ..codecs import Codec
from ..progress import BatchProgress, Snapshot, format_ratio


@dataclass
class FileTask:
    source: Path
    target: Path
    codec: Codec
    level: int
    threads: int
    remove_source: bool  # only after the new archive was verified


def file_progress(batch: BatchProgress) -> Callable[[Snapshot], None]:
    """Turn one file's cumulative engine snapshots into increments of the batch."""
    last = {"bytes_in": 0, "bytes_out": 0, "uncompressed": 0}

    def on(snapshot: Snapshot) -> None:
        d_in = snapshot["bytes_in"] - last["bytes_in"]
        d_out = snapshot["bytes_out"] - last["bytes_out"]
        d_raw = snapshot["uncompressed"] - last["uncompressed"]
        last.update(bytes_in=snapshot["bytes_in"], bytes_out=snapshot["bytes_out"],
                    uncompressed=snapshot["uncompressed"])
        batch.add(d_in, d_out, d_raw, d_out)

    return on


def compress_file(task: FileTask, batch: BatchProgress, db: Any, job_id: str,
                  check: Callable[[], None]) -> dict[str, Any]:
    """Compress one file (verified before the source goes away); a dict for the report."""
    task.target.parent.mkdir(parents=True, exist_ok=True)
    out = engine.compress(task.source, task.target, task.codec, task.level, task.threads,
                          verify=task.remove_source, progress=file_progress(batch), check=check)
    result = out.to_dict()
    result.pop("extra", None)
    stats.record(db, result, job_id)
    if task.remove_source:
        task.source.unlink()
        fsync_dir(task.source.parent)
    return {"source": str(task.source), "target": str(task.target), "codec": task.codec.name,
            "level": task.level, "bytes": out.uncompressed, "compressed": out.compressed,
            "ratio_text": result["ratio_text"], "source_removed": task.remove_source}


def run_batch(tasks: list[FileTask], workers: int, batch: BatchProgress, db: Any, job_id: str,
              check: Callable[[], None]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Run ``tasks`` on ``workers`` threads (codecs release the GIL); (done, failed)."""
    done: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    if workers <= 1:
        for task in tasks:
            check()
            _one(task, batch, db, job_id, check, done, failed)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spark") as pool:
            futures = [pool.submit(_one, t, batch, db, job_id, check, done, failed) for t in tasks]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    batch.finish()
    done.sort(key=lambda r: r["source"])
    return done, failed


def _one(task: FileTask, batch: BatchProgress, db: Any, job_id: str, check: Callable[[], None],
         done: list, failed: list) -> None:
    check()
    try:
        done.append(compress_file(task, batch, db, job_id, check))
    except (OSError, ValueError) as exc:  # one bad file must not stop the batch
        failed.append({"source": str(task.source), "error": f"{type(exc).__name__}: {exc}"})


def summarize(done: list[dict[str, Any]]) -> dict[str, Any]:
    raw = sum(d["bytes"] for d in done)
    comp = sum(d["compressed"] for d in done)
    return {"files": len(done), "bytes": raw, "compressed_bytes": comp, **format_ratio(raw, comp)}


def cpu_workers(workers: int) -> int:
    return workers if workers > 0 else (os.cpu_count() or 1)
