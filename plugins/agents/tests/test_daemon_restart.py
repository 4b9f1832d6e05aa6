"""OMNISCIENT runs a stored schedule after a real daemon restart."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from .conftest import others
from pathlib import Path


async def test_schedule_runs_after_restart(sv_daemon, tmp_path: Path) -> None:
    area = tmp_path / "area"
    area.mkdir()
    (area / "f.txt").write_text("data")
    disabled = ", ".join(f'"{d}"' for d in others())
    config = (f'[plugins]\ndisabled = [{disabled}]\n'
              f'[agents]\nallowed_roots = ["{area}"]\nscheduler_interval = 0.2\n')
    daemon = sv_daemon(config=config)
    async with daemon.session() as http:
        # every 2 s (seconds are the 6th field): a time that will have passed once the daemon is back
        resp = await http.post("/api/v1/agents/schedules", json={
            "agent": "NEXUS", "cron": "* * * * * */2", "params": {"path": str(area), "days": 1}})
        sched = await resp.json()
        assert resp.status == 201, sched
    daemon.stop()
    stopped_at = time.time()
    await asyncio.sleep(2.5)
    daemon.start()
    async with daemon.session() as http:
        for _ in range(300):
            page = await (await http.get("/api/v1/agents/NEXUS/tasks")).json()
            after = [t for t in page["items"] if t["source"] == f"schedule:{sched['id']}"
                     and t["state"] == "SUCCESS"
                     and datetime.fromisoformat(t["created_at"]).timestamp() > stopped_at]
            if after:
                break
            await asyncio.sleep(0.1)
        assert after, (page, daemon.log())
        assert after[0]["result"]["files"] == 1
        got = await (await http.get(f"/api/v1/agents/schedules/{sched['id']}")).json()
        assert got["runs"] >= 1 and got["last_task"]
        listed = await (await http.get("/api/v1/agents")).json()
        assert {a["id"] for a in listed} >= {"NEXUS", "OMNISCIENT"}
    daemon.stop()
