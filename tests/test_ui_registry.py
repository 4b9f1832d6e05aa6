"""UI contributions through the ``register_ui_pages`` hook, read back from ``GET /api/v1/ui/pages``."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from sigmavault.app import SigmaVault
from sigmavault.config import Config

WIDGET_PLUGIN = """
from sigmavault import hookimpl

@hookimpl
def register_ui_pages(register):
    register(id="probe-page", title="Probe", path="/probe")
    register(id="probe-widget", title="Probe status", path="/jobs", kind="widget")
"""

BAD_KIND_PLUGIN = """
from sigmavault import hookimpl

@hookimpl
def register_ui_pages(register):
    register(id="odd", title="Odd", path="/odd", kind="banner")
"""

async def test_widgets_and_pages_are_listed_with_their_kind(make_dist, tmp_path):
    make_dist("sigmavault-uiprobe", WIDGET_PLUGIN)
    make_dist("sigmavault-uibad", BAD_KIND_PLUGIN)
    app = await SigmaVault.create(Config(data_dir=tmp_path / "d"))
    app.auth.create_user("root", "password123", "admin")
    secret, _ = app.auth.create_key("root", "t")
    async with TestClient(TestServer(app.web), headers={"Authorization": f"Bearer {secret}"}) as c:
        listed = await (await c.get("/api/v1/ui/pages")).json()
        by_id = {p["id"]: p for p in listed}
        assert by_id["probe-widget"] == {"id": "probe-widget", "title": "Probe status", "path": "/jobs",
                                         "icon": None, "section": "main", "plugin": "sigmavault-uiprobe",
                                         "kind": "widget"}
        assert by_id["probe-page"]["kind"] == "page" and by_id["dashboard"]["kind"] == "page"
        assert "odd" not in by_id
        plugins = {p["name"]: p for p in await (await c.get("/api/v1/plugins")).json()}
        assert plugins["sigmavault-uibad"]["status"] == "failed"
        assert "kind must be one of page, widget" in plugins["sigmavault-uibad"]["error"]
        schema = (await (await c.get("/api/v1/openapi.json")).json())["components"]["schemas"]["UiPage"]
        assert schema["properties"]["kind"]["enum"] == ["page", "widget"]
