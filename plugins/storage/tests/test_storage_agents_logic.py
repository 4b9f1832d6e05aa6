"""The storage agents' pure logic: layouts, retention, forecasts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sigmavault_storage.agents.forecast import days_until_full, smart_risk
from sigmavault_storage.agents.layout import btrfs_usable, candidates
from sigmavault_storage.agents.retention import plan

T = 1 << 40
ZFS = {"name": "zfs", "capabilities": {"needs_devices": True, "raid_levels":
       ["stripe", "mirror", "raidz1", "raidz2", "raidz3"], "min_devices": {"mirror": 2, "raidz1": 3,
                                                                           "raidz2": 4, "raidz3": 5}}}
BTRFS = {"name": "btrfs", "capabilities": {"needs_devices": True, "raid_levels":
         ["single", "raid0", "raid1", "raid1c3", "raid10"], "min_devices": {"raid1": 2, "raid10": 4}}}
DIR = {"name": "dir", "capabilities": {"needs_devices": False, "raid_levels": []}}


def test_btrfs_unequal_disks():
    unit = 1 << 30
    assert btrfs_usable([T, T, 2 * T], "raid1", unit) == 2 * T
    assert btrfs_usable([T, 4 * T], "raid1", unit) == T          # the big disk cannot mirror itself
    assert btrfs_usable([T, T, T], "raid1c3", unit) == T
    assert btrfs_usable([T, 2 * T], "single", unit) == 3 * T


def test_zfs_candidates():
    disks = [{"name": f"d{i}", "size": T} for i in range(6)]
    got = {(c["layout"], c["note"]): c for c in candidates(disks, [ZFS, DIR])}
    assert got[("raidz2", None)]["usable"] == 4 * T and got[("raidz2", None)]["failures_tolerated"] == 2
    assert got[("raidz3", None)]["usable"] == 3 * T
    assert got[("stripe", None)]["failures_tolerated"] == 0 and got[("stripe", None)]["usable"] == 6 * T
    pairs = [c for (layout, note), c in got.items() if layout == "mirror" and "two-way" in (note or "")]
    assert pairs[0]["usable"] == 3 * T and pairs[0]["failures_tolerated"] == 1
    assert all(c["backend"] != "dir" for c in got.values())
    ranked = candidates(disks, [ZFS])
    assert ranked[0]["failures_tolerated"] == 5              # the 6-way mirror tolerates most
    assert candidates(disks[:2], [ZFS, BTRFS]) and not [
        c for c in candidates(disks[:2], [ZFS, BTRFS]) if c["layout"] in ("raidz1", "raid10")]


def test_retention_daily_weekly():
    t0 = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
    snaps = [(f"s{i}", t0 - timedelta(hours=12 * i)) for i in range(30)]   # two a day for 15 days
    kept, delete = plan(snaps, keep_last=1, daily=3, weekly=2)
    names = {k["snapshot"] for k in kept}
    assert "s0" in names and {"s0", "s2", "s4"} <= names     # newest per day for 3 days
    assert len(kept) + len(delete) == 30 and not names & set(delete)
    assert plan(snaps)[0] == []                              # no rule keeps nothing


def test_retention_hourly_and_yearly():
    t0 = datetime(2026, 11, 27, 12, 40, tzinfo=timezone.utc)
    # every 20 minutes for 3 hours: three snapshots in each hour
    snaps = [(f"h{i}", t0 - timedelta(minutes=20 * i)) for i in range(9)]
    kept, delete = plan(snaps, hourly=2)
    # the newest of 12:xx (h0: 12:40) and of 11:xx (h2: 12:00 belongs to 12:xx, so h3: 11:40)
    assert [(k["snapshot"], k["reasons"]) for k in kept] == [("h0", ["hourly"]), ("h3", ["hourly"])]
    assert set(delete) == {f"h{i}" for i in range(9)} - {"h0", "h3"}
    years = [(f"y{y}-{m}", datetime(y, m, 1, tzinfo=timezone.utc)) for y in (2023, 2024, 2025)
             for m in (1, 6, 12)]
    kept, delete = plan(years, yearly=2)
    assert [k["snapshot"] for k in kept] == ["y2025-12", "y2024-12"]
    assert len(delete) == 7 and "y2023-12" in delete
    # rules add up: a snapshot kept by two rules says so, and is kept once
    kept, _ = plan(years, keep_last=1, yearly=3, monthly=1)
    assert kept[0] == {"snapshot": "y2025-12", "time": "2025-12-01T00:00:00+00:00",
                       "reasons": ["last", "yearly", "monthly"]}
    assert [k["snapshot"] for k in kept] == ["y2025-12", "y2024-12", "y2023-12"]


def test_forecast():
    day = 86400.0
    f = days_until_full([(0, 100), (day, 200), (2 * day, 300)], 1000, 2 * day)
    assert abs(f["days_until_full"] - 7) < 1e-6 and abs(f["growth_per_day"] - 100) < 1e-6
    flat = days_until_full([(0, 100), (day, 100)], 1000, day)
    assert flat["days_until_full"] is None and flat["reason"]
    assert days_until_full([(0, 1)], 10, 0)["growth_per_day"] is None
    ok = [{"health": "PASS", "counters": {"reallocated_sectors": 0, "pending_sectors": 0}}] * 2
    assert smart_risk(ok)["risk"] == "low"
    bad = ok[:1] + [{"health": "PASS", "counters": {"reallocated_sectors": 8, "pending_sectors": 0}}]
    assert smart_risk(bad)["risk"] == "medium"
