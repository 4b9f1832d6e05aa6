"""Parsers on recorded btrfs-progs output: v6.2 recorded on this project's machines, the other
versions copied from public bug reports and test suites (tests/data/SOURCES.md says where from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigmavault_btrfs import parsers

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_parse_size_units():
    assert parsers.parse_size("419430400") == 419430400
    assert parsers.parse_size("300.00MiB") == 300 * 2**20
    assert parsers.parse_size("2.35GiB") == round(2.35 * 2**30)
    assert parsers.parse_size("0.00B") == 0
    with pytest.raises(ValueError):
        parsers.parse_size("lots")


def test_filesystem_show_raw_healthy():
    [fs] = parsers.parse_filesystem_show(read("v6.2/filesystem_show_raw.txt"))
    assert fs["label"] == "rec" and fs["uuid"] == "4b06b041-8233-4ef8-85ce-e53a00747b64"
    assert fs["total_devices"] == 2 and fs["missing"] is False
    assert [d["path"] for d in fs["devices"]] == ["/dev/loop0", "/dev/loop1"]
    assert fs["devices"][0]["size"] == 419430400


def test_filesystem_show_human_units():
    [fs] = parsers.parse_filesystem_show(read("v6.2/filesystem_show.txt"))
    assert fs["devices"][0]["size"] == 400 * 2**20


def test_filesystem_show_degraded_6x():
    [fs] = parsers.parse_filesystem_show(read("v6.2/filesystem_show_degraded.txt"))
    assert fs["missing"] is True
    assert fs["devices"][1] == {"devid": 2, "size": 0, "used": 0, "path": None, "missing": True}
    assert fs["devices"][0]["missing"] is False


@pytest.mark.parametrize("name,expected", [
    # 4.x leaves missing devids out and prints "*** Some devices missing"
    ("v4.x/filesystem_show_raw_one_missing.txt", {
        "rockstor_install-test": [(1, False)], "rock-pool-2": [(1, False), (2, False)],
        "rock-pool": [(1, False), (2, False), (3, True)]}),
    ("v4.x/filesystem_show_raw_two_degraded.txt", {
        "rockstor_install-test": [(1, False)], "rock-pool-2": [(1, True), (2, False)],
        "rock-pool": [(1, False), (2, True), (3, True)]}),
    ("v4.x/filesystem_show_human_degraded.txt", {
        "rockstor_install-test": [(1, False)], "rock-pool-3": [(1, False)],
        "rock-pool-2": [(1, False), (2, True)]}),
    ("v5.17/filesystem_show.txt",
     {"nas-ssd": [(i, False) for i in (9, 11, 12, 13, 14, 15, 16, 17, 18)]}),
    ("v6.6.3/filesystem_show.txt", {"label": [(1, False)]}),
    ("v6.2/filesystem_show_degraded.txt", {"t6": [(1, False), (2, True)]}),
])
def test_filesystem_show_versions(name, expected):
    found = {fs["label"]: fs for fs in parsers.parse_filesystem_show(read(name))}
    assert {label: [(d["devid"], d["missing"]) for d in fs["devices"]]
            for label, fs in found.items()} == expected
    for fs in found.values():
        assert fs["missing"] == any(d["missing"] for d in fs["devices"])
        assert fs["total_devices"] == len(fs["devices"])


def test_filesystem_show_sizes_across_versions():
    [_, _, pool] = parsers.parse_filesystem_show(read("v4.x/filesystem_show_raw_one_missing.txt"))
    assert pool["used"] == 475136 and pool["devices"][1]["used"] == 1107296256
    assert pool["devices"][0]["path"] == "/dev/vda" and pool["devices"][2]["path"] is None
    [nas] = parsers.parse_filesystem_show(read("v5.17/filesystem_show.txt"))
    assert nas["used"] == round(517.76 * 2**30) and nas["devices"][3]["size"] == round(1.82 * 2**40)
    assert nas["devices"][0] == {"devid": 9, "size": round(894.25 * 2**30), "used": 0,
                                 "path": "/dev/sdq1", "missing": False}
    [one] = parsers.parse_filesystem_show(read("v6.6.3/filesystem_show.txt"))
    assert one["uuid"] == "bd56f0a1-b50b-49a3-846b-f3f9b6fbe5a3" and one["missing"] is False


def test_device_stats():
    stats = parsers.parse_device_stats(read("v6.2/device_stats.txt"))
    assert set(stats) == {"/dev/loop0", "/dev/loop1"}
    assert stats["/dev/loop0"] == {"write": 0, "read": 0, "flush": 0, "corruption": 0,
                                   "generation": 0}
    degraded = parsers.parse_device_stats(read("v6.2/device_stats_degraded.txt"))
    assert "<missing disk>" in degraded


@pytest.mark.parametrize("name,device,expected", [
    # recorded after a scrub repaired 64 corrupted blocks of one raid1 member (as in
    # test_btrfs_health.py)
    ("v6.2/device_stats_corruption.txt", "/dev/loop1",
     {"write": 0, "read": 0, "flush": 0, "corruption": 64, "generation": 0}),
    ("v6.1.3/device_stats.txt", "/dev/sdb1",
     {"write": 7489899, "read": 3751023, "flush": 117, "corruption": 68, "generation": 25}),
])
def test_device_stats_nonzero_counters(name, device, expected):
    stats = parsers.parse_device_stats(read(name))
    assert stats[device] == expected
    others = [v for dev, v in stats.items() if dev != device]
    assert others and all(not any(v.values()) for v in others)


GIB, MIB = 2**30, 2**20


@pytest.mark.parametrize("name,expected", [
    ("v6.2/filesystem_usage_b.txt", {
        "size": 838860800, "used": 336330752, "free": 171999232, "missing": 0, "data_ratio": 2.0,
        "logical_used": 168165376, "free_min": 171999232,
        "metadata_ratio": 2.0, "multiple_profiles": False,
        "profiles": {"data": ["raid1"], "metadata": ["raid1"], "system": ["raid1"]}}),
    ("v5.10.1/filesystem_usage.txt", {
        "size": 256 * GIB, "used": round(730.70 * MIB), "free": round(253.38 * GIB), "missing": 0,
        "data_ratio": 1.0, "metadata_ratio": 2.0, "multiple_profiles": False,
        "profiles": {"data": ["raid0"], "metadata": ["raid1"]}}),
    # mixed block groups, run unprivileged (5.13 then showed "Device missing" = size: a bug)
    ("v5.13.1/filesystem_usage_mixed_unprivileged.txt", {
        "size": round(411.35 * GIB), "used": round(31.99 * GIB), "free": round(379.16 * GIB),
        # Data+Metadata counted once: 31.99 GiB + the system block group's 12 KiB
        "logical_used": round(31.99 * GIB) + 12 * 1024,
        "missing": round(411.35 * GIB), "data_ratio": 1.0, "metadata_ratio": 1.0,
        "multiple_profiles": False,
        "profiles": {"data": ["single"], "metadata": ["single"], "system": ["single"]}}),
    # -T (table) layout: the overall figures only, no per-profile lines
    ("v5.16.2/filesystem_usage_T_degraded.txt", {
        "size": round(1.46 * GIB), "used": round(801.16 * MIB), "free": 292 * MIB,
        "logical_used": None, "free_min": 292 * MIB,
        "missing": 500 * MIB, "data_ratio": 2.0, "metadata_ratio": 2.0,
        "multiple_profiles": False, "profiles": {}}),
])
def test_filesystem_usage_versions(name, expected):
    usage = parsers.parse_filesystem_usage(read(name))
    assert {k: usage.get(k) for k in expected} == expected


@pytest.mark.parametrize("name,state,errors,corrected,duration", [
    ("v6.2/scrub_status_R_finished.txt", "finished", 0, 0, None),
    ("v6.2/scrub_status_R_canceled.txt", "canceled", 0, 0, None),
    ("v6.2/scrub_status_finished.txt", "finished", 0, 0, None),
    # recorded after a scrub repaired 64 corrupted blocks
    ("v6.2/scrub_status_R_corrected.txt", "finished", 64, 64, 0),
    ("v6.2/scrub_status_corrected.txt", "finished", 64, 64, 0),
    ("v4.x/scrub_status_R_running.txt", "running", 0, 0, 5),
    ("v4.x/scrub_status_R_finished.txt", "finished", 0, 0, 16),
    ("v4.x/scrub_status_R_interrupted.txt", "canceled", 0, 0, 9),
    ("v4.x/scrub_status_R_aborted.txt", "canceled", 0, 0, 296),
    ("v4.x/scrub_status_R_no_stats.txt", "idle", 0, 0, None),
    ("v6.2.2/scrub_status_running.txt", "running", 0, 0, 49 * 60 + 1),
    ("v6.3/scrub_status_running.txt", "running", 0, 0, 44 * 60 + 36),
    ("v6.10.1/scrub_status_csum_errors.txt", "finished", 121582377, 121582377,
     24 * 3600 + 25 * 60 + 33),
])
def test_scrub_status_versions(name, state, errors, corrected, duration):
    st = parsers.parse_scrub_status(read(name))
    assert (st["state"], st["errors"], st["corrected"]) == (state, errors, corrected)
    if duration is not None:
        assert st["duration"] == duration
    if state != "idle":
        assert st["started"] and st["started"].endswith("Z")


def test_scrub_status_raw_counters():
    st = parsers.parse_scrub_status(read("v6.2/scrub_status_R_canceled.txt"))
    assert st["bytes_scrubbed"] == 293044224 + 425984
    assert st["errors"] == 0 and st["started"].endswith("Z")
    old = parsers.parse_scrub_status(read("v4.x/scrub_status_R_running.txt"))
    assert old["bytes_scrubbed"] == 832385024 + 73646080
    assert old["counters"]["no_csum"] == 272 and old["counters"]["last_physical"] == 1392836608
    rot = parsers.parse_scrub_status(read("v6.2/scrub_status_R_corrected.txt"))
    assert rot["counters"]["csum_errors"] == 64 and rot["bytes_scrubbed"] == 16777216 + 294912
    gone = parsers.parse_scrub_status(read("v4.x/scrub_status_R_no_stats.txt"))
    assert gone["no_stats"] is True and gone["bytes_scrubbed"] == 0


def test_scrub_status_percent_and_total():
    st = parsers.parse_scrub_status(read("v6.2/scrub_status_R_running.txt"))
    assert st["no_stats"] is True and st["bytes_scrubbed"] == 0
    human = parsers.parse_scrub_status(read("v6.2/scrub_status_running.txt"))
    assert human["bytes_total"] == round(2.35 * 2**30) and human["percent"] == 0.0
    v622 = parsers.parse_scrub_status(read("v6.2.2/scrub_status_running.txt"))
    assert v622["percent"] == 4.96 and v622["bytes_total"] == round(13.55 * 2**40)
    v63 = parsers.parse_scrub_status(read("v6.3/scrub_status_running.txt"))
    assert v63["percent"] == 100.0 and v63["bytes_total"] == round(625.49 * 2**30)


def test_subvolume_list_snapshots_with_otime():
    subs = parsers.parse_subvolume_list(read("v6.2/subvolume_list_s_u_q.txt"))
    assert [s["path"] for s in subs] == [".snapshots/media/s1", ".snapshots/media/w1"]
    assert subs[0]["otime"].endswith("Z") and subs[0]["parent_uuid"]


def test_subvolume_list_plain_and_uuid_columns():
    plain = parsers.parse_subvolume_list(read("v6.2/subvolume_list.txt"))
    assert [s["id"] for s in plain] == [256, 257, 258] and plain[0]["path"] == "media"
    full = parsers.parse_subvolume_list(read("v6.2/subvolume_list_u_q_c.txt"))
    assert full[0]["parent_uuid"] is None and full[0]["uuid"]


def test_qgroup_show():
    q = parsers.parse_qgroup_show(read("v6.2/qgroup_show_raw_re.txt"))
    assert q[256]["max_referenced"] == 300 * 2**20
    assert q[257]["max_referenced"] is None and q[5]["referenced"] > 0


def test_subvolume_list_4x():
    subs = parsers.parse_subvolume_list(read("v4.x/subvolume_list.txt"))
    assert [s["id"] for s in subs] == [257, 259, 260, 261, 283, 284, 285, 792, 793, 794]
    assert subs[3]["top_level"] == 257 and subs[3]["path"].startswith("rock-ons-root/btrfs/")
    assert subs[-1] == {"id": 794, "gen": 13631, "top_level": 5, "otime": None,
                        "parent_uuid": None, "uuid": None,
                        "path": ".snapshots/sftpdata/snapshot-name"}


@pytest.mark.parametrize("name,expected", [
    ("v6.2/balance_status_idle.txt",
     {"running": False, "paused": False, "done": None, "total": None, "percent_left": None}),
    ("v6.2/balance_status_running_start.txt",
     {"running": True, "paused": False, "done": 0, "total": 7, "percent_left": 100.0}),
    ("v6.2/balance_status_running.txt",
     {"running": True, "paused": False, "done": 2, "total": 7, "percent_left": 71.0}),
    ("v4.x/balance_status_idle.txt",
     {"running": False, "paused": False, "done": None, "total": None, "percent_left": None}),
    ("v4.x/balance_status_running.txt",
     {"running": True, "paused": False, "done": 7, "total": 114, "percent_left": 94.0}),
    ("v4.x/balance_status_cancel_requested.txt",
     {"running": True, "paused": False, "done": 15, "total": 114, "percent_left": 87.0}),
    ("v4.x/balance_status_pause_requested.txt",
     {"running": True, "paused": False, "done": 3, "total": 114, "percent_left": 97.0}),
    ("v4.x/balance_status_paused.txt",
     {"running": False, "paused": True, "done": 3, "total": 114, "percent_left": 97.0}),
])
def test_balance_status_versions(name, expected):
    assert parsers.parse_balance_status(read(name)) == expected


def test_property_and_replace_status():
    assert parsers.parse_property(read("v6.2/property_compression.txt"), "compression") == "zstd"
    assert parsers.parse_property("", "compression") is None
    assert parsers.parse_replace_status(read("v6.2/replace_status_never.txt"))["state"] == "never"
    assert parsers.parse_replace_status(read("v6.2/replace_status_finished.txt"))["state"] == "finished"
    assert parsers.parse_replace_status("45.6% done, 0 write errs, 0 uncorr. read errs")["percent"] == 45.6


def test_compsize():
    sizes = parsers.parse_compsize(read("v6.2/compsize_b.txt"))
    assert sizes == {"files": 2, "disk_usage": 14163968, "uncompressed": 25190400,
                     "referenced": 25190400, "types": {
                         "none": {"disk_usage": 8388608, "uncompressed": 8388608,
                                  "referenced": 8388608},
                         "zstd": {"disk_usage": 5775360, "uncompressed": 16801792,
                                  "referenced": 16801792}}}
    assert parsers.parse_compsize(read("v6.2/compsize_no_files.txt")) is None
    assert parsers.parse_compsize(read("v6.2/compsize.txt")) is None   # human units: use -b


def test_receive_dump_incremental_changes():
    changes = {c["path"]: c for c in parsers.parse_receive_dump(read("v6.2/receive_dump_no_data.txt"))}
    assert changes["added.txt"]["change"] == "added" and changes["added.txt"]["type"] == "file"
    assert changes["newdir"]["type"] == "dir" and changes["newdir/inner.txt"]["change"] == "added"
    assert changes["link"]["type"] == "symlink"
    assert changes["doc.txt"]["change"] == "modified"          # replaced by a new file
    assert changes["a b.txt"]["change"] == "modified"          # appended in place, escaped name
    assert changes["sub/keep.txt"]["change"] == "deleted"
    assert changes["gone"] == {"path": "gone", "change": "deleted", "type": "dir", "old_path": None}
    assert changes["sub/renamed.txt"] == {"path": "sub/renamed.txt", "change": "renamed",
                                          "type": "file", "old_path": "ren.txt"}
    assert "sub" not in changes and "" not in changes          # utimes only


def test_receive_dump_full_stream_lists_everything_added():
    changes = parsers.parse_receive_dump(read("v6.2/receive_dump_full_no_data.txt"))
    assert {c["change"] for c in changes} == {"added"}
    assert {"doc.txt", "sub/keep.txt", "a b.txt"} <= {c["path"] for c in changes}


@pytest.mark.parametrize("name,expected", [
    ("v6.2/subvolume_show.txt", {
        "name": "media", "uuid": "014431bf-7eb2-c849-9397-aa770e22961e", "parent_uuid": None,
        "received_uuid": None, "created": "2026-11-27T14:53:58Z", "id": 256, "readonly": False}),
    ("v4.x/subvolume_show.txt", {
        "name": "test-share", "uuid": "80c240a2-c353-7540-bb5e-b6a71a50a02e", "parent_uuid": None,
        "received_uuid": None, "created": "2016-07-27T16:01:09Z", "id": 258, "readonly": False}),
    ("v4.1/subvolume_show.txt", {
        "name": "backup-root", "uuid": "4c791925-6637-7f49-9d94-8c1ee9ff97d4", "parent_uuid": None,
        "received_uuid": None, "created": "2015-06-20T00:21:44Z", "id": 585, "readonly": False}),
])
def test_subvolume_show_versions(name, expected):
    assert parsers.parse_subvolume_show(read(name)) == expected


def test_subvolume_show_readonly_flag():
    ro = parsers.parse_subvolume_show(read("v6.2/subvolume_show.txt").replace(
        "Flags: \t\t\t-", "Flags: \t\t\treadonly"))
    assert ro["readonly"] is True
