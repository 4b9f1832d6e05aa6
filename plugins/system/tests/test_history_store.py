"""The on-disk metrics history: rollups on a known series, retention, restarts, bad queries."""

from __future__ import annotations

import os
import stat

import pytest
from sigmavault_system.store import MetricsStore, QueryError, Tier, flatten

TIERS = [Tier(10, 3600), Tier(60, 7200), Tier(300, 86400)]
T0 = 1_800_000_000  # a multiple of 300: buckets of every tier start there
KEY = ("cpu.percent", "")


def feed(store: MetricsStore, start: int, end: int) -> None:
    """One sample a second whose value is its offset from T0; written as buckets close."""
    for t in range(start, end):
        store.add(T0 + t, {KEY: float(t), ("net.rx", "eth0"): 2.0 * t})
        store.write(store.take(T0 + t + 1))


def series(doc: dict, metric: str = "cpu.percent") -> dict:
    return next(s for s in doc["series"] if s["metric"] == metric)


def test_rollups_of_a_known_series_at_each_tier(tmp_path):
    store = MetricsStore(tmp_path / "metrics.db", TIERS).open()
    feed(store, 0, 900)
    # the 10 s tier: the mean of the ten samples 10k..10k+9
    q = store.query(T0, T0 + 59, 10, now=T0 + 900)
    assert q["tier"] == 10 and q["step"] == 10 and q["timestamps"][:2] == [T0, T0 + 10]
    assert series(q)["avg"] == [4.5, 14.5, 24.5, 34.5, 44.5, 54.5]
    assert series(q, "net.rx")["avg"][:2] == [9.0, 29.0]
    # the 60 s tier, once the 10 s tier no longer covers the start: mean/min/max of the 10 s means
    q = store.query(T0, T0 + 599, 60, now=T0 + 3600 + 100)
    assert q["tier"] == 60
    s = series(q)
    assert s["avg"] == [29.5 + 60 * i for i in range(10)]
    assert s["min"] == [4.5 + 60 * i for i in range(10)] and s["max"] == [54.5 + 60 * i for i in range(10)]
    # the 300 s tier, rolled up from the 60 s one
    q = store.query(T0, T0 + 599, None, now=T0 + 7200 + 100)
    assert q["tier"] == 300 and q["step"] == 300
    s = series(q)
    assert s["avg"] == [149.5, 449.5] and s["min"] == [4.5, 304.5] and s["max"] == [294.5, 594.5]
    # a wider step reads the coarsest tier that has it and regroups its buckets; the metrics
    # filter takes names and prefixes
    q = store.query(T0, T0 + 599, 120, ["net"], now=T0 + 900)
    assert q["tier"] == 60 and q["step"] == 120 and [s["metric"] for s in q["series"]] == ["net.rx"]
    assert q["series"][0]["avg"][0] == 2 * 59.5
    store.close()
    assert stat.S_IMODE(os.stat(tmp_path / "metrics.db").st_mode) == 0o600


def test_a_restart_in_the_middle_of_buckets_loses_no_rollup(tmp_path):
    path = tmp_path / "metrics.db"
    store = MetricsStore(path, TIERS).open()
    feed(store, 0, 455)  # stops inside a 10 s, a 60 s and a 300 s bucket
    store.close()  # writes the partial 10 s bucket 450..454
    store = MetricsStore(path, TIERS).open()
    feed(store, 455, 900)
    q = store.query(T0, T0 + 599, 300, now=T0 + 7200 + 100)
    s = series(q)
    # 450..459 is split over two writes of the same bucket; the restart's write replaces the
    # first half: that bucket's mean is 457 instead of 454.5, nothing else moves
    assert s["avg"][0] == 149.5
    assert s["avg"][1] == pytest.approx(449.5 + (457 - 454.5) / 30, abs=1e-3)
    assert s["min"] == [4.5, 304.5] and s["max"] == [294.5, 594.5]
    store.close()


def test_retention_prunes_each_tier_at_its_own_age(tmp_path):
    store = MetricsStore(tmp_path / "metrics.db", TIERS).open()
    feed(store, 0, 900)
    before = store.stats()["rows"]
    assert before == {10: 90 * 2, 60: 15 * 2, 300: 3 * 2}
    # at T0+4000 the 10 s tier (1 h) keeps only rows from T0+400 on; the others keep everything
    assert store.prune(now=T0 + 4000) == 40 * 2
    assert store.stats()["rows"] == {10: 50 * 2, 60: 30, 300: 6}
    # at T0+7500 the 60 s tier (2 h) keeps rows from T0+300 on
    store.prune(now=T0 + 7500)
    assert store.stats()["rows"] == {10: 0, 60: 10 * 2, 300: 6}
    q = store.query(T0, T0 + 899, 60, now=T0 + 7500)
    assert q["tier"] == 300  # the 60 s tier no longer covers T0
    store.close()


def test_bad_ranges_name_their_field(tmp_path):
    store = MetricsStore(tmp_path / "metrics.db", TIERS).open()
    with pytest.raises(QueryError) as e:
        store.query(T0 + 10, T0, now=T0 + 20)
    assert e.value.field == "to"
    with pytest.raises(QueryError) as e:
        store.query(T0, T0 + 3000, 1, now=T0 + 3000, max_points=100)
    assert e.value.field == "step" and "at least 40 seconds" in str(e.value)
    store.close()


def test_tiers_must_nest():
    with pytest.raises(ValueError, match="multiple"):
        MetricsStore("unused", [Tier(10, 3600), Tier(25, 7200)])
    with pytest.raises(ValueError, match="keep at least"):
        MetricsStore("unused", [Tier(10, 100), Tier(300, 7200)])


def test_flatten_keeps_the_series_the_dashboard_charts():
    m = {"cpu": {"percent": 10, "user": 6, "system": 3, "iowait": 1},
         "memory": {"used": 5, "cached": 2, "percent": 50}, "swap": {"used": 0},
         "load": [0.5, 0.4, 0.3],
         "network": [{"interface": "eth0", "rx_bytes_per_s": 100, "tx_bytes_per_s": 50}],
         "disks": [{"device": "sda", "read_bytes_per_s": 1, "write_bytes_per_s": 2, "busy_percent": None}],
         "temperatures": [{"chip": "coretemp", "label": "Package id 0", "celsius": 40.0}]}
    f = flatten(m)
    assert f[("net.rx", "eth0")] == 100 and f[("disk.write", "sda")] == 2
    assert ("disk.busy", "sda") not in f and f[("temperature", "coretemp/Package id 0")] == 40
    assert f[("load.15", "")] == 0.3 and len(f) == 11 + 2 + 2 + 1


def test_a_late_sample_does_not_replace_its_written_bucket(tmp_path):
    store = MetricsStore(tmp_path / "metrics.db", TIERS).open()
    feed(store, 0, 20)
    store.add(T0 + 5, {KEY: 1000.0})  # bucket T0..T0+9 is on disk already
    store.write(store.take(T0 + 30))
    assert store.late_samples == 1
    assert series(store.query(T0, T0 + 19, 10, now=T0 + 30))["avg"] == [4.5, 14.5]
    store.close()
