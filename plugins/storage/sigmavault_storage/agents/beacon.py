"""BEACON: rescan block devices with lsblk; report disks that appeared or vanished since the
last scan (kept in SQLite), with a ``storage.event`` for each."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from sigmavault.commands import run
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .common import Params, now_iso

COLUMNS = "NAME,PATH,SIZE,TYPE,MODEL,SERIAL,WWN,TRAN,ROTA,RM,RO"


class BeaconParams(Params):
    include_loop: bool | None = Field(None, description="count attached loop devices as disks "
                                      "(default: [storage] include_loop_devices)")


def parse_lsblk(text: str, include_loop: bool) -> list[dict[str, Any]]:
    """Whole disks from ``lsblk -J -b -d -o COLUMNS`` output (partitions and empty devices out)."""
    disks = []
    for d in json.loads(text).get("blockdevices", []):
        kind = d.get("type")
        size = int(d.get("size") or 0)
        if size <= 0 or not (kind == "disk" or (kind == "loop" and include_loop)):
            continue
        serial = (d.get("serial") or "").strip() or None
        wwn = (d.get("wwn") or "").strip() or None
        disks.append({"key": f"{d['path']}|{serial or wwn or ''}|{size}", "name": d["name"],
                      "path": d["path"], "size": size, "type": kind,
                      "model": (d.get("model") or "").strip() or None, "serial": serial,
                      "wwn": wwn, "transport": d.get("tran"), "rotational": bool(d.get("rota")),
                      "removable": bool(d.get("rm")), "read_only": bool(d.get("ro"))})
    return disks


async def run_beacon(ctx: JobContext, p: BeaconParams) -> dict[str, Any]:
    app = ctx.app
    include_loop = p.include_loop
    if include_loop is None:
        try:
            include_loop = bool(app.config.section("storage").include_loop_devices)
        except Exception:
            include_loop = False
    ctx.progress(description="lsblk")
    res = await run(["lsblk", "-J", "-b", "-d", "-o", COLUMNS], timeout=30)
    disks = parse_lsblk(res.stdout, include_loop)
    now = now_iso()
    rows = {r["key"]: r for r in app.db.all("SELECT key, name, path, size, present, data "
                                            "FROM storage_agents_disks")}
    first = not rows
    present_before = {k for k, r in rows.items() if r["present"]}
    current = {d["key"]: d for d in disks}
    appeared = [current[k] for k in sorted(current.keys() - present_before)]
    vanished = [json.loads(rows[k]["data"]) for k in sorted(present_before - current.keys())]
    with app.db.transaction() as conn:
        for d in disks:
            conn.execute("INSERT INTO storage_agents_disks(key, name, path, size, present, data, "
                         "first_seen, last_seen) VALUES(?,?,?,?,1,?,?,?) ON CONFLICT(key) DO UPDATE "
                         "SET present=1, data=excluded.data, last_seen=excluded.last_seen",
                         (d["key"], d["name"], d["path"], d["size"], json.dumps(d), now, now))
        for d in vanished:
            conn.execute("UPDATE storage_agents_disks SET present=0 WHERE key=?", (d["key"],))
    if not first:
        for d in appeared:
            app.events.publish("storage.event", {"kind": "disk_added", "disk": d["name"],
                               "message": f"disk {d['path']} appeared ({d['size']} bytes)",
                               "details": {"source": "BEACON", **d}})
        for d in vanished:
            app.events.publish("storage.event", {"kind": "disk_removed", "disk": d["name"],
                               "message": f"disk {d['path']} vanished", "details": {"source": "BEACON", **d}})
    return {"first_scan": first, "disks": disks, "appeared": appeared, "vanished": vanished,
            "scanned": now}


MIGRATIONS = ["CREATE TABLE storage_agents_disks (key TEXT PRIMARY KEY, name TEXT NOT NULL, "
              "path TEXT NOT NULL, size INTEGER NOT NULL, present INTEGER NOT NULL, data TEXT NOT NULL, "
              "first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);"]

AGENT = Agent(name="BEACON", tier="storage", specialty="storage", params_model=BeaconParams,
              run=run_beacon, tags=["disks"], lock=lambda p: "beacon",
              description="rescan block devices (lsblk); report disks that appeared or vanished "
                          "since the last scan")
