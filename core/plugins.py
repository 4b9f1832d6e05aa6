"""The plugin manager: pluggy, entry points, failure isolation, and one async hook caller."""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from functools import partial
from typing import Any, Callable, Iterator

import pluggy

from sigmavault import hookspecs

from . import __version__

log = logging.getLogger("sigmavault.plugins")

ENTRY_POINT_GROUP = "sigmavault"
BUILTIN_MODULES = (
    "sigmavault.builtin.core_routes",
    "sigmavault.builtin.events_routes",
    "sigmavault.builtin.jobs_routes",
    "sigmavault.builtin.auth_routes",
    "sigmavault.builtin.ui",
    "sigmavault.builtin.system_routes",
)


class PluginLoadError(Exception):
    """Raised in strict mode when a plugin cannot be loaded."""


@dataclass
class PluginInfo:
    name: str
    version: str
    module: str
    status: str  # builtin | loaded | disabled | failed
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "module": self.module,
                "status": self.status, "error": self.error, "hooks": self.hooks}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution_of(plugin_name: str) -> str:
    """The distribution a registered plugin name belongs to (``dist`` or ``dist:entry``)."""
    return plugin_name.split(":", 1)[0]


class PluginManager:
    """Loads built-in and installed plugins; a broken one is reported and skipped."""

    def __init__(self, disabled: list[str] | tuple[str, ...] = (), strict: bool = False,
                 load_entry_points: bool = True):
        self.pm = pluggy.PluginManager("sigmavault")
        self.pm.add_hookspecs(hookspecs)
        self.disabled = {normalize(d) for d in disabled}
        self.strict = strict
        self.load_entry_points = load_entry_points
        self.infos: dict[str, PluginInfo] = {}

    # --- loading ---------------------------------------------------------------------------------

    def load(self) -> None:
        for module_name in BUILTIN_MODULES:
            self.register(importlib.import_module(module_name), module_name, __version__, "builtin")
        if self.load_entry_points:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.dist.name if e.dist else "", e.name)):
                dist = normalize(ep.dist.name if ep.dist else ep.name)
                version = ep.dist.version if ep.dist else "?"
                if dist in self.disabled or normalize(ep.name) in self.disabled:
                    self.infos.setdefault(dist, PluginInfo(dist, version, ep.value, "disabled"))
                    continue
                if dist in self.infos:  # a second entry point of one distribution: "dist:entry"
                    dist = f"{dist}:{ep.name}"
                try:
                    plugin = ep.load()
                except Exception as exc:  # any import-time error of a third-party plugin
                    self._fail(dist, version, ep.value, f"import failed: {exc!r}")
                    continue
                self.register(plugin, dist, version, "loaded")
        self.check_pending()

    def register(self, plugin: ModuleType | object, name: str, version: str = "?",
                 status: str = "loaded") -> bool:
        module = getattr(plugin, "__name__", type(plugin).__name__)
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._fail(name, version, module, f"validation failed: {exc}")
            return False
        self.infos[name] = PluginInfo(name, version, module, status)
        return True

    def check_pending(self) -> None:
        """Unregister plugins implementing hooks that no specification knows (typos)."""
        for hook_name in list(vars(self.pm.hook)):
            caller = getattr(self.pm.hook, hook_name)
            if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.optionalhook:
                    continue
                info = self.infos.get(impl.plugin_name)
                self.pm.unregister(name=impl.plugin_name)
                self._fail(impl.plugin_name, info.version if info else "?",
                           info.module if info else "?",
                           f"implements unknown hook {hook_name!r}")
        self.pm.check_pending()
        for name, info in self.infos.items():
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                info.hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])

    def _fail(self, name: str, version: str, module: str, error: str) -> None:
        log.error("plugin %s skipped: %s", name, error)
        self.infos[name] = PluginInfo(name, version, module, "failed", error)
        if self.strict:
            raise PluginLoadError(f"plugin {name}: {error}")

    def list(self) -> list[PluginInfo]:
        return sorted(self.infos.values(), key=lambda i: (i.status != "builtin", i.name))

    # --- calling ---------------------------------------------------------------------------------

    def impls(self, hook_name: str) -> Iterator[tuple[str, Callable[..., Any]]]:
        """(plugin name, call) of every implementation, in pluggy's call order; ``call`` takes
        the hook's keyword arguments and passes on those the implementation asks for."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):
            yield impl.plugin_name, partial(_call_with, impl.function, impl.argnames)

    async def acall(self, hook_name: str, **kwargs: Any) -> Any:
        """Call a hook, awaiting coroutine results; keeps ``firstresult`` semantics."""
        caller = getattr(self.pm.hook, hook_name)
        firstresult = bool(caller.spec and caller.spec.opts.get("firstresult"))
        results = []
        for _, call in self.impls(hook_name):
            result = call(**kwargs)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                if firstresult:
                    return result
                results.append(result)
        return None if firstresult else results


def _call_with(function: Callable[..., Any], argnames: tuple[str, ...], **kwargs: Any) -> Any:
    return function(**{name: kwargs[name] for name in argnames})
