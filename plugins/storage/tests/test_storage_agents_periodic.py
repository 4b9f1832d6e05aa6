"""ORACLE samples and SENTRY polls on their own schedule ([storage_agents] *_interval)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sigmavault.testing import load_module

h = load_module(Path(__file__).with_name("storage_agents_helpers.py"))


@pytest.fixture
def sv_config_overrides(tmp_path):
    return h.overrides(tmp_path, storage_agents={"oracle_interval": 0.2, "sentry_interval": 0.2})


async def test_periodic_samples_and_polls(client, sv_app):
    await h.pool(client, "tank")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        samples = sv_app.db.all("SELECT used FROM storage_agents_usage WHERE pool='tank'")
        polled = sv_app.db.one("SELECT state FROM storage_agents_health WHERE key='pool:tank'")
        if len(samples) >= 2 and polled:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("no periodic ORACLE samples / SENTRY polls")
    assert polled["state"] == "online"
    r = (await h.task(client, "ORACLE", {"record": False, "smart": False}))["result"]
    assert r["pools"][0]["samples"] >= 2
