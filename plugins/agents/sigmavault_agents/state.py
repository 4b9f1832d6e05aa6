"""The per-daemon runtime objects of this plugin, found from ``app``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sigmavault.errors import APIError

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime
    from .scheduler import Scheduler

_RUNTIMES: "WeakKeyDictionary[Any, tuple[Runtime, Scheduler]]" = WeakKeyDictionary()


def attach(app: Any, runtime: "Runtime", scheduler: "Scheduler") -> None:
    _RUNTIMES[app] = (runtime, scheduler)


def runtime_of(app: Any) -> "Runtime":
    try:
        return _RUNTIMES[app][0]
    except KeyError:
        raise APIError(503, "swarm_not_ready", "the agent swarm is not started yet") from None


def scheduler_of(app: Any) -> "Scheduler":
    try:
        return _RUNTIMES[app][1]
    except KeyError:
        raise APIError(503, "swarm_not_ready", "the agent swarm is not started yet") from None
