"""Parsers against recorded zfs-fuse output and hand-written OpenZFS 2.x samples (see fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigmavault.commands import Result
from sigmavault_zfs.cli import detect_from
from sigmavault_zfs.diffparse import parse_diff
from sigmavault_zfs.listing import (parse_get, parse_import_list, parse_list, parse_list_as_get,
                                    parse_pool_list)
from sigmavault_zfs.model import health_dict, pool_dict, scrub_dict
from sigmavault_zfs.status import layout_of, leaves, parse_scan, parse_status, parse_status_json
from sigmavault_zfs.units import parse_count, parse_duration, parse_ratio, parse_size

FUSE = Path(__file__).parent / "fixtures" / "zfsfuse"
OZ = Path(__file__).parent / "fixtures" / "openzfs"


def one(path: Path) -> dict:
    pools = parse_status(path.read_text())
    assert len(pools) == 1
    return pools[0]


@pytest.mark.parametrize("text,expected", [
    ("0", 0), ("512", 512), ("0B", 0), ("432K", 432 * 1024), ("90.7M", round(90.7 * 2**20)),
    ("1016M", 1016 * 2**20), ("1.27K", 1300), ("11.0M", 11 * 2**20), ("4.56G", round(4.56 * 2**30)),
    ("1.50T", round(1.5 * 2**40)), ("52428800", 52428800), ("1,5G", round(1.5 * 2**30)),
])
def test_sizes_with_units_are_parsed_exactly(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_size_edge_cases() -> None:
    assert parse_size("-") is None and parse_size("none") is None
    with pytest.raises(ValueError):
        parse_size("12Q")
    assert parse_count("1.27K") == 1300 and parse_count("-") == 0
    assert parse_ratio("1.89x") == 1.89 and parse_ratio("-") is None
    assert parse_duration("0h0m") == 0 and parse_duration("1h23m") == 4980
    assert parse_duration("00:01:02") == 62 and parse_duration("1 days 00:00:05") == 86405


def test_generation_detection() -> None:
    fuse = detect_from(Result(["zfs", "version"], 2, "", (FUSE / "zfs_version.stderr").read_text(), 0.0))
    assert fuse.name == "zfs-fuse" and not fuse.parsable and not fuse.json and not fuse.diff
    oz = detect_from(Result(["zfs", "version"], 0, (OZ / "WRITTEN_zfs_version.txt").read_text(), "", 0.0))
    assert oz.name == "openzfs" and oz.version == "2.2.4" and oz.parsable and not oz.json
    oz23 = detect_from(Result(["zfs", "version"], 0, (OZ / "WRITTEN_zfs_version_2.3.txt").read_text(), "", 0.0))
    assert oz23.json and oz23.diff and oz23.ctldir


# --- zfs-fuse (recorded) ---------------------------------------------------------------------

def test_fuse_mirror_with_checksum_errors_repaired() -> None:
    pool = one(FUSE / "zpool_status_cksum_repaired.txt")
    assert pool["name"] == "svtest" and pool["state"] == "ONLINE"
    assert layout_of(pool["vdevs"]) == "mirror"
    a, b = leaves(pool["vdevs"])
    assert (a["path"], a["checksum"]) == ("/tmp/zt/a.img", 0)
    assert (b["path"], b["checksum"], b["note"]) == ("/tmp/zt/b.img", 1300, "41.0M repaired")
    assert pool["status"].startswith("One or more devices has experienced an unrecoverable error.")
    assert pool["scan"]["function"] == "scrub" and pool["scan"]["state"] == "finished"
    assert pool["scan"]["errors"] == 0 and pool["scan"]["percent"] == 100.0
    health = health_dict(pool)
    assert health["state"] == "online"
    assert any("1300 checksum errors" in p["message"] for p in health["problems"])
    scrub = scrub_dict(pool["scan"], pool)
    assert scrub["state"] == "finished" and scrub["details"]["checksum_errors"] == 1300
    assert scrub["details"]["repaired_devices"] == ["/tmp/zt/b.img"]


def test_fuse_topologies() -> None:
    assert layout_of(one(FUSE / "zpool_status_stripe.txt")["vdevs"]) == "stripe"
    for level in ("raidz2", "raidz3"):
        pool = one(FUSE / f"zpool_status_{level}.txt")
        assert layout_of(pool["vdevs"]) == level
        assert len(leaves(pool["vdevs"])) == int(level[-1]) + 2
    pool = one(FUSE / "zpool_status_raidz1_log_spare.txt")
    assert layout_of(pool["vdevs"]) == "raidz1" and len(pool["vdevs"][0]["children"]) == 3
    assert [v["path"] for v in pool["logs"]] == ["/tmp/zt/f.img"]
    assert [(v["path"], v["state"]) for v in pool["spares"]] == [("/tmp/zt/h.img", "AVAIL")]
    assert pool["scan"]["state"] == "none"


def test_fuse_degraded_and_resilvered() -> None:
    pool = one(FUSE / "zpool_status_degraded_offline.txt")
    assert pool["state"] == "DEGRADED" and pool["vdevs"][0]["state"] == "DEGRADED"
    health = health_dict(pool)
    assert health["state"] == "degraded"
    assert [d["state"] for d in health["devices"]] == ["online", "removed"]
    assert any(p["device"] == "/tmp/zt/b.img" and "OFFLINE" in p["message"] for p in health["problems"])
    pool = one(FUSE / "zpool_status_3way_resilvered.txt")
    assert len(leaves(pool["vdevs"])) == 3 and pool["scan"]["function"] == "resilver"


def test_fuse_scrub_in_progress() -> None:
    pool = one(FUSE / "zpool_status_scrub_in_progress.txt")
    scan = pool["scan"]
    assert scan["state"] == "running" and scan["function"] == "scrub"
    assert scan["percent"] == 36.13 and scan["eta"] == 0 and scan["elapsed"] == 0
    assert scrub_dict(scan, pool)["state"] == "running"


def test_fuse_lists() -> None:
    rows = parse_pool_list((FUSE / "zpool_list_H_o.txt").read_text(),
                           ("name", "size", "allocated", "free", "capacity", "dedupratio",
                            "health", "altroot", "guid"))
    assert rows[0]["name"] == "svraid" and rows[0]["size"] == 370 * 2**20
    assert rows[0]["allocated"] == 936 * 1024 and rows[0]["capacity"] == 0.0
    assert rows[0]["altroot"] is None and rows[1]["guid"] == "17428198271540902064"
    props = parse_get((FUSE / "zfs_get_Hp.txt").read_text())
    assert props["svtest/data"]["quota"] == ("52428800", "local")
    assert props["svtest/data"]["compressratio"][0] == "1.89x"
    assert props["svtest/data/sub"]["compression"] == ("gzip", "inherited from svtest/data")
    assert props["svtest/data@s1"]["userrefs"][0] == "1"
    assert parse_import_list((FUSE / "zpool_import_list.txt").read_text()) == [
        {"name": "svtest", "id": "17428198271540902064", "state": "ONLINE"}]


def test_fuse_pool_dict() -> None:
    status = one(FUSE / "zpool_status_cksum_repaired.txt")
    row = {"name": "svtest", "size": 123 * 2**20, "allocated": 52428800, "free": 70 * 2**20,
           "health": "ONLINE", "altroot": None, "guid": "1"}
    pool = pool_dict(row, status, "/svtest")
    assert pool["state"] == "online" and pool["layout"] == "mirror" and pool["backend"] == "zfs"
    assert pool["devices"][1]["errors"] == {"read": 0, "write": 0, "checksum": 1300}
    assert pool["properties"]["topology"]["vdevs"][0]["type"] == "mirror"


# --- OpenZFS 2.x (written from documented formats) -------------------------------------------

def test_openzfs_scrub_running() -> None:
    pool = one(OZ / "WRITTEN_zpool_status_P_scrub_running.txt")
    scan = pool["scan"]
    assert scan["state"] == "running" and scan["function"] == "scrub"
    assert scan["percent"] == 17.39 and scan["eta"] == 13
    assert scan["bytes_total"] == round(4.56 * 2**30) and scan["bytes_issued"] == 812 * 2**20
    assert scan["started"] is not None
    assert scrub_dict(scan, pool)["bytes_scrubbed"] == 812 * 2**20


def test_openzfs_raidz2_degraded_with_classes() -> None:
    pool = one(OZ / "WRITTEN_zpool_status_P_raidz2_degraded_log_cache_spare.txt")
    assert layout_of(pool["vdevs"]) == "raidz2"
    data = leaves(pool["vdevs"])
    assert [d["checksum"] for d in data] == [0, 12, 0, 0]
    missing = data[3]
    assert missing["state"] == "UNAVAIL" and missing["path"] == "/dev/sdd"
    assert missing["note"] == "was /dev/sdd"
    assert pool["logs"][0]["type"] == "mirror" and len(pool["logs"][0]["children"]) == 2
    assert [v["path"] for v in pool["cache"]] == ["/dev/nvme0n1p2"]
    assert pool["spares"][0]["state"] == "AVAIL"
    assert pool["scan"]["repaired"] == round(1.5 * 2**20) and pool["scan"]["elapsed"] == 62
    health = health_dict(pool)
    assert health["state"] == "degraded"
    assert any(p["severity"] == "critical" and "UNAVAIL" in p["message"] for p in health["problems"])


def test_openzfs_resilver_with_replacing_vdev() -> None:
    pool = one(OZ / "WRITTEN_zpool_status_P_resilver.txt")
    assert pool["scan"]["function"] == "resilver" and pool["scan"]["percent"] == 25.0
    replacing = pool["vdevs"][0]["children"][1]
    assert replacing["type"] == "replacing" and len(replacing["children"]) == 2
    assert replacing["children"][1]["note"] == "(resilvering)"


def test_openzfs_json_status() -> None:
    doc = json.loads((OZ / "WRITTEN_zpool_status_j_json_int.json").read_text())
    pool = parse_status_json(doc)[0]
    assert pool["name"] == "tank" and layout_of(pool["vdevs"]) == "mirror"
    assert [d["checksum"] for d in leaves(pool["vdevs"])] == [0, 1300]
    assert pool["logs"][0]["path"] == "/dev/loop5" and pool["spares"][0]["state"] == "AVAIL"
    assert pool["scan"]["state"] == "finished" and pool["scan"]["repaired"] == 43003904
    assert pool["scan"]["started"] == "2026-11-27T13:49:51Z"
    text_like = one(FUSE / "zpool_status_cksum_repaired.txt")
    assert set(pool) == set(text_like)


def test_openzfs_lists() -> None:
    rows = parse_pool_list((OZ / "WRITTEN_zpool_list_Hp.txt").read_text())
    assert rows[0]["size"] == 4227858432 and rows[1]["altroot"] == "/mnt"


def test_openzfs_diff() -> None:
    changes = parse_diff((OZ / "WRITTEN_zfs_diff_HF.txt").read_text(), "/tank/data")
    assert {"path": "old.txt", "change": "deleted", "type": "file", "old_path": None} in changes
    assert {"path": "b.txt", "change": "renamed", "type": "file", "old_path": "a.txt"} in changes
    assert {"path": "dir with space", "change": "added", "type": "dir", "old_path": None} in changes
    assert {"path": "link", "change": "added", "type": "symlink", "old_path": None} in changes
    assert not any(c["path"] == "" for c in changes)
    doc = [c for c in changes if c["path"] == "doc.txt"]
    assert doc == [{"path": "doc.txt", "change": "modified", "type": "file", "old_path": None}]


def test_scan_lines_of_both_generations() -> None:
    assert parse_scan("none requested")["state"] == "none"
    assert parse_scan("scrub stopped after 0h2m with 0 errors on Fri Nov 27 14:52:17 2026")["state"] == "canceled"
    assert parse_scan("scrub canceled on Fri Nov 27 14:52:17 2026")["state"] == "canceled"
    old = parse_scan("scrub in progress since Thu Aug 17 10:25:48 2017\n"
                     "    9.12T scanned out of 9.48T at 1.90M/s, 55h33m to go\n    0 repaired, 96.19% done")
    assert old["percent"] == 96.19 and old["bytes_total"] == round(9.48 * 2**40)
    res = parse_scan("resilvered 51.7M in 00:00:01 with 0 errors on Fri Nov 27 14:53:08 2026")
    assert res["function"] == "resilver" and res["repaired"] == round(51.7 * 2**20)


def test_fuse_zfs_list_and_cache_vdev() -> None:
    rows = parse_list((FUSE / "zfs_list_H_o.txt").read_text(),
                      ("name", "type", "used", "available", "referenced", "mountpoint", "compressratio"))
    assert [r["name"] for r in rows] == ["svtest", "svtest/data", "svtest/data/sub"]
    assert parse_size(rows[1]["used"]) == round(10.3 * 2**20) and rows[1]["compressratio"] == "1.89x"
    pool = one(FUSE / "zpool_status_stripe_cache_loop.txt")
    assert [v["path"] for v in pool["vdevs"]] == ["/dev/loop0"]
    assert [(v["path"], v["type"]) for v in pool["cache"]] == [("/dev/loop1", "disk")]


def test_openzfs_snapshot_listing() -> None:
    cols = ("name", "creation", "used", "referenced", "userrefs")
    props = parse_list_as_get((OZ / "WRITTEN_zfs_list_Hp_snapshots.txt").read_text(), cols)
    from sigmavault_zfs.model import snapshot_dict
    snaps = [snapshot_dict("tank", "data", k, v, None) for k, v in props.items()]
    assert [s["name"] for s in snaps] == ["daily-1", "daily-2"]
    assert snaps[0]["created"] == "2026-11-27T14:03:11Z" and snaps[0]["used"] == 90112
    assert snaps[1]["properties"]["holds"] == 1


def test_fuse_pool_whose_vdev_vanished() -> None:
    pool = one(FUSE / "zpool_status_unavail_missing_vdev.txt")
    assert pool["state"] == "UNAVAIL"
    [leaf] = leaves(pool["vdevs"])
    assert (leaf["path"], leaf["state"], leaf["note"]) == ("/tmp/zt/bench.vdev", "UNAVAIL", "cannot open")
    health = health_dict(pool)
    assert health["state"] == "unavailable"
    assert [p["severity"] for p in health["problems"]] == ["critical", "critical"]
    [row] = parse_pool_list((FUSE / "zpool_list_H_faulted.txt").read_text())
    assert row["health"] == "FAULTED" and row["size"] is None
    assert pool_dict(row, pool, None)["state"] == "faulted"
