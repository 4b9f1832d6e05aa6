"""Plugin discovery, failure isolation, enable/disable, async hooks, the plugins API and CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pluggy
import pytest

from sigmavault import hookimpl
from sigmavault.app import SigmaVault
from sigmavault.config import Config
from sigmavault.plugins import PluginLoadError, PluginManager

ASYNC_PLUGIN = '''
import asyncio
from sigmavault import hookimpl

STATE = {}

@hookimpl
async def register_routes(app):
    await asyncio.sleep(0)
    @app.api.get("/async-probe")
    async def probe(request):
        return {"startup_ran": STATE.get("startup", False)}

@hookimpl
async def startup(app):
    await asyncio.sleep(0.01)
    STATE["startup"] = True
'''


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "sigmavault.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


async def test_installed_example_plugin_is_discovered(client):
    plugins = {p["name"]: p for p in await (await client.get("/api/v1/plugins")).json()}
    hello = plugins["sigmavault-hello"]
    assert hello["status"] == "loaded"
    assert hello["version"] == "0.1.0"
    assert {"register_services", "register_events", "register_config"} <= set(hello["hooks"])
    assert plugins["sigmavault.builtin.core_routes"]["status"] == "builtin"


def test_cli_lists_builtin_and_example_plugin(tmp_path):
    out = cli("plugins", "--json", "--data-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    names = {p["name"]: p["status"] for p in json.loads(out.stdout)}
    assert names["sigmavault-hello"] == "loaded"
    assert names["sigmavault.builtin.jobs_routes"] == "builtin"


async def test_broken_plugins_are_skipped_and_reported(make_dist, tmp_path):
    make_dist("sigmavault-broken-import", "raise ImportError('missing dependency frobnicate')")
    make_dist("sigmavault-typo-hook", "from sigmavault import hookimpl\n@hookimpl\ndef regster_routes(app): pass\n")
    make_dist("sigmavault-bad-args", "from sigmavault import hookimpl\n@hookimpl\ndef startup(app, nonsense): pass\n")
    make_dist("sigmavault-raises", "from sigmavault import hookimpl\n@hookimpl\ndef register_routes(app):\n"
              "    @app.api.get('/half-registered')\n    async def h(request): return {}\n"
              "    raise RuntimeError('bad plugin')\n")
    app = await SigmaVault.create(Config(data_dir=tmp_path / "d"))
    infos = {i.name: i for i in app.plugins.list()}
    assert infos["sigmavault-broken-import"].status == "failed"
    assert "frobnicate" in infos["sigmavault-broken-import"].error
    assert "regster_routes" in infos["sigmavault-typo-hook"].error
    assert "nonsense" in infos["sigmavault-bad-args"].error
    assert "bad plugin" in infos["sigmavault-raises"].error
    assert app.api.find("GET", "/half-registered") is None  # nothing of it is left behind
    assert infos["sigmavault-hello"].status == "loaded"
    app.db.close()


def test_broken_plugin_cli_reports_and_strict_mode_fails(make_dist, tmp_path):
    make_dist("sigmavault-broken-import", "raise ImportError('missing dependency frobnicate')")
    out = cli("plugins", "--data-dir", str(tmp_path))
    assert out.returncode == 0
    assert "sigmavault-broken-import" in out.stdout and "frobnicate" in out.stdout
    strict = cli("serve", "--data-dir", str(tmp_path), "--port", "0",
                 env={"SIGMAVAULT_STRICT_PLUGINS": "true"})
    assert strict.returncode == 3
    assert "import failed" in strict.stderr  # the first broken plugin stops a strict daemon


async def test_disabled_plugin_is_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGMAVAULT_DISABLE_PLUGINS", "sigmavault-hello")
    from sigmavault import config
    app = await SigmaVault.create(config.load(overrides={"data_dir": tmp_path / "d"}))
    info = {i.name: i for i in app.plugins.list()}["sigmavault-hello"]
    assert info.status == "disabled"
    assert app.api.find("POST", "/hello") is None
    assert "hello.greeted" not in app.events.types
    app.db.close()


async def test_disabled_by_config_file(tmp_path):
    from sigmavault import config
    path = tmp_path / "c.toml"
    path.write_text('[plugins]\ndisabled = ["sigmavault_hello"]\n')
    app = await SigmaVault.create(config.load(path, env={}, overrides={"data_dir": tmp_path / "d"}))
    assert app.api.find("POST", "/hello") is None
    app.db.close()


async def test_async_hooks_are_awaited(make_dist, tmp_path):
    from aiohttp.test_utils import TestClient, TestServer
    make_dist("sigmavault-async-probe", ASYNC_PLUGIN)
    app = await SigmaVault.create(Config(data_dir=tmp_path / "d"))
    app.auth.create_user("root", "password123", "admin")
    secret, _ = app.auth.create_key("root", "t")
    async with TestClient(TestServer(app.web), headers={"Authorization": f"Bearer {secret}"}) as c:
        resp = await c.get("/api/v1/async-probe")
        assert await resp.json() == {"startup_ran": True}


async def test_acall_keeps_firstresult_and_awaits():
    class Specs:
        @pluggy.HookspecMarker("sigmavault")(firstresult=True)
        def pick(self, x): ...

        @pluggy.HookspecMarker("sigmavault")
        def collect(self, x): ...

    class First:
        @hookimpl
        async def pick(self, x):
            return None

        @hookimpl
        async def collect(self, x):
            return x + 1

    class Second:
        @hookimpl
        async def pick(self, x):
            return x * 10

        @hookimpl
        def collect(self, x):
            return x + 2

    pm = PluginManager(load_entry_points=False)
    pm.pm.add_hookspecs(Specs)
    pm.register(First(), "first")
    pm.register(Second(), "second")
    assert await pm.acall("pick", x=4) == 40
    assert sorted(await pm.acall("collect", x=1)) == [2, 3]


def test_strict_mode_raises_on_load(make_dist):
    make_dist("sigmavault-broken-import", "raise ImportError('nope')")
    with pytest.raises(PluginLoadError, match="import failed"):
        PluginManager(strict=True).load()


async def test_distribution_with_two_entry_points(make_dist, tmp_path):
    site = make_dist("sigmavault-twin", "from sigmavault import hookimpl\n@hookimpl\ndef register_ui_pages(register):\n"
                     "    register(id='twin-a', title='A', path='/a')\n")
    (site / "twin_extra.py").write_text("from sigmavault import hookimpl\n@hookimpl\ndef register_ui_pages(register):\n"
                                        "    register(id='twin-b', title='B', path='/b')\n")
    eps = site / "sigmavault_twin-0.0.1.dist-info" / "entry_points.txt"
    eps.write_text(eps.read_text() + "zz-extra = twin_extra\n")
    app = await SigmaVault.create(Config(data_dir=tmp_path / "d"))
    names = {i.name for i in app.plugins.list()}
    assert {"sigmavault-twin", "sigmavault-twin:zz-extra"} <= names
    owners = {p["id"]: p["plugin"] for p in app.ui_pages}
    assert owners["twin-a"] == "sigmavault-twin" and owners["twin-b"] == "sigmavault-twin:zz-extra"
    app.db.close()
