"""The Prometheus exposition parses and carries the kernel's counters."""

from __future__ import annotations

import os

from prometheus_client.parser import text_string_to_metric_families

import svsys_proc as proc
from sigmavault_system import prometheus
from sigmavault_system.sampler import Sampler


async def test_exposition_parses_and_matches_proc():
    s = Sampler(interval=1.0, fs_interval=0)
    registry = prometheus.make_registry(s)
    assert prometheus.exposition(registry).count(b"sigmavault_network") == 0  # nothing sampled yet
    before = proc.net_dev()["lo"]
    await s.tick()
    after = proc.net_dev()["lo"]
    families = {f.name: f for f in text_string_to_metric_families(
        prometheus.exposition(registry).decode())}
    rx = {x.labels["interface"]: x.value for x in families["sigmavault_network_receive_bytes"].samples
          if x.name.endswith("_total")}
    assert before["rx_bytes"] <= rx["lo"] <= after["rx_bytes"]
    mem = {x.labels["kind"]: x.value for x in families["sigmavault_memory_bytes"].samples}
    assert mem["total"] == proc.meminfo()["MemTotal"]
    cpus = {x.labels["cpu"] for x in families["sigmavault_cpu_seconds"].samples}
    assert len(cpus) == os.cpu_count()
    size = {x.labels["mountpoint"]: x.value for x in families["sigmavault_filesystem_size_bytes"].samples}
    st = os.statvfs("/")
    assert size["/"] == st.f_blocks * st.f_frsize
    rss = families["sigmavault_process_resident_memory_bytes"].samples[0].value
    assert rss > 10 * 1024 ** 2
