"""A real daemon killed in the middle of a job: no half-written target, no leftovers after restart."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from svcomp_support import other_plugins


def semi(size: int) -> bytes:
    rnd = random.Random(11)
    words = [b"alpha", b"vault", b"sigma", b"pool", b"\n", b"0123"]
    out = bytearray()
    while len(out) < size:
        out += rnd.randbytes(64) if rnd.random() < 0.3 else b" ".join(
            rnd.choice(words) for _ in range(40))
    return bytes(out[:size])


async def test_killed_daemon_leaves_no_partial_archive(sv_daemon, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    src = work / "big.bin"
    src.write_bytes(semi(12_000_000))
    config = (f"[plugins]\ndisabled = {json.dumps(other_plugins({'sigmavault-compression'}))}\n"
              f"[compression]\nallowed_roots = [{json.dumps(str(work))}]\n")
    daemon = sv_daemon(config=config)
    async with daemon.session() as http:
        resp = await http.post("/api/v1/compression/jobs",
                               json={"operation": "compress", "source": str(src), "codec": "xz",
                                     "level": 9})
        job = await resp.json()
        assert resp.status == 202, job
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = await (await http.get(f"/api/v1/compression/jobs/{job['id']}")).json()
            if state["state"] == "RUNNING" and (state["progress"]["bytes_done"] or 0) > 0:
                break
            assert state["state"] in ("WAITING", "RUNNING"), state
            await __import__("asyncio").sleep(0.05)
    temps = [p for p in work.iterdir() if "sigmavault-tmp" in p.name]
    assert temps, "the job should be writing its temporary file"
    daemon.kill()
    assert not (work / "big.bin.xz").exists()

    daemon.start()
    async with daemon.session() as http:
        state = await (await http.get(f"/api/v1/compression/jobs/{job['id']}")).json()
    assert state["state"] == "ABORTED" and state["interrupted"] is True, state
    assert sorted(p.name for p in work.iterdir()) == ["big.bin"]  # temp file swept at start-up
    assert src.stat().st_size == 12_000_000
    daemon.stop()
