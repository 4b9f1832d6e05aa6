"""Pure functions from the ``ceph ... --format json`` answers to SigmaVault's shapes.

Inputs are the decoded JSON of ``fs dump``, ``df``, ``osd dump``, ``pg dump pgs_brief`` and
``status`` (Ceph 16.2 "pacific"; the keys used exist since Nautilus). No I/O here, so the tests
replay recorded answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BAD = ("down", "incomplete", "stale", "inactive", "unknown", "creating", "peering",
       "inconsistent", "repair")
DEGRADED = ("degraded", "undersized", "recovering", "recovery", "backfill", "remapped")


def rfc3339(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ceph_time(text: str | None) -> float | None:
    """``2026-12-06T18:43:07.862357+0000`` or ``2026-12-06 18:41:51`` (UTC) → epoch seconds."""
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S.%f",
                "%Y-%m-%d %H:%M:%S"):
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    return None


def filesystems(fs_dump: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: {"id", "joinable", "metadata_pool", "data_pools", "mds": [{name, state, rank}],
    "max_mds", "failed", "damaged"}}`` from ``fs dump``."""
    out: dict[str, dict[str, Any]] = {}
    for fs in fs_dump.get("filesystems") or []:
        m = fs.get("mdsmap") or {}
        flags = int(m.get("flags", 0))
        # CEPH_MDSMAP_NOT_JOINABLE = 1 (flag bit); pacific also prints "flags_state"
        joinable = not (flags & 1)
        if isinstance(m.get("flags_state"), dict) and "joinable" in m["flags_state"]:
            joinable = bool(m["flags_state"]["joinable"])
        mds = [{"name": i.get("name"), "state": i.get("state"), "rank": i.get("rank")}
               for i in (m.get("info") or {}).values()]
        out[m.get("fs_name", "")] = {
            "id": fs.get("id"), "joinable": joinable, "metadata_pool": m.get("metadata_pool"),
            "data_pools": list(m.get("data_pools") or []), "mds": mds,
            "max_mds": m.get("max_mds", 1), "failed": list(m.get("failed") or []),
            "damaged": list(m.get("damaged") or []), "created": ceph_time(m.get("created"))}
    return out


def standby_count(fs_dump: dict[str, Any]) -> int:
    return len(fs_dump.get("standbys") or [])


