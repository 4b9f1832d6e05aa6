"""Helpers shared by this plugin's agent handlers."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path
from typing import Any, Callable, ClassVar

from sigmavault.files import atomic_write
from sigmavault.jobs import JobContext

from ..locate import Kind, Target, resolve


class Located(Target):
    """Params of an agent that works on one target; ``kind`` is what the target must be."""

    kind: ClassVar[Kind] = "dir"

    async def preflight(self, app: Any) -> None:
        """Resolve paths before the task is queued, so a bad path is a 4xx at dispatch."""
        await resolve(app, self, kind=self.kind)


async def where(ctx: JobContext, target: Target, kind: Kind = "dir") -> Path:
    """The real path of ``target`` inside a running task (see :func:`..locate.resolve`)."""
    return await resolve(ctx.app, target, kind=kind)


async def in_thread(ctx: JobContext, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run blocking work with the job's cancellation check and progress wired in."""
    return await ctx.to_thread(partial(fn, *args, check=ctx.check, progress=ctx.progress, **kw))


def state_dir(app: Any, agent: str) -> Path:
    path = Path(app.data_dir) / "agents" / agent.lower()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def key_of(path: Path) -> str:
    """A file-name-safe key for a resolved path."""
    return hashlib.sha256(str(path).encode()).hexdigest()[:24]


def save_json(path: Path, data: Any) -> None:
    with atomic_write(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    path.chmod(0o600)


def load_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)
