"""Agent PULSE (#10, tier core): the health heartbeat that raises and clears threshold alerts."""

from __future__ import annotations

from typing import Any

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..service import SystemService
from ..thresholds import PulseParams


async def run_pulse(ctx: JobContext, params: PulseParams) -> dict[str, Any]:
    """Check the thresholds against the recent samples; publish alert changes."""
    return await ctx.app.services[SystemService].pulse(params, ctx.progress)


def agent() -> Agent:
    return Agent(
        name="PULSE", tier="core", specialty="health heartbeat", params_model=PulseParams,
        run=run_pulse, concurrency=1, timeout=60.0,
        description="sample CPU, memory, filesystem fill and temperatures; raise and clear "
                    "`alert` events on thresholds (fields not given use the [system.pulse] config)",
        tags=["system", "alerts"])