def pool_sizes(osd_dump: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """``{pool id: {"name", "size", "min_size", "pg_num"}}`` from ``osd dump``."""
    return {int(p["pool"]): {"name": p.get("pool_name"), "size": p.get("size"),
                             "min_size": p.get("min_size"), "pg_num": p.get("pg_num")}
            for p in osd_dump.get("pools") or []}


def osd_counts(osd_dump: dict[str, Any]) -> dict[str, Any]:
    osds = osd_dump.get("osds") or []
    return {"total": len(osds), "up": sum(1 for o in osds if o.get("up")),
            "in": sum(1 for o in osds if o.get("in")),
            "down": [f"osd.{o['osd']}" for o in osds if o.get("in") and not o.get("up")]}


def pool_usage(df: dict[str, Any]) -> dict[int, dict[str, int]]:
    """``{pool id: {"stored", "used", "max_avail", "objects"}}`` from ``ceph df``."""
    out: dict[int, dict[str, int]] = {}
    for p in df.get("pools") or []:
        s = p.get("stats") or {}
        out[int(p["id"])] = {"stored": int(s.get("stored", s.get("bytes_used", 0)) or 0),
                             "used": int(s.get("bytes_used", 0) or 0),
                             "max_avail": int(s.get("max_avail", 0) or 0),
                             "objects": int(s.get("objects", 0) or 0)}
    return out


def pg_states(pg_dump: Any) -> dict[int, list[str]]:
    """``{pool id: [state, ...]}`` from ``pg dump pgs_brief`` (a list, or ``{"pg_stats": [...]}``)."""
    return {pool: [state for state, _ in rows] for pool, rows in pg_rows(pg_dump).items()}


def pg_rows(pg_dump: Any) -> dict[int, list[tuple[str, list[int]]]]:
    """``{pool id: [(state, acting OSD ids), ...]}`` from ``pg dump pgs_brief``."""
    rows = pg_dump.get("pg_stats", []) if isinstance(pg_dump, dict) else (pg_dump or [])
    out: dict[int, list[tuple[str, list[int]]]] = {}
    for r in rows:
        pool = int(str(r["pgid"]).split(".", 1)[0])
        out.setdefault(pool, []).append((str(r.get("state", "unknown")),
                                         [int(o) for o in r.get("acting") or []]))
    return out


@dataclass
class View:
    """What one look at the cluster says (the answers of one round of calls)."""

    fs: dict[str, dict[str, Any]]
    sizes: dict[int, dict[str, Any]]
    usage: dict[int, dict[str, int]]
    pgs: dict[int, list[str]]
    osds: dict[str, Any]
    checks: dict[str, Any] = field(default_factory=dict)
    health: str | None = None
    fsid: str | None = None
    acting: dict[int, list[list[int]]] = field(default_factory=dict)  # pool -> PGs' acting OSDs

    def pools_of(self, name: str) -> list[int]:
        fs = self.fs[name]
        return [p for p in [fs["metadata_pool"], *fs["data_pools"]] if p is not None]


def fs_state(view: View, name: str) -> tuple[str, list[dict[str, Any]]]:
    """A pool state (online | degraded | faulted | unavailable | unknown) and its problems."""
    fs = view.fs[name]
    problems: list[dict[str, Any]] = []
    if not fs["joinable"]:
        return "unavailable", [{"severity": "critical", "device": None,
                                "message": f"file system {name} is failed (not joinable)"}]
    state = "online"
    active = [m for m in fs["mds"] if m["state"] == "up:active"]
    if fs["damaged"]:
        state = "faulted"
        problems.append({"severity": "critical", "device": None,
                         "message": f"MDS rank(s) {fs['damaged']} damaged"})
    elif not fs["mds"]:
        state = "faulted"
        problems.append({"severity": "critical", "device": None,
                         "message": f"no MDS serves file system {name}"})
    elif not active:
        state = "degraded"
        states = ", ".join(f"{m['name']}: {m['state']}" for m in fs["mds"])
        problems.append({"severity": "warning", "device": None,
                         "message": f"MDS not active yet ({states})"})
    # faulted: data unreachable (down/incomplete, or stale with every acting OSD down);
    # degraded: fewer copies or moving (undersized, recovering, peering after an OSD change…)
    down_ids = {int(o.split(".", 1)[1]) for o in view.osds.get("down", [])}
    bad = degraded = inconsistent = total = 0
    for pool in view.pools_of(name):
        actings = view.acting.get(pool, [])
        for i, s in enumerate(view.pgs.get(pool, [])):
            total += 1
            parts = set(s.split("+"))
            acting = actings[i] if i < len(actings) else []
            if parts & {"down", "incomplete"} or ("stale" in parts and acting
                                                 and set(acting) <= down_ids):
                bad += 1
            elif "active" not in parts or "stale" in parts or any(
                    any(d in part for d in DEGRADED) for part in parts):
                degraded += 1
            if "inconsistent" in parts:
                inconsistent += 1
    if bad:
        state = "faulted"
        problems.append({"severity": "critical", "device": None,
                         "message": f"{bad} of {total} placement groups down or without a "
                                    f"running OSD"})
    elif degraded:
        if state == "online":
            state = "degraded"
        problems.append({"severity": "warning", "device": None,
                         "message": f"{degraded} of {total} placement groups degraded, "
                                    f"recovering or peering"})
    if inconsistent:
        if state == "online":
            state = "degraded"
        problems.append({"severity": "critical", "device": None,
                         "message": f"{inconsistent} placement group(s) inconsistent (scrub "
                                    f"found errors: ceph pg repair)"})
    for osd in view.osds.get("down", []):
        problems.append({"severity": "warning", "device": osd, "message": f"{osd} is down"})
    for code, check in (view.checks or {}).items():
        sev = "critical" if check.get("severity") == "HEALTH_ERR" else "warning"
        msg = ((check.get("summary") or {}).get("message")) or code
        if check.get("muted"):
            continue
        problems.append({"severity": sev, "device": None, "message": f"{code}: {msg}"})
    return state, problems


def pool_row(view: View, name: str, mountpoint: str | None) -> dict[str, Any]:
    """A Pool (docs/plugins/storage-backends.md) for file system ``name``."""
    fs = view.fs[name]
    state, _ = fs_state(view, name)
    data = fs["data_pools"][0] if fs["data_pools"] else None
    meta = fs["metadata_pool"]
    du = view.usage.get(data, {}) if data is not None else {}
    mu = view.usage.get(meta, {}) if meta is not None else {}
    used = int(du.get("stored", 0)) + int(mu.get("stored", 0))
    free = du.get("max_avail")
    size_info = view.sizes.get(data, {}) if data is not None else {}
    replicas = size_info.get("size")
    return {
        "name": name, "backend": "ceph", "state": state,
        "layout": f"replicated x{replicas}" if replicas else None,
        "mountpoint": mountpoint,
        "size": used + int(free) if free is not None else None, "used": used, "free": free,
        "devices": [],
        "properties": {
            "cluster": view.fsid, "fscid": fs["id"], "replicas": replicas,
            "min_size": size_info.get("min_size"),
            "data_pool": view.sizes.get(data, {}).get("name") if data is not None else None,
            "metadata_pool": view.sizes.get(meta, {}).get("name") if meta is not None else None,
            "pg_num": sum(int(view.sizes.get(p, {}).get("pg_num") or 0)
                          for p in view.pools_of(name)),
            "mds": fs["mds"], "osds": view.osds.get("total"), "osds_up": view.osds.get("up"),
            "created": rfc3339(fs["created"]),
        },
    }


def health_row(view: View, name: str) -> dict[str, Any]:
    state, problems = fs_state(view, name)
    return {"state": state, "problems": problems, "devices": []}


def scrub_progress(pgs: Any, pools: list[int], since: float) -> dict[str, Any]:
    """How many of ``pools``' placement groups were deep-scrubbed after ``since`` (epoch s), and
    the scrub errors they report, from ``pg dump pgs`` (``pg_stats`` rows)."""
    rows = pgs.get("pg_stats", []) if isinstance(pgs, dict) else (pgs or [])
    total = done = errors = 0
    scrubbing = 0
    for r in rows:
        pool = int(str(r["pgid"]).split(".", 1)[0])
        if pool not in pools:
            continue
        total += 1
        stamp = ceph_time(r.get("last_deep_scrub_stamp"))
        if stamp is not None and stamp >= since:
            done += 1
        if "scrubbing" in str(r.get("state", "")):
            scrubbing += 1
        stat = r.get("stat_sum") or {}
        errors += int(stat.get("num_scrub_errors", 0) or 0)
    return {"total": total, "done": done, "scrubbing": scrubbing, "errors": errors}


def osd_rows(fsid: str, osd_dump: dict[str, Any], osd_df: dict[str, Any],
             osd_tree: dict[str, Any], metadata: list[dict[str, Any]],
             local_blocks: dict[int, str]) -> list[dict[str, Any]]:
    """The OSDs of a cluster (an ``OsdInfo`` each), by host then id, from ``osd dump``, ``osd
    df``, ``osd tree`` and ``osd metadata``. ``local_blocks``: OSD id → block device or file of
    the OSDs SigmaVault runs here (also known while an OSD is down)."""
    df = {int(n["id"]): n for n in osd_df.get("nodes") or [] if n.get("type") == "osd"}
    meta = {int(m["id"]): m for m in metadata or [] if "id" in m}
    host_of: dict[int, str] = {}
    for node in osd_tree.get("nodes") or []:
        if node.get("type") == "host":
            for child in node.get("children") or []:
                host_of[int(child)] = str(node.get("name"))
    rows = []
    for o in osd_dump.get("osds") or []:
        i = int(o["osd"])
        d, m = df.get(i, {}), meta.get(i, {})
        kb = d.get("kb")
        rows.append({
            "id": i, "name": f"osd.{i}", "fsid": fsid,
            "host": host_of.get(i) or m.get("hostname"),
            "up": bool(o.get("up")), "in": bool(o.get("in")),
            "device": local_blocks.get(i) or m.get("bluestore_bdev_path"),
            "devices": [x for x in str(m.get("devices") or "").split(",") if x],
            "device_class": d.get("device_class") or m.get("default_device_class"),
            "size": int(kb) * 1024 if kb else None,
            "used": int(d["kb_used"]) * 1024 if kb and "kb_used" in d else None,
            "utilization": round(float(d["utilization"]), 2) if kb and "utilization" in d
            else None,
            "pgs": d.get("pgs"), "local": i in local_blocks})
    rows.sort(key=lambda r: (r["host"] or "", r["id"]))
    return rows


RECOVERY_KEYS = ("degraded_objects", "degraded_total", "degraded_ratio", "misplaced_objects",
                 "misplaced_total", "misplaced_ratio", "unfound_objects",
                 "recovering_objects_per_sec", "recovering_bytes_per_sec")


def pg_summary(fsid: str, st: dict[str, Any]) -> dict[str, Any]:
    """A ``PgSummary`` from ``ceph status``: health, PG states with counts, recovery rates and
    the manager's progress events (recovery and rebalancing, 0..1)."""
    health = st.get("health") or {}
    pgmap = st.get("pgmap") or {}
    osd = st.get("osdmap") or {}
    osd = osd.get("osdmap", osd)  # older releases nest it
    events = st.get("progress_events") or {}
    return {
        "fsid": fsid, "health": health.get("status"),
        "checks": {k: ((v.get("summary") or {}).get("message") or k)
                   for k, v in (health.get("checks") or {}).items()},
        "osds": {"total": int(osd.get("num_osds", 0)), "up": int(osd.get("num_up_osds", 0)),
                 "in": int(osd.get("num_in_osds", 0))},
        "num_pgs": int(pgmap.get("num_pgs", 0)),
        "states": {s["state_name"]: int(s["count"]) for s in pgmap.get("pgs_by_state") or []},
        "recovery": {k: pgmap[k] for k in RECOVERY_KEYS if k in pgmap},
        "progress": [{"id": k, "message": v.get("message"), "progress": v.get("progress")}
                     for k, v in sorted(events.items())],
    }
