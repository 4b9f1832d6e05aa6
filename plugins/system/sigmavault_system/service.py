"""The system service: one sampler per daemon, the status, metrics, interfaces, services, alerts
and Prometheus operations read from it, and PULSE's threshold checks."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

from aiohttp import web

from sigmavault import operation
from sigmavault.errors import APIError

from .alerts import active_alerts, check_thresholds, store_thresholds, stored_thresholds
from .interfaces import list_interfaces
from .prometheus import CONTENT_TYPE, exposition, make_registry
from .status import EncodedStatus
from .units import service_states
from .config import SystemConfig
from .models import (AlertOut, HistoryQuery, Interface, InterfacesQuery, Metrics, MetricsHistory,
                     ServiceState, Status)
from .sampler import Sampler
from .store import MetricsStore, QueryError, Tier, flatten, pool_values
from .thresholds import PulseParams

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.system")
TAGS = ["system"]


class SystemService:
    """Everything the plugin keeps for one daemon: its config, sampler and Prometheus registry.

    Reached as ``app.services[SystemService]``. Requests never sample: they read the sampler's
    latest sample and history, so their cost does not grow with the number of clients.
    """

    def __init__(self, app: "SigmaVault", config: SystemConfig) -> None:
        self.app = app
        self.config = config
        self.sampler = Sampler(config.interval, config.history_seconds, config.fs_interval,
                               config.disk_exclude, config.net_exclude)
        self.registry = make_registry(self.sampler)
        self.encoded_status = EncodedStatus()
        hc = config.history
        self.store: MetricsStore | None = (
            MetricsStore(app.data_dir / "metrics.db", [Tier(t.step, t.keep) for t in hc.tiers])
            if hc.enabled else None)
        self._store_tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the sampler (and the PULSE heartbeat when ``pulse_interval`` > 0), and the
        on-disk history: every sample is accounted to it, closed buckets are written each step."""
        self.sampler.add_listener(self._publish)
        if self.store is not None:
            await asyncio.to_thread(self.store.open)
            await asyncio.to_thread(self.store.prune)
            self.sampler.add_listener(self._record)
            self._store_tasks = [self.app.spawn(self._store_loop()),
                                 self.app.spawn(self._pool_loop())]
        self.app.spawn(self.sampler.run())
        if self.config.pulse_interval > 0:
            self.app.spawn(self._heartbeat())

    async def stop(self) -> None:
        """Write the open history buckets (a partial one too) and close ``metrics.db``."""
        store, self.store = self.store, None
        if store is None:
            return
        for task in self._store_tasks:
            task.cancel()
        await asyncio.gather(*self._store_tasks, return_exceptions=True)
        await asyncio.to_thread(store.close)

    def _record(self, metrics: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.add(metrics["ts"], flatten(metrics))

    async def _store_loop(self) -> None:
        """Write each finest bucket once it has closed (one transaction), prune now and then."""
        assert self.store is not None
        store, step = self.store, self.store.tiers[0].step
        prune_at = time.time() + self.config.history.prune_interval
        while True:
            now = time.time()
            await asyncio.sleep(step - now % step + min(0.5, step / 10))
            try:
                await asyncio.to_thread(store.write, store.take(time.time()))
                if time.time() >= prune_at:
                    prune_at = time.time() + self.config.history.prune_interval
                    await asyncio.to_thread(store.prune)
            except Exception:
                log.exception("writing the metrics history failed")

    async def _pool_loop(self) -> None:
        """Pool usage from the storage plugin (when present), every ``pool_interval`` seconds."""
        while True:
            if self.app.has_method("storage.pools.list") and self.store is not None:
                try:
                    values = pool_values(await self.app.call("storage.pools.list"))
                    if values and self.store is not None:
                        self.store.add(time.time(), values)
                except Exception as exc:
                    log.warning("pool usage for the metrics history: %s", exc)
            await asyncio.sleep(self.config.history.pool_interval)

    def _publish(self, metrics: dict[str, Any]) -> None:
        if self.app.events.has_subscribers("system.metrics"):
            self.app.events.publish("system.metrics", metrics)

    async def current(self) -> dict[str, Any]:
        """The latest sample (503 ``sampler_unavailable`` until the first one exists)."""
        try:
            return await self.sampler.current()
        except asyncio.TimeoutError:
            raise APIError(503, "sampler_unavailable",
                           "the metrics sampler has not produced a sample yet; retry shortly") from None

    # --- operations ------------------------------------------------------------------------------

    @operation("system.status", get="/system/status", response=Status, tags=TAGS)
    async def status(self, request: web.Request | None = None) -> bytes | dict[str, Any]:
        """Hostname, OS and kernel, uptime, CPU %, memory, swap, load averages and time."""
        body = self.encoded_status.body(await self.current(), self.sampler.interval)
        # REST serves the bytes encoded once per sample; named-method callers get the document
        return body if request is not None else json.loads(body)

    @operation("system.metrics", get="/system/metrics", response=Metrics, tags=TAGS)
    async def metrics(self) -> dict[str, Any]:
        """The latest sample: per-core CPU, memory, network and disk rates, temperatures, filesystems."""
        return await self.current()

    @operation("system.metrics.history", get="/system/metrics/history", response=MetricsHistory,
               query=HistoryQuery, tags=TAGS, errors=[404])
    async def history(self, seconds: float | None = None, step: int | None = None,
                      from_: float | None = None, to: float | None = None,
                      metrics: str | None = None,
                      request: web.Request | None = None) -> bytes | dict[str, Any]:
        """Without ``from``: the in-memory samples (oldest first), optionally the last ``seconds``
        and every ``step``-th. With ``from`` (and ``to``): aligned series from the on-disk history,
        ``step`` seconds per bucket, from the finest tier that still covers ``from``."""
        head = {"interval": self.sampler.interval, "capacity": self.sampler.capacity}
        if from_ is not None:
            if self.store is None:
                raise APIError(404, "disabled", "the on-disk metrics history is disabled "
                               "([system.history] enabled = false)")
            store = self.store
            names = metrics.split(",") if metrics else None
            try:
                found = await asyncio.to_thread(store.query, from_, to or time.time(), step, names)
            except QueryError as exc:
                raise APIError(422, "validation_error", f"invalid query: {exc.field}: {exc}",
                               {"errors": [{"loc": ["query", exc.field], "msg": str(exc),
                                            "type": "value_error"}]}) from None
            doc = {**head, "samples": [], **found}
            return json.dumps(doc, separators=(",", ":")).encode() if request is not None else doc
        samples = self.sampler.window_json(seconds, step or 1)
        if request is None:
            return {**head, "samples": [json.loads(s) for s in samples]}
        # Samples are stored as the JSON of validated metrics: splice them, don't re-encode.
        return b"".join((json.dumps(head)[:-1].encode(), b',"samples":[', b",".join(samples), b"]}"))

    @operation("system.interfaces.list", get="/system/network/interfaces", response=list[Interface],
               query=InterfacesQuery, tags=TAGS, errors=[404])
    async def interfaces(self, netns: str | None = None) -> list[dict[str, Any]]:
        """Network interfaces over netlink; ``?netns=NAME`` reads a named namespace (ip netns)."""
        return await list_interfaces(netns)

    @operation("system.services.list", get="/system/services", response=list[ServiceState],
               tags=TAGS)
    async def services(self) -> list[dict[str, Any]]:
        """State of the configured services: systemd units when systemd runs, else processes."""
        return await service_states(self.config.services)

    @operation("system.alerts.list", get="/system/alerts", response=list[AlertOut], tags=TAGS)
    async def alerts(self) -> list[dict[str, Any]]:
        """Alerts PULSE has raised and not yet cleared."""
        return list(active_alerts(self.app.db).values())

    @operation("system.prometheus", get="/system/prometheus", tags=TAGS,
               content_type=CONTENT_TYPE)
    async def prometheus(self, request: web.Request | None = None) -> web.Response | str:
        """Prometheus text exposition of the host and daemon metrics (scrape with an API key)."""
        if not self.config.prometheus:
            raise APIError(404, "disabled", "the Prometheus exposition is disabled "
                           "([system] prometheus = false)")
        await self.current()
        body = exposition(self.registry)
        if request is None:
            return body.decode()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    @operation(get="/metrics", absolute=True, tags=TAGS, content_type=CONTENT_TYPE)
    async def prometheus_metrics(self, request: web.Request) -> web.Response | str:
        """Prometheus text exposition of the host and daemon metrics (scrape with an API key)."""
        return await self.prometheus(request)

    # --- PULSE -----------------------------------------------------------------------------------

    def thresholds(self) -> PulseParams:
        return stored_thresholds(self.app.db, self.config.pulse)

    @operation("system.thresholds.get", get="/system/alerts/thresholds", response=PulseParams,
               tags=TAGS, summary="The thresholds PULSE raises alerts at")
    async def get_thresholds(self) -> PulseParams:
        return self.thresholds()

    @operation("system.thresholds.update", put="/system/alerts/thresholds", body=PulseParams,
               response=PulseParams, tags=TAGS, summary="Change the thresholds PULSE raises "
               "alerts at (kept in the database, over [system.pulse]); the next beat uses them")
    async def set_thresholds(self, body: PulseParams) -> PulseParams:
        store_thresholds(self.app.db, body)
        return body

    async def pulse(self, params: PulseParams,
                    progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
        """Check the thresholds (``[system.pulse]`` overridden by the fields set in ``params``)
        against the recent samples; raise and clear ``alert`` events."""
        configured = self.thresholds()
        effective = configured.model_copy(
            update={k: getattr(params, k) for k in params.model_fields_set})
        report = progress or (lambda percent, description: None)
        report(10, "waiting for a metrics sample")
        try:
            await self.sampler.current()
        except asyncio.TimeoutError:
            raise APIError(503, "sampler_unavailable", "no metrics sample is available yet") from None
        samples = self.sampler.window(effective.window_seconds)
        report(60, f"checking {len(samples)} samples")
        result = check_thresholds(self.app, samples, effective)
        result["samples"] = len(samples)
        result["thresholds"] = effective.model_dump()
        return result

    async def _heartbeat(self) -> None:
        """PULSE on a timer, in-process (no job per beat): alerts change only on transitions."""
        while True:
            await asyncio.sleep(self.config.pulse_interval)
            if self.sampler.latest is None:
                continue
            try:
                p = self.thresholds()
                check_thresholds(self.app, self.sampler.window(p.window_seconds), p)
            except Exception:
                log.exception("PULSE heartbeat failed")
