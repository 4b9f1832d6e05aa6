"""Hook implementations of the compression plugin."""

from __future__ import annotations

from sigmavault import hookimpl

from . import routes, stats
from .agents import AGENTS
from .codecs import BUILTIN_CODECS
from .config import CompressionConfig
from .models import ProgressEvent
from .recovery import clean_after
from .service import service


@hookimpl
def register_config(register):
    register("compression", CompressionConfig)


@hookimpl
def register_migrations(register):
    register(stats.NAMESPACE, stats.MIGRATIONS)


@hookimpl
def register_codecs(register):
    for codec in BUILTIN_CODECS:
        register(codec)


@hookimpl
def register_events(register):
    register("compression.progress", ProgressEvent,
             "progress of a compression job or agent: bytes in/out, percent, ratio so far, "
             "throughput, ETA (a few per second, and a final one with done=true)")


@hookimpl
def register_routes(app):
    routes.register(app)


@hookimpl
def register_agents(register):
    for agent in AGENTS:
        register(agent)


@hookimpl
def register_ui_pages(register):
    register(id="compression", title="Compression", path="/compression", icon="archive",
             section="main")


@hookimpl
def startup(app):
    svc = service(app)
    svc.registry  # validate third-party codecs now, so bad ones are logged at start


@hookimpl
def job_interrupted(app, job):
    clean_after(job)
