"""The SigmaVault application: wires config, plugins, state, events, jobs, auth and routes."""

from __future__ import annotations

import asyncio
import inspect
import logging
import stat
import sys
import time
from pathlib import Path
from typing import Any, Callable, Coroutine

from aiohttp import web

from .api import Api
from .audit import MIGRATIONS as AUDIT_MIGRATIONS, AuditLog
from .auth import MIGRATIONS as AUTH_MIGRATIONS, Auth
from .commands import run
from .config import CHECKOUT, Config, load_sections
from .db import Database
from .errors import APIError
from .events import Alert, EventHub
from .jobs import MIGRATIONS as JOB_MIGRATIONS, Job, JobManager
from . import pipeline
from .plugins import PluginManager, distribution_of
from .services import Services

log = logging.getLogger("sigmavault")

APP_KEY = web.AppKey("sigmavault", object)
REGISTRIES = ("storage_backends", "codecs", "agents", "network_drivers", "encryptors", "tools",
              "share_protocols")
UI_KINDS = ("page", "widget")  # a sidebar page, or a card on the dashboard
SHUTDOWN_GRACE = 5.0  # seconds background tasks get to finish after cancellation


def _private_dir(path: Path) -> None:
    """Create the data directory 0700, or tighten one that others can list or write to 0700.
    Search permission for others alone (0701) is kept: the shares plugin grants it so that share
    users pass through to pools kept under the data directory, without seeing anything in it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o076:
        log.warning("data directory %s had mode %04o; tightened to 0700", path, mode)
        path.chmod(0o700)


def get_app(request: web.Request) -> "SigmaVault":
    """The SigmaVault instance serving ``request``."""
    return request.app[APP_KEY]  # type: ignore[return-value]


class SigmaVault:
    """One daemon. Plugins receive it as ``app`` in hooks."""

    def __init__(self, config: Config, plugins: PluginManager | None = None):
        self.config = config
        self.data_dir: Path = config.data_dir
        self.plugins = plugins or PluginManager(config.plugins.disabled, config.plugins.strict)
        self.api = Api()
        self.events = EventHub(config.events.ring_size, config.events.client_queue)
        self.registries: dict[str, dict[str, Any]] = {name: {} for name in REGISTRIES}
        self.methods: dict[str, tuple[Callable[..., Any], str, str]] = {}
        self.ui_pages: list[dict[str, Any]] = []
        self.services = Services(self)
        self._contributions: dict[str, list[tuple[str, str]]] = {}  # plugin → registry items
        self.unknown_sections: list[str] = []
        self.first_run_password: str | None = None
        self.run = run
        self.started_at = time.time()
        self._tasks: set[asyncio.Task] = set()
        self.websockets: set[web.WebSocketResponse] = set()
        self.db: Database
        self.jobs: JobManager
        self.auth: Auth
        self.audit_log: AuditLog
        self.web = web.Application(client_max_size=16 * 1024 ** 2)
        self.web[APP_KEY] = self

    # --- construction ----------------------------------------------------------------------------

    @classmethod
    async def create(cls, config: Config, plugins: PluginManager | None = None) -> "SigmaVault":
        """Load plugins and build everything that must exist before the server starts."""
        app = cls(config, plugins)
        await app._build()
        return app

    async def _build(self) -> None:
        self.plugins.load()
        sections: dict[str, type] = {}
        await self._per_plugin("register_config", lambda p: {"register": sections.__setitem__})
        self.unknown_sections = load_sections(self.config, sections)
        for name in self.unknown_sections:
            log.warning("config table [%s] is not declared by any loaded plugin; ignored", name)

        _private_dir(self.data_dir)
        self.db = Database(self.data_dir / "sigmavault.db")
        for namespace, scripts in (("core.jobs", JOB_MIGRATIONS), ("core.audit", AUDIT_MIGRATIONS),
                                   ("core.auth", AUTH_MIGRATIONS)):
            self.db.migrate(namespace, scripts)
        await self._per_plugin("register_migrations", lambda p: {"register": self.db.migrate})
        self.audit_log = AuditLog(self.db)
        self.auth = Auth(self)
        self.jobs = JobManager(self, self.config.jobs.history, self.config.jobs.queue_limit)

        self.events.register("job.progress", Job, "a job changed state or progress")
        self.events.register("alert", Alert, "an alert was raised or cleared (same id: later state wins)")
        await self._per_plugin("register_events", lambda p: {"register": self._register_event(p)})
        await self._per_plugin("register_services", self._service_kwargs)
        for registry in REGISTRIES:
            await self._per_plugin(f"register_{registry}", self._registry_kwargs(registry))
        await self._per_plugin("register_methods",
                               lambda p: {"register": self._method_registrar(p), "app": self})
        await self._per_plugin("register_ui_pages", lambda p: {"register": self._ui_registrar(p)})
        await self._per_plugin("register_routes", self._route_kwargs)
        wrap = pipeline.wrapper(self)
        self.api.mount(self.web, wrap)
        self.web.router.add_route("*", "/api/{tail:.*}", wrap(None, pipeline.unmatched))
        self._mount_ui(wrap)
        self.web.on_startup.append(self._on_startup)
        self.web.on_shutdown.append(self._on_shutdown)
        self.web.on_cleanup.append(self._on_cleanup)

    async def _per_plugin(self, hook: str, kwargs_for: Callable[[str], dict[str, Any]]) -> None:
        """Call ``hook`` plugin by plugin; a plugin whose hook raises is reported and removed,
        with the routes and registry items it had contributed."""
        for plugin, func in list(self.plugins.impls(hook)):
            routes_before = len(self.api.routes)
            try:
                result = func(**kwargs_for(plugin))
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.exception("plugin %s failed in %s", plugin, hook)
                del self.api.routes[routes_before:]
                self._drop_plugin(plugin, f"{hook} failed: {exc!r}")

    def _drop_plugin(self, plugin: str, error: str) -> None:
        info = self.plugins.infos.get(plugin)
        self.plugins.pm.unregister(name=plugin)
        for registry, name in self._contributions.pop(plugin, []):
            self.registries[registry].pop(name, None)
        self.services.remove_plugin(plugin)
        for name in [n for n, (_, _, p) in self.methods.items() if p == distribution_of(plugin)]:
            del self.methods[name]
        self.plugins._fail(plugin, info.version if info else "?", info.module if info else "?", error)

    def _route_kwargs(self, plugin: str) -> dict[str, Any]:
        self.api.current_plugin = distribution_of(plugin)
        return {"app": self}

    def _registry_kwargs(self, registry: str) -> Callable[[str], dict[str, Any]]:
        return lambda plugin: {"register": self._registrar(registry, plugin), "app": self}

    def _service_kwargs(self, plugin: str) -> dict[str, Any]:
        self.api.current_plugin = distribution_of(plugin)
        return {"app": self, "register": lambda service: self.services.add(service, plugin)}

    def _register_event(self, plugin: str) -> Callable[..., None]:
        def register(name: str, model: Any = None, description: str = "") -> None:
            self.events.current_plugin = distribution_of(plugin)
            self.events.register(name, model, description)
        return register

    def _registrar(self, registry: str, plugin: str) -> Callable[[Any], None]:
        def register(item: Any) -> None:
            name = getattr(item, "name", None)
            if not name:
                raise ValueError(f"{registry} item {item!r} has no name")
            if name in self.registries[registry]:
                raise ValueError(f"{registry} item {name!r} is already registered")
            try:
                item.plugin = distribution_of(plugin)
            except AttributeError:
                pass
            self.registries[registry][name] = item
            self._contributions.setdefault(plugin, []).append((registry, name))
        return register

    def _method_registrar(self, plugin: str) -> Callable[..., None]:
        def register(name: str, func: Callable[..., Any], description: str = "") -> None:
            self.add_method(name, func, description, plugin)
        return register

    def add_method(self, name: str, func: Callable[..., Any], description: str, plugin: str) -> None:
        """Offer ``func`` as ``app.call(name, ...)`` (service operations arrive here too)."""
        if name in self.methods:
            raise ValueError(f"method {name!r} is already registered by {self.methods[name][2]}")
        self.methods[name] = (func, description, distribution_of(plugin))

    def _ui_registrar(self, plugin: str) -> Callable[..., None]:
        def register(id: str, title: str, path: str, icon: str | None = None,
                     section: str = "main", kind: str = "page") -> None:
            if kind not in UI_KINDS:
                raise ValueError(f"UI contribution {id!r}: kind must be one of {', '.join(UI_KINDS)}, "
                                 f"not {kind!r}")
            self.ui_pages.append({"id": id, "title": title, "path": path, "icon": icon,
                                  "section": section, "plugin": plugin, "kind": kind})
        return register

    def _mount_ui(self, wrap: Callable[[Any, Any], Any]) -> None:
        ui_dir = self.config.ui_dir or CHECKOUT / "webui" / "dist"
        index = ui_dir / "index.html"
        if not index.is_file():
            return

        async def spa(request: web.Request) -> web.StreamResponse:
            tail = request.match_info.get("tail", "")
            candidate = (ui_dir / tail).resolve()
            if tail and candidate.is_file() and ui_dir.resolve() in candidate.parents:
                return web.FileResponse(candidate, headers={"Cache-Control": "public, max-age=31536000, immutable"}
                                        if "/assets/" in f"/{tail}" else None)
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

        self.web.router.add_get("/{tail:(?!api/).*}", wrap(None, spa))

    # --- services for plugins --------------------------------------------------------------------

    async def call(self, name: str, /, **kwargs: Any) -> Any:
        """Call a method another plugin registered through ``register_methods``."""
        if name not in self.methods:
            raise APIError(501, "method_unavailable",
                           f"{name} is not available: the plugin that provides it is not installed",
                           {"method": name})
        result = self.methods[name][0](**kwargs)
        return await result if inspect.isawaitable(result) else result

    def has_method(self, name: str) -> bool:
        return name in self.methods

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run a background task for the daemon's lifetime; it is cancelled at shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def audit(self, action: str, target: str = "", outcome: str = "ok",
              details: dict[str, Any] | None = None, actor: str = "system",
              address: str = "local") -> None:
        """Append to the audit log (routes are audited automatically; this is for other actions)."""
        self.audit_log.record(actor, address, action, target, outcome, details)

    # --- lifecycle -------------------------------------------------------------------------------

    async def _on_startup(self, _: web.Application) -> None:
        for job in self.jobs.start():
            try:
                await self.plugins.acall("job_interrupted", app=self, job=job.model_dump(mode="json"))
            except Exception:
                log.exception("job_interrupted hook failed for job %s", job.id)
        self.first_run_password = self.auth.ensure_admin()
        if self.first_run_password:
            print(f"SigmaVault first run: created user 'admin' with password: "
                  f"{self.first_run_password}\n(shown once; change it with `sigmavault user passwd admin`)",
                  file=sys.stderr, flush=True)
        self.events.listeners.append(self._event_observer)
        await self.services.start()
        await self.plugins.acall("startup", app=self)

    def _event_observer(self, envelope: dict[str, Any]) -> None:
        if any(True for _ in self.plugins.impls("event_published")):
            self.spawn(self.plugins.acall("event_published", app=self, event=envelope))

    async def _on_shutdown(self, _: web.Application) -> None:
        for ws in list(self.websockets):
            await ws.close(code=1001, message=b"server shutting down")
        await self.plugins.acall("shutdown", app=self)
        await self.services.stop()
        await self.jobs.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            _done, stuck = await asyncio.wait(list(self._tasks), timeout=SHUTDOWN_GRACE)
            for task in stuck:
                log.error("background task %s ignored cancellation; leaving it behind", task.get_coro())

    async def _on_cleanup(self, _: web.Application) -> None:
        self.db.close()
