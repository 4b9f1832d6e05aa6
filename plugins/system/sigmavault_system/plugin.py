"""Hook implementations of the system plugin (entry point ``sigmavault: system``)."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from sigmavault import hookimpl
from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent

from . import alerts, interfaces, prometheus, services, status
from .config import SystemConfig
from .models import (HistoryQuery, Interface, InterfacesQuery, Metrics, MetricsHistory,
                     ServiceState, Status)
from .pulse import PulseParams
from .sampler import Sampler

log = logging.getLogger("sigmavault.system")


class SystemState:
    """Everything the plugin keeps for one daemon: its config, sampler and Prometheus registry."""

    def __init__(self, config: SystemConfig) -> None:
        self.config = config
        self.sampler = Sampler(config.interval, config.history_seconds, config.fs_interval,
                               config.disk_exclude, config.net_exclude)
        self.registry = prometheus.make_registry(self.sampler)
        self.status = status.EncodedStatus()


_STATES: "weakref.WeakKeyDictionary[Any, SystemState]" = weakref.WeakKeyDictionary()


def state_of(app: Any) -> SystemState:
    """The plugin state of ``app``, created on first use."""
    st = _STATES.get(app)
    if st is None:
        st = _STATES[app] = SystemState(app.config.section("system"))
    return st


class AlertOut(BaseModel):
    id: str
    severity: str
    message: str
    value: float
    threshold: float
    raised_at: float


# --- hooks -----------------------------------------------------------------------------------------


@hookimpl
def register_config(register: Any) -> None:
    register("system", SystemConfig)


@hookimpl
def register_migrations(register: Any) -> None:
    register("system", alerts.MIGRATIONS)


@hookimpl
def register_events(register: Any) -> None:
    register("system.metrics", Metrics,
             "one metrics sample (CPU, memory, network/disk rates, temperatures, filesystems), "
             "published every sampling interval while someone subscribes")


@hookimpl
def register_ui_pages(register: Any) -> None:
    register(id="system", title="System", path="/system", icon="activity", section="main")
    register(id="system-network", title="Network", path="/system/network", icon="network",
             section="main")


@hookimpl
def register_agents(register: Any) -> None:
    register(Agent(
        name="PULSE", tier="core", specialty="health heartbeat", params_model=PulseParams,
        run=run_pulse, concurrency=1, timeout=60.0,
        description="sample CPU, memory, filesystem fill and temperatures; raise and clear "
                    "`alert` events on thresholds (fields not given use the [system.pulse] config)",
        tags=["system", "alerts"]))


@hookimpl
def startup(app: Any) -> None:
    st = state_of(app)

    def publish(metrics: dict[str, Any]) -> None:
        if app.events.has_subscribers("system.metrics"):
            app.events.publish("system.metrics", metrics)

    st.sampler.add_listener(publish)
    app.spawn(st.sampler.run())
    if st.config.pulse_interval > 0:
        app.spawn(_heartbeat(app, st))


async def _heartbeat(app: Any, st: SystemState) -> None:
    """PULSE on a timer, in-process (no job per beat): alerts change only on transitions."""
    while True:
        await asyncio.sleep(st.config.pulse_interval)
        if st.sampler.latest is None:
            continue
        try:
            p = st.config.pulse
            alerts.check_thresholds(app, st.sampler.window(p.window_seconds), p)
        except Exception:
            log.exception("PULSE heartbeat failed")


async def run_pulse(ctx: Any, params: PulseParams) -> dict[str, Any]:
    """Agent PULSE: check the thresholds against the recent samples; publish alert changes."""
    st = state_of(ctx.app)
    configured = st.config.pulse
    effective = configured.model_copy(update={k: getattr(params, k) for k in params.model_fields_set})
    ctx.progress(10, "waiting for a metrics sample")
    try:
        await st.sampler.current()
    except asyncio.TimeoutError:
        raise APIError(503, "sampler_unavailable", "no metrics sample is available yet") from None
    samples = st.sampler.window(effective.window_seconds)
    ctx.progress(60, f"checking {len(samples)} samples")
    result = alerts.check_thresholds(ctx.app, samples, effective)
    result["samples"] = len(samples)
    result["thresholds"] = effective.model_dump()
    return result


@hookimpl
def register_routes(app: Any) -> None:
    st = state_of(app)

    @app.api.get("/system/status", response=Status, tags=["system"])
    async def system_status(request: web.Request) -> dict[str, Any]:
        """Hostname, OS and kernel, uptime, CPU %, memory, swap, load averages and time."""
        body = st.status.body(await _current(st), st.sampler.interval)
        return web.Response(body=body, content_type="application/json")

    @app.api.get("/system/metrics", response=Metrics, tags=["system"])
    async def system_metrics(request: web.Request) -> dict[str, Any]:
        """The latest sample: per-core CPU, memory, network and disk rates, temperatures, filesystems."""
        return await _current(st)

    @app.api.get("/system/metrics/history", response=MetricsHistory, query=HistoryQuery,
                 tags=["system"])
    async def system_history(request: web.Request, query: HistoryQuery) -> dict[str, Any]:
        """The in-memory history of samples (oldest first), optionally a window and downsampled."""
        # Samples are stored as the JSON of validated metrics: splice them, don't re-encode.
        head = json.dumps({"interval": st.sampler.interval, "capacity": st.sampler.capacity})
        body = b"".join((head[:-1].encode(), b',"samples":[',
                         b",".join(st.sampler.window_json(query.seconds, query.step)), b"]}"))
        return web.Response(body=body, content_type="application/json")

    @app.api.get("/system/network/interfaces", response=list[Interface], query=InterfacesQuery,
                 tags=["system"])
    async def system_interfaces(request: web.Request, query: InterfacesQuery) -> list[dict[str, Any]]:
        """Network interfaces over netlink; ``?netns=NAME`` reads a named namespace (ip netns)."""
        return await interfaces.list_interfaces(query.netns)

    @app.api.get("/system/services", response=list[ServiceState], tags=["system"])
    async def system_services(request: web.Request) -> list[dict[str, Any]]:
        """State of the configured services: systemd units when systemd runs, else processes."""
        return await services.service_states(st.config.services)

    @app.api.get("/system/alerts", response=list[AlertOut], tags=["system"])
    async def system_alerts(request: web.Request) -> list[dict[str, Any]]:
        """Alerts PULSE has raised and not yet cleared."""
        return list(alerts.active_alerts(app.db).values())

    async def system_prometheus(request: web.Request) -> web.Response:
        """Prometheus text exposition of the host and daemon metrics (scrape with an API key)."""
        if not st.config.prometheus:
            raise APIError(404, "disabled", "the Prometheus exposition is disabled "
                           "([system] prometheus = false)")
        await _current(st)
        body = prometheus.exposition(st.registry)
        return web.Response(body=body, headers={"Content-Type": prometheus.CONTENT_TYPE})

    app.api.get("/system/prometheus", tags=["system"], content_type=prometheus.CONTENT_TYPE)(system_prometheus)
    app.api.get("/metrics", absolute=True, tags=["system"],
                content_type=prometheus.CONTENT_TYPE)(system_prometheus)


async def _current(st: SystemState) -> dict[str, Any]:
    try:
        return await st.sampler.current()
    except asyncio.TimeoutError:
        raise APIError(503, "sampler_unavailable",
                       "the metrics sampler has not produced a sample yet; retry shortly") from None
