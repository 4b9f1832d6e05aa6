"""Request, response and event schemas of the system plugin."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class CpuCore(BaseModel):
    core: int
    percent: float = Field(description="busy share of this core since the previous sample, 0-100")
    user: float
    system: float
    iowait: float
    idle: float


class CpuMetrics(BaseModel):
    percent: float = Field(description="busy share of all cores, 0-100")
    user: float
    system: float
    iowait: float
    idle: float
    count: int
    per_core: list[CpuCore]


class MemoryMetrics(BaseModel):
    total: int
    available: int
    used: int
    free: int
    percent: float
    buffers: int = 0
    cached: int = 0
    shared: int = 0
    active: int = 0
    inactive: int = 0


class SwapMetrics(BaseModel):
    total: int
    used: int
    free: int
    percent: float


class NetRates(BaseModel):
    interface: str
    rx_bytes_per_s: float
    tx_bytes_per_s: float
    rx_packets_per_s: float
    tx_packets_per_s: float
    rx_errors_per_s: float
    tx_errors_per_s: float
    rx_drops_per_s: float
    tx_drops_per_s: float
    rx_bytes_total: int
    tx_bytes_total: int


class DiskRates(BaseModel):
    device: str
    read_bytes_per_s: float
    write_bytes_per_s: float
    reads_per_s: float
    writes_per_s: float
    read_latency_ms: float | None = Field(description="mean time per read completed in the interval")
    write_latency_ms: float | None
    busy_percent: float | None = Field(description="share of the interval the device had I/O in flight")


class Temperature(BaseModel):
    chip: str
    label: str
    celsius: float
    high: float | None = None
    critical: float | None = None


class FilesystemUsage(BaseModel):
    mountpoint: str
    device: str
    fstype: str
    total: int
    used: int
    free: int
    percent: float


class Metrics(BaseModel):
    """One sample: gauges plus rates computed from the delta to the previous sample."""

    ts: float = Field(description="sample time, seconds since the epoch")
    interval: float = Field(description="seconds between this sample and the one its rates come from")
    cpu: CpuMetrics
    memory: MemoryMetrics
    swap: SwapMetrics
    load: list[float]
    network: list[NetRates]
    disks: list[DiskRates]
    temperatures: list[Temperature]
    filesystems: list[FilesystemUsage]


class HistorySeries(BaseModel):
    metric: str = Field(description="cpu.percent, cpu.user, cpu.system, cpu.iowait, memory.used, "
                        "memory.cached, memory.percent, swap.used, load.1, load.5, load.15, net.rx, "
                        "net.tx, disk.read, disk.write, disk.busy, temperature, pool.used, pool.size")
    label: str = Field(description="interface, device, pool or chip/sensor; empty for host-wide metrics")
    avg: list[float | None] = Field(description="mean per bucket, aligned with timestamps (null: no data)")
    min: list[float | None]
    max: list[float | None]


class MetricsHistory(BaseModel):
    """Without ``from``: the live in-memory samples. With ``from``: aligned series from disk."""

    model_config = ConfigDict(populate_by_name=True)

    interval: float = Field(description="configured sampling interval in seconds")
    capacity: int = Field(description="how many samples the in-memory history keeps")
    samples: list[Metrics] = Field(default_factory=list,
                                   description="in-memory samples (empty when from is given)")
    from_: float | None = Field(None, alias="from", description="start of the first bucket")
    to: float | None = Field(None, description="end of the range asked for")
    step: int | None = Field(None, description="seconds per bucket")
    tier: int | None = Field(None, description="step of the stored tier the buckets come from")
    timestamps: list[float] | None = Field(None, description="start of each bucket")
    series: list[HistorySeries] | None = None


class HistoryQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: float | None = Field(None, alias="from", description=(
        "start of the range, seconds since the epoch (0 or less: relative to now, -3600 = an hour "
        "ago); reads the on-disk history instead of the in-memory samples"))
    to: float | None = Field(None, description="end of the range (default now; 0 or less: relative "
                             "to now); needs from")
    seconds: float | None = Field(None, gt=0, description="in-memory only: the last N seconds")
    step: int | None = Field(None, ge=1, le=366 * 86400, description=(
        "without from: keep every Nth in-memory sample (default 1); with from: seconds per bucket "
        "(rounded up to the tier's step; default about 400 buckets)"))
    metrics: str | None = Field(None, pattern=r"^[a-z0-9_.]+(,[a-z0-9_.]+)*$", description=(
        "with from: comma-separated metric names or prefixes (cpu, net.rx …); default all"))

    @field_validator("from_")
    @classmethod
    def _from(cls, value: float | None) -> float | None:
        if value is None:
            return None
        now = time.time()
        value = now + value if value <= 0 else value
        if value > now + 60:
            raise ValueError("is in the future")
        return value

    @field_validator("to")
    @classmethod
    def _to(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        start = info.data.get("from_")
        if start is None:
            raise ValueError("needs from")
        value = time.time() + value if value <= 0 else value
        if value <= start:
            raise ValueError("must be later than from")
        return value

    @field_validator("seconds")
    @classmethod
    def _seconds(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("from_") is not None:
            raise ValueError("is for the in-memory history; give from and to instead")
        return value

    @field_validator("step")
    @classmethod
    def _step(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and value > 3600 and info.data.get("from_") is None:
            raise ValueError("without from, step counts samples and is at most 3600")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("from_") is None:
            raise ValueError("needs from (the in-memory samples are whole documents)")
        return value


class Status(BaseModel):
    hostname: str
    os: str
    kernel: str
    arch: str
    boot_time: float
    uptime: float
    time: float
    cpu_count: int
    cpu_percent: float
    memory: MemoryMetrics
    swap: SwapMetrics
    load: list[float]
    sampler_interval: float


class Address(BaseModel):
    family: str = Field(description="inet or inet6")
    address: str
    prefixlen: int
    scope: str
    broadcast: str | None = None


class Interface(BaseModel):
    index: int
    name: str
    kind: str = Field(description="link kind from netlink: veth, bridge, wireguard, vlan, bond, "
                                  "loopback, device (physical) …")
    mac: str | None
    mtu: int
    state: str = Field(description="operational state: up, down, unknown, dormant …")
    admin_up: bool
    carrier: bool
    speed_mbps: int | None = Field(description="link speed when the driver reports it")
    peer_index: int | None = Field(None, description="veth peer / lower device index (IFLA_LINK)")
    master: str | None = Field(None, description="bridge or bond this interface is enslaved to")
    addresses: list[Address]
    rx_bytes: int
    tx_bytes: int


class InterfacesQuery(BaseModel):
    netns: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                              description="read a named network namespace (ip netns) instead of the host's")


class ServiceState(BaseModel):
    name: str
    method: str = Field(description="systemd or process")
    active: bool
    state: str = Field(description="systemd ActiveState/SubState or running/stopped")
    unit: str | None = None
    description: str | None = None
    pids: list[int] = Field(default_factory=list)
    since: float | None = Field(None, description="start time of the oldest matching process")


class AlertOut(BaseModel):
    id: str
    severity: str
    message: str
    value: float
    threshold: float
    raised_at: float
