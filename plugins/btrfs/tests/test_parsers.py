"""Parsers on recorded btrfs-progs output (v6.2: recorded on this project's machines; v4-format:
reconstructed old layout, see tests/data/v4-format/README.md)."""

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


def test_filesystem_show_degraded_old_layout():
    [fs] = parsers.parse_filesystem_show(read("v4-format/filesystem_show_missing.txt"))
    assert fs["missing"] is True
    assert [(d["devid"], d["missing"]) for d in fs["devices"]] == [(1, False), (2, True)]


def test_device_stats():
    stats = parsers.parse_device_stats(read("v6.2/device_stats.txt"))
    assert set(stats) == {"/dev/loop0", "/dev/loop1"}
    assert stats["/dev/loop0"] == {"write": 0, "read": 0, "flush": 0, "corruption": 0,
                                   "generation": 0}
    degraded = parsers.parse_device_stats(read("v6.2/device_stats_degraded.txt"))
    assert "<missing disk>" in degraded


def test_filesystem_usage():
    usage = parsers.parse_filesystem_usage(read("v6.2/filesystem_usage_b.txt"))
    assert usage["size"] == 838860800 and usage["used"] == 336330752
    assert usage["free"] == 171999232 and usage["data_ratio"] == 2.0
    assert usage["multiple_profiles"] is False
    assert usage["profiles"] == {"data": ["raid1"], "metadata": ["raid1"], "system": ["raid1"]}


@pytest.mark.parametrize("name,state", [
    ("v6.2/scrub_status_R_finished.txt", "finished"),
    ("v6.2/scrub_status_R_canceled.txt", "canceled"),
    ("v6.2/scrub_status_finished.txt", "finished"),
    ("v4-format/scrub_status_R_finished.txt", "finished"),
    ("v4-format/scrub_status_R_running.txt", "running"),
])
def test_scrub_status_states(name, state):
    assert parsers.parse_scrub_status(read(name))["state"] == state


def test_scrub_status_raw_counters():
    st = parsers.parse_scrub_status(read("v6.2/scrub_status_R_canceled.txt"))
    assert st["bytes_scrubbed"] == 293044224 + 425984
    assert st["errors"] == 0 and st["started"].endswith("Z")
    old = parsers.parse_scrub_status(read("v4-format/scrub_status_R_finished.txt"))
    assert old["errors"] == 2 and old["corrected"] == 2 and old["duration"] == 7


def test_scrub_status_just_started_has_no_stats():
    st = parsers.parse_scrub_status(read("v6.2/scrub_status_R_running.txt"))
    assert st["no_stats"] is True and st["bytes_scrubbed"] == 0
    human = parsers.parse_scrub_status(read("v6.2/scrub_status_running.txt"))
    assert human["bytes_total"] == round(2.35 * 2**30) and human["percent"] == 0.0


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


def test_property_balance_replace():
    assert parsers.parse_property(read("v6.2/property_compression.txt"), "compression") == "zstd"
    assert parsers.parse_property("", "compression") is None
    assert parsers.parse_balance_status(read("v6.2/balance_status_idle.txt"))["running"] is False
    running = parsers.parse_balance_status(
        "Balance on '/mnt' is running\n3 out of about 10 chunks balanced (4 considered),  70% left\n")
    assert running == {"running": True, "paused": False, "done": 3, "total": 10,
                       "percent_left": 70.0}
    assert parsers.parse_replace_status(read("v6.2/replace_status_never.txt"))["state"] == "never"
    assert parsers.parse_replace_status(read("v6.2/replace_status_finished.txt"))["state"] == "finished"
    assert parsers.parse_replace_status("45.6% done, 0 write errs, 0 uncorr. read errs")["percent"] == 45.6


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


def test_subvolume_show():
    show = parsers.parse_subvolume_show(read("v6.2/subvolume_show.txt"))
    assert show == {"name": "media", "uuid": "014431bf-7eb2-c849-9397-aa770e22961e",
                    "parent_uuid": None, "received_uuid": None, "created": "2026-11-27T14:53:58Z",
                    "id": 256, "readonly": False}
    ro = parsers.parse_subvolume_show(read("v6.2/subvolume_show.txt").replace(
        "Flags: \t\t\t-", "Flags: \t\t\treadonly"))
    assert ro["readonly"] is True
