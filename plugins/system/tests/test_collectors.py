"""The collectors and rate maths against the kernel's own numbers."""

from __future__ import annotations

import os
import socket
import time

import psutil

import svsys_proc as proc
from sigmavault_system import collectors, rates


def test_memory_matches_meminfo():
    raw = collectors.read_sample()
    m = rates.memory(raw.memory)
    info = proc.meminfo()
    assert m["total"] == info["MemTotal"]
    assert abs(m["available"] - info["MemAvailable"]) <= 0.05 * info["MemTotal"]
    assert 0 <= m["percent"] <= 100


def test_cpu_count_and_per_core_match_proc_stat():
    raw = collectors.read_sample()
    cores = [k for k in proc.cpu_stat() if k != "cpu"]
    assert len(raw.cpu_per_core) == len(cores)


def test_loopback_counters_match_proc_net_dev():
    before = proc.net_dev()["lo"]
    raw = collectors.read_sample()
    after = proc.net_dev()["lo"]
    lo = raw.net["lo"]
    assert before["rx_bytes"] <= lo.bytes_recv <= after["rx_bytes"]
    assert before["tx_packets"] <= lo.packets_sent <= after["tx_packets"]


def test_root_filesystem_usage_matches_statvfs():
    fss = {f.mountpoint: f for f in collectors.read_filesystems()}
    assert "/" in fss
    st = os.statvfs("/")
    assert fss["/"].total == st.f_blocks * st.f_frsize
    assert abs(fss["/"].free - st.f_bavail * st.f_frsize) <= 256 * 1024 ** 2
    # bind mounts of the same filesystem are listed once
    devs = [os.stat(m).st_dev for m in fss]
    assert len(devs) == len(set(devs))


def test_disk_counters_match_diskstats():
    import re
    before = proc.diskstats()
    raw = collectors.read_sample(disk_exclude=re.compile(r"^(loop|ram)\d+$"))
    after = proc.diskstats()
    assert raw.disks, "no block device counters"
    for dev, c in raw.disks.items():
        assert not dev.startswith("loop")
        assert before[dev]["read_bytes"] <= c.read_bytes <= after[dev]["read_bytes"]
        assert before[dev]["writes"] <= c.write_count <= after[dev]["writes"]


def test_loopback_rate_counts_the_traffic_sent_between_two_samples():
    first = collectors.read_sample(with_filesystems=False)
    payload = b"x" * 60000
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 ** 2)
        for _ in range(50):
            tx.sendto(payload, rx.getsockname())
    finally:
        rx.close()
        tx.close()
    time.sleep(0.2)
    second = collectors.read_sample(with_filesystems=False)
    m = rates.compute(first, second)
    lo = next(n for n in m["network"] if n["interface"] == "lo")
    sent = 50 * len(payload)
    assert lo["tx_bytes_per_s"] * m["interval"] >= sent * 0.99
    assert lo["rx_bytes_total"] - first.net["lo"].bytes_recv >= sent


def test_cpu_percent_agrees_with_proc_stat_over_the_same_window():
    a = proc.cpu_stat()
    first = collectors.read_sample(with_filesystems=False)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:  # keep one core busy so the number is not just idle noise
        sum(range(1000))
    second = collectors.read_sample(with_filesystems=False)
    b = proc.cpu_stat()
    m = rates.compute(first, second)
    assert abs(m["cpu"]["percent"] - proc.cpu_busy_percent(a["cpu"], b["cpu"])) <= 15
    assert m["cpu"]["percent"] >= 100 / psutil.cpu_count() * 0.5  # this test's own busy loop
    for core in m["cpu"]["per_core"]:
        parts = core["user"] + core["system"] + core["iowait"] + core["idle"]
        assert 0 <= core["percent"] <= 100 and parts <= 100.5


def test_cpu_split_handles_an_empty_interval():
    t = psutil.cpu_times()
    assert rates.cpu_split(t, t)["idle"] == 100.0
