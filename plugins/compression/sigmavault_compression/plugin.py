"""Hook implementations of the compression plugin (entry point ``compression``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl

from . import stats
from .agents import AGENTS
from .codecs import BUILTIN_CODECS
from .config import CompressionConfig
from .models import ProgressEvent
from .recovery import clean_after
from .service import CompressionService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("compression", CompressionConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register(stats.NAMESPACE, stats.MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("compression.progress", ProgressEvent,
             "progress of a compression job or agent: bytes in/out, percent, ratio so far, "
             "throughput, ETA (a few per second, and a final one with done=true)")


@hookimpl
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    register(CompressionService(app, app.config.section("compression")))


@hookimpl
def register_codecs(register: Callable[[Any], None]) -> None:
    for codec in BUILTIN_CODECS:
        register(codec)


@hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    for agent in AGENTS:
        register(agent)


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="compression", title="Compression", path="/compression", icon="archive",
             section="main")


@hookimpl
def job_interrupted(job: dict[str, Any]) -> None:
    clean_after(job)
