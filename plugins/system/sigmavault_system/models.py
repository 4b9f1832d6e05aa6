"""Request, response and event schemas of the system plugin."""

from __future__ import annotations

from pydantic import BaseModel, Field


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


class MetricsHistory(BaseModel):
    interval: float = Field(description="configured sampling interval in seconds")
    capacity: int = Field(description="how many samples the history keeps")
    samples: list[Metrics]


class HistoryQuery(BaseModel):
    seconds: float | None = Field(None, gt=0, description="only samples from the last N seconds")
    step: int = Field(1, ge=1, le=3600, description="keep every Nth sample (downsampling)")


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
