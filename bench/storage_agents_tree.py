"""Benchmark of the storage agents' tree work (DELTA tree diff, MIRROR changed-file copy)
against rsync on the same trees.

    .venv/bin/python bench/storage_agents_tree.py --files 20000 --change 0.05
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sigmavault_storage.agents.delta import compare_trees
from sigmavault_storage.agents.treesync import sync_tree


def make_tree(root: Path, files: int, size: int) -> list[Path]:
    out = []
    for i in range(files):
        d = root / f"d{i % 100:02d}"
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"f{i}.bin"
        p.write_bytes(os.urandom(size))
        out.append(p)
    return out


def timed(fn, *a):
    t = time.perf_counter()
    r = fn(*a)
    return time.perf_counter() - t, r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--size", type=int, default=4096, help="bytes per file")
    ap.add_argument("--change", type=float, default=0.05, help="fraction of files changed")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, old = Path(tmp, "src"), Path(tmp, "old")
        paths = make_tree(src, a.files, a.size)
        shutil.copytree(src, old, copy_function=shutil.copy2)
        for p in random.sample(paths, int(len(paths) * a.change)):
            p.write_bytes(os.urandom(a.size))
        t_delta, changes = timed(compare_trees, old, src, True)
        mirror = Path(tmp, "mirror")
        shutil.copytree(old, mirror, copy_function=shutil.copy2)
        t_sync, stats = timed(sync_tree, src, mirror)
        rs = Path(tmp, "rsync")
        shutil.copytree(old, rs, copy_function=shutil.copy2)
        t_rsync = None
        if shutil.which("rsync"):
            t_rsync, _ = timed(subprocess.run, ["rsync", "-a", "--delete", f"{src}/", f"{rs}/"])
        print(f"files={a.files} size={a.size} changed={len(changes)}")
        print(f"DELTA tree diff: {t_delta:.3f} s")
        print(f"MIRROR sync:     {t_sync:.3f} s ({stats['files_copied']} files copied)")
        print(f"rsync -a:        {t_rsync:.3f} s" if t_rsync is not None else "rsync: not installed")
        if t_rsync is not None:
            print(f"RESULT files={a.files} changed={len(changes)} delta_s={t_delta:.3f} "
                  f"sync_s={t_sync:.3f} rsync_s={t_rsync:.3f} ratio={t_rsync / t_sync:.2f}")


if __name__ == "__main__":
    main()
