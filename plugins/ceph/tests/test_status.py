"""The JSON answers of a real Ceph 16.2.15 cluster (recorded in fixtures/, see SOURCES.md)
turned into pools, health and scrub progress, without a cluster."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from sigmavault_ceph import status
from sigmavault_ceph.adopt import missing_caps
from sigmavault_ceph.cli import cluster_name_of

FIX = Path(__file__).with_name("fixtures") / "pacific-16.2.15"


def load(tag: str, what: str):
    return json.loads((FIX / f"{tag}.{what}.json").read_text())


def view(tag: str, fs_dump=None) -> status.View:
    st = load(tag, "status")
    return status.View(fs=status.filesystems(fs_dump or load(tag, "fs_dump")),
                       sizes=status.pool_sizes(load(tag, "osd_dump")),
                       usage=status.pool_usage(load(tag, "df")),
                       pgs=status.pg_states(load(tag, "pg_dump_pgs_brief")),
                       acting={p: [a for _, a in r] for p, r in
                               status.pg_rows(load(tag, "pg_dump_pgs_brief")).items()},
                       osds=status.osd_counts(load(tag, "osd_dump")),
                       checks=st["health"]["checks"], health=st["health"]["status"],
                       fsid=st["fsid"])


def test_a_healthy_file_system_is_an_online_pool():
    v = view("online")
    assert list(v.fs) == ["tank"]
    row = status.pool_row(v, "tank", "/mnt/tank")
    assert row["state"] == "online" and row["backend"] == "ceph"
    assert row["layout"] == "replicated x2" and row["properties"]["replicas"] == 2
    assert row["properties"]["data_pool"] == "cephfs.tank.data"
    assert row["properties"]["metadata_pool"] == "cephfs.tank.meta"
    assert row["size"] == row["used"] + row["free"] and row["free"] > 0
    assert [m["state"] for m in row["properties"]["mds"]] == ["up:active"]
    health = status.health_row(v, "tank")
    assert health["state"] == "online"
    assert not [p for p in health["problems"] if p["severity"] == "critical"]


def test_a_down_osd_makes_the_pool_degraded_and_names_it():
    v = view("osd_down")
    assert v.osds["down"] == ["osd.1"] and v.osds["up"] == 1
    state, problems = status.fs_state(v, "tank")
    assert state == "degraded"
    assert any(p["device"] == "osd.1" for p in problems)
    assert any("placement groups degraded" in p["message"] for p in problems)
    assert not [p for p in problems if p["severity"] == "critical"]
    assert any(p["message"].startswith("OSD_DOWN") for p in problems)


def test_a_failed_file_system_is_unavailable_and_an_inactive_pg_faults():
    dump = copy.deepcopy(load("online", "fs_dump"))
    dump["filesystems"][0]["mdsmap"]["flags"] |= 1   # CEPH_MDSMAP_NOT_JOINABLE (fs fail)
    dump["filesystems"][0]["mdsmap"]["info"] = {}
    v = view("online", dump)
    assert not v.fs["tank"]["joinable"]
    assert status.fs_state(v, "tank")[0] == "unavailable"
    v = view("online")
    pool = v.pools_of("tank")[1]
    v.pgs[pool][0] = "down+peering"
    state, problems = status.fs_state(v, "tank")
    assert state == "faulted" and problems[0]["severity"] == "critical"
    # stale while an acting OSD still runs: peering will move it (degraded); with every acting
    # OSD down the data is out of reach (faulted)
    v = view("online")
    v.pgs[pool][0] = "stale+active+clean"
    v.acting[pool][0] = [0, 1]
    v.osds = {**v.osds, "down": ["osd.1"]}
    assert status.fs_state(v, "tank")[0] == "degraded"
    v.acting[pool][0] = [1]
    assert status.fs_state(v, "tank")[0] == "faulted"
    v = view("online")
    v.pgs[pool][0] = "peering"
    assert status.fs_state(v, "tank")[0] == "degraded"


def test_scrub_progress_counts_pgs_scrubbed_since_the_start():
    rows = {"pg_stats": [
        {"pgid": "2.0", "state": "active+clean", "last_deep_scrub_stamp": "2026-12-06T18:43:07.862357+0000",
         "stat_sum": {"num_scrub_errors": 0}},
        {"pgid": "2.1", "state": "active+clean+scrubbing+deep",
         "last_deep_scrub_stamp": "2026-12-06T18:41:50.583918+0000", "stat_sum": {}},
        {"pgid": "3.0", "state": "active+clean+inconsistent",
         "last_deep_scrub_stamp": "2026-12-06T18:43:08.000000+0000",
         "stat_sum": {"num_scrub_errors": 2}},
        {"pgid": "9.0", "state": "active+clean", "last_deep_scrub_stamp": "2026-12-06T18:50:00.0+0000"},
    ]}
    since = status.ceph_time("2026-12-06T18:43:00.000000+0000")
    prog = status.scrub_progress(rows, [2, 3], since)
    assert prog == {"total": 3, "done": 2, "scrubbing": 1, "errors": 2}


@pytest.mark.parametrize("text, expected", [
    ("2026-12-06T18:43:07.862357+0000", "2026-12-06T18:43:07Z"),
    ("2026-12-06 18:41:51", "2026-12-06T18:41:51Z"),
    ("2026-12-06 18:42:00.110047", "2026-12-06T18:42:00Z"),
])
def test_ceph_times(text, expected):
    assert status.rfc3339(status.ceph_time(text)) == expected


def test_caps_and_cluster_names():
    admin = {"mon": "allow *", "osd": "allow *", "mds": "allow *", "mgr": "allow *"}
    assert missing_caps(admin) == []
    weak = missing_caps({"mon": "allow r", "osd": "allow r"})
    assert [w.split()[0] for w in weak] == ["mon", "mgr", "osd", "mds"]
    assert "has 'allow r'" in weak[0]
    assert cluster_name_of("/etc/ceph/ceph.conf") == "ceph"
    assert cluster_name_of("/srv/x/backup.conf") == "backup"
    assert cluster_name_of("/srv/x/config") == "ceph"


def osds(tag: str, local: dict[int, str] | None = None) -> list[dict]:
    return status.osd_rows(load(tag, "status")["fsid"], load(tag, "osd_dump"), load(tag, "osd_df"),
                           load(tag, "osd_tree"), load(tag, "osd_metadata"), local or {})


def test_osds_by_host_with_state_device_and_usage():
    rows = osds("down", {1: "/dev/loop7"})
    assert [(r["name"], r["host"], r["up"], r["in"]) for r in rows] == [
        ("osd.0", "vm", True, True), ("osd.1", "vm", False, True)]
    assert rows[0]["size"] == 3 << 30 and 0 < rows[0]["used"] < rows[0]["size"]
    assert rows[0]["device"].endswith("/osd/h7r-0/block") and not rows[0]["local"]
    assert rows[1]["device"] == "/dev/loop7" and rows[1]["local"]   # known here while down
    assert {r["fsid"] for r in rows} == {load("down", "status")["fsid"]}


def test_pg_states_and_recovery_from_status():
    s = status.pg_summary("f", load("recovering", "status"))
    assert s["health"] == "HEALTH_WARN" and "PG_DEGRADED" in s["checks"]
    assert s["osds"] == {"total": 2, "up": 2, "in": 2}
    assert sum(s["states"].values()) == s["num_pgs"] == 17
    assert any("recovering" in k for k in s["states"])
    r = s["recovery"]
    assert r["degraded_objects"] <= r["degraded_total"] and r["recovering_bytes_per_sec"] > 0
    down = status.pg_summary("f", load("down", "status"))
    assert down["osds"]["up"] == 1 and "OSD_DOWN" in down["checks"]
    assert "recovering_bytes_per_sec" not in down["recovery"]
