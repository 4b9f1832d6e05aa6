"""Prometheus exposition of the sampler's latest reading (node_exporter-like names).

Counters are exported raw (Prometheus computes rates itself); the registry is private to one
daemon so that several apps in one process (tests) never collide in the global registry.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .sampler import Sampler

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SamplerCollector(Collector):
    """Reads ``sampler.latest_raw`` at scrape time; never samples the kernel itself."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler

    def collect(self) -> Iterator[Metric]:
        raw = self.sampler.latest_raw
        if raw is None:
            return
        cpu = CounterMetricFamily("sigmavault_cpu_seconds", "CPU time spent per mode",
                                  labels=["cpu", "mode"])
        for i, times in enumerate(raw.cpu_per_core):
            for mode in ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"):
                if hasattr(times, mode):
                    cpu.add_metric([str(i), mode], getattr(times, mode))
        yield cpu

        mem = GaugeMetricFamily("sigmavault_memory_bytes", "Memory by kind", labels=["kind"])
        for kind in ("total", "available", "used", "free", "buffers", "cached", "shared"):
            if hasattr(raw.memory, kind):
                mem.add_metric([kind], getattr(raw.memory, kind))
        yield mem
        swap = GaugeMetricFamily("sigmavault_swap_bytes", "Swap by kind", labels=["kind"])
        for kind in ("total", "used", "free"):
            swap.add_metric([kind], getattr(raw.swap, kind))
        yield swap
        load = GaugeMetricFamily("sigmavault_load", "Load average", labels=["period"])
        for period, value in zip(("1m", "5m", "15m"), raw.load):
            load.add_metric([period], value)
        yield load

        net = {name: CounterMetricFamily(f"sigmavault_network_{name}", help_, labels=["interface"])
               for name, help_ in (("receive_bytes", "Bytes received"),
                                   ("transmit_bytes", "Bytes sent"),
                                   ("receive_packets", "Packets received"),
                                   ("transmit_packets", "Packets sent"),
                                   ("receive_errors", "Receive errors"),
                                   ("transmit_errors", "Transmit errors"))}
        for nic, c in raw.net.items():
            net["receive_bytes"].add_metric([nic], c.bytes_recv)
            net["transmit_bytes"].add_metric([nic], c.bytes_sent)
            net["receive_packets"].add_metric([nic], c.packets_recv)
            net["transmit_packets"].add_metric([nic], c.packets_sent)
            net["receive_errors"].add_metric([nic], c.errin)
            net["transmit_errors"].add_metric([nic], c.errout)
        yield from net.values()

        disk = {name: CounterMetricFamily(f"sigmavault_disk_{name}", help_, labels=["device"])
                for name, help_ in (("read_bytes", "Bytes read"), ("written_bytes", "Bytes written"),
                                    ("reads_completed", "Reads completed"),
                                    ("writes_completed", "Writes completed"),
                                    ("io_time_seconds", "Time spent doing I/O"))}
        for dev, c in raw.disks.items():
            disk["read_bytes"].add_metric([dev], c.read_bytes)
            disk["written_bytes"].add_metric([dev], c.write_bytes)
            disk["reads_completed"].add_metric([dev], c.read_count)
            disk["writes_completed"].add_metric([dev], c.write_count)
            if hasattr(c, "busy_time"):
                disk["io_time_seconds"].add_metric([dev], c.busy_time / 1000.0)
        yield from disk.values()

        fs_size = GaugeMetricFamily("sigmavault_filesystem_size_bytes", "Filesystem size",
                                    labels=["mountpoint", "device", "fstype"])
        fs_avail = GaugeMetricFamily("sigmavault_filesystem_avail_bytes", "Filesystem free space",
                                     labels=["mountpoint", "device", "fstype"])
        for f in raw.filesystems:
            fs_size.add_metric([f.mountpoint, f.device, f.fstype], f.total)
            fs_avail.add_metric([f.mountpoint, f.device, f.fstype], f.free)
        yield fs_size
        yield fs_avail

        temp = GaugeMetricFamily("sigmavault_temperature_celsius", "Sensor temperature",
                                 labels=["chip", "sensor"])
        for chip, sensors in raw.temperatures.items():
            for i, s in enumerate(sensors):
                temp.add_metric([chip, s.label or f"temp{i + 1}"], s.current)
        yield temp


def make_registry(sampler: Sampler) -> CollectorRegistry:
    """A registry with the host metrics and the daemon's own process metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SamplerCollector(sampler))
    ProcessCollector(namespace="sigmavault", registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text exposition format of everything in ``registry``."""
    return generate_latest(registry)
