"""Encryption throughput and peak memory: sigmavault-encryption vs the ``age`` CLI.

Both encrypt the same random file to the same X25519 recipient (the age CLI shipped by Debian
has no post-quantum recipients; our mlkem768x25519 run is shown for reference). Like ``age``, the
compared runs write to the page cache without fsync (``--no-fsync``); the plugin's jobs also fsync
and rename (crash safety), shown as a separate "fsync" line. Each tool runs in
its own process under GNU ``time`` so wall time and peak RSS are the tool's own. Each round
starts with another tool, and the best of ``--repeat`` runs is compared; ratios > 1.0 mean we are faster (throughput) or below the limit.
Wall time is what users see; CPU time (user+sys) is printed too because on a shared, loaded
machine wall time mostly measures the scheduler. Finally our output is decrypted by ``age`` and
compared, so the speed is for a compatible file.

    .venv/bin/python bench/encryption_vs_age.py              # 512 MiB
    .venv/bin/python bench/encryption_vs_age.py --size 64    # MiB
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

from sigmavault.commands import run

RSS_LIMIT_MB = 64.0
THROUGHPUT_TARGET = 1.0


async def timed(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds user+sys) of ``argv``: RSS and CPU from GNU
    time, wall time from the monotonic clock (GNU time's has 10 ms steps)."""
    started = time.perf_counter()
    result = await run(["/usr/bin/time", "-f", "%M %U %S", *argv], timeout=3600)
    wall = time.perf_counter() - started
    rss_kb, user, system = result.stderr.strip().splitlines()[-1].split()
    return wall, int(rss_kb) / 1024, float(user) + float(system)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="plaintext size in MiB (default 512)")
    parser.add_argument("--repeat", type=int, default=8, help="runs per tool; the best counts")
    parser.add_argument("--dir", default=None, help="work directory (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="sv-enc-bench-") as tmp:
        work = Path(tmp)
        plain = work / "plain.bin"
        with open(plain, "wb") as f:
            for _ in range(args.size):
                f.write(os.urandom(1 << 20))
        sha256(plain)  # warm the page cache equally for both tools
        key = work / "key.txt"
        await run(["age-keygen", "-o", str(key)])
        recipient = (await run(["age-keygen", "-y", str(key)])).stdout.strip()
        pq_key = work / "pq.txt"
        await run([sys.executable, "-m", "sigmavault_encryption", "keygen", "--pq", "-o", str(pq_key)])
        pq_recipient = next(line.split(": ", 1)[1] for line in pq_key.read_text().splitlines()
                            if line.startswith("# public key: "))

        cli = [sys.executable, "-m", "sigmavault_encryption", "encrypt"]
        tools = {
            "age CLI (X25519)": lambda out: ["age", "-r", recipient, "-o", str(out), str(plain)],
            "sigmavault (X25519)": lambda out: [*cli, "--no-fsync", "-r", recipient, "-o", str(out), str(plain)],
            "sigmavault (mlkem768x25519)": lambda out: [*cli, "--no-fsync", "-r", pq_recipient, "-o", str(out),
                                                        str(plain)],
            "sigmavault (X25519, fsync)": lambda out: [*cli, "-r", recipient, "-o", str(out), str(plain)],
        }
        best: dict[str, tuple[float, float, float]] = {}
        names = list(tools)
        for round_ in range(args.repeat):
            # the kernel time of writing 512 MiB to the page cache swings 0.2-1.5 s here from
            # run to run; rotating the order gives every tool every position
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                argv = tools[name]
                out = work / "out.age"
                wall, rss, cpu = await timed(argv(out))
                out.unlink()
                prev = best.get(name)
                best[name] = (wall, rss, cpu) if prev is None else (
                    min(wall, prev[0]), max(rss, prev[1]), min(cpu, prev[2]))

        ours = work / "ours.age"
        await run(tools["sigmavault (X25519)"](ours), timeout=3600)
        await run(["age", "-d", "-i", str(key), "-o", str(work / "back.bin"), str(ours)], timeout=3600)
        compatible = sha256(work / "back.bin") == sha256(plain)

    mib = args.size
    load = os.getloadavg()[0]
    print(f"plaintext: {mib} MiB, best of {args.repeat} run(s), page cache warm, load average {load:.1f} "
          f"on {os.cpu_count()} CPU(s)")
    print(f"{'tool':30} {'wall s':>7} {'MiB/s':>7} {'CPU s':>6} {'peak RSS MiB':>13}")
    for name, (wall, rss, cpu) in best.items():
        print(f"{name:30} {wall:7.3f} {mib / max(wall, 1e-3):7.0f} {cpu:6.2f} {rss:13.1f}")
    age_wall, _, age_cpu = best["age CLI (X25519)"]
    for name in ("sigmavault (X25519)", "sigmavault (mlkem768x25519)", "sigmavault (X25519, fsync)"):
        wall, rss, cpu = best[name]
        print(f"{name}: throughput {age_wall / max(wall, 1e-3):.2f}x age by wall time, "
              f"{age_cpu / max(cpu, 1e-3):.2f}x by CPU time (target >= {THROUGHPUT_TARGET:.1f}x); "
              f"peak RSS {rss:.1f} MiB = {rss / RSS_LIMIT_MB:.2f} of the {RSS_LIMIT_MB:.0f} MB limit")
    print(f"age CLI decrypts our output byte-for-byte: {'yes' if compatible else 'NO'}")
    ours_ok = age_wall / max(best['sigmavault (X25519)'][0], 1e-3) >= THROUGHPUT_TARGET
    rss_ok = max(best[n][1] for n in best if n.startswith("sigmavault")) <= RSS_LIMIT_MB
    return 0 if compatible and ours_ok and rss_ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
