"""Health, plugins, OpenAPI and the API docs page."""

from __future__ import annotations

import html
import platform
import time
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from sigmavault import __version__, hookimpl
from sigmavault.api import openapi
from sigmavault.app import get_app


class Health(BaseModel):
    status: str
    version: str
    uptime_seconds: float


class Plugin(BaseModel):
    name: str
    version: str
    module: str
    status: str
    error: str | None
    hooks: list[str]


class Method(BaseModel):
    name: str
    description: str
    plugin: str


class UiPage(BaseModel):
    id: str
    title: str
    path: str = Field(description="page: where it lives in the UI; widget: the GET endpoint (under "
                      "/api/v1) whose answer the dashboard card shows")
    icon: str | None
    section: str
    plugin: str
    kind: Literal["page", "widget"] = Field("page", description="a sidebar page or a dashboard card")


@hookimpl
def register_routes(app: Any) -> None:
    @app.api.get("/health", response=Health, public=True, tags=["core"])
    async def health(request: web.Request) -> dict:
        """Liveness: answers as soon as the daemon serves requests."""
        sv = get_app(request)
        return {"status": "ok", "version": __version__, "uptime_seconds": round(time.time() - sv.started_at, 3)}

    @app.api.get("/plugins", response=list[Plugin], tags=["core"])
    async def plugins(request: web.Request) -> list:
        """Installed plugins with version, hooks implemented and status (loaded, failed, disabled)."""
        return [i.as_dict() for i in get_app(request).plugins.list()]

    @app.api.get("/methods", response=list[Method], tags=["core"])
    async def methods(request: web.Request) -> list:
        """Named service methods plugins offer each other (``register_methods``)."""
        return [{"name": n, "description": d, "plugin": p}
                for n, (_, d, p) in sorted(get_app(request).methods.items())]

    @app.api.get("/ui/pages", response=list[UiPage], tags=["core"])
    async def ui_pages(request: web.Request) -> list:
        """Pages and widgets plugins contribute to the web UI."""
        return get_app(request).ui_pages

    @app.api.get("/openapi.json", response=dict[str, Any], tags=["core"])
    async def openapi_json(request: web.Request) -> dict:
        """The OpenAPI 3.1 description of every route, generated from the declared schemas."""
        return openapi(get_app(request).api, "SigmaVault", __version__)

    @app.api.get("/docs", tags=["core"], content_type="text/html")
    async def docs(request: web.Request) -> web.Response:
        """A readable page of every endpoint, generated from the OpenAPI document."""
        spec = openapi(get_app(request).api, "SigmaVault", __version__)
        rows = []
        for path, ops in spec["paths"].items():
            for method, op in ops.items():
                rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                            f"</code></td><td>{html.escape(op['summary'])}</td><td>{op['x-role']}</td>"
                            f"<td>{html.escape(op['x-plugin'])}</td></tr>")
        page = (f"<!doctype html><meta charset=utf-8><title>SigmaVault API</title><style>body{{font:14px "
                f"system-ui;margin:2em}}td{{padding:2px 8px;border-bottom:1px solid #ddd}}</style>"
                f"<h1>SigmaVault API {__version__}</h1><p>Machine-readable: <a href=openapi.json>"
                f"openapi.json</a> · {platform.node()}</p><table><tr><th>method<th>path<th>summary"
                f"<th>role<th>plugin</tr>{''.join(rows)}</table>")
        # its one inline <style> is all this page needs; no script at all
        return web.Response(text=page, content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                       "frame-ancestors 'none'"})
