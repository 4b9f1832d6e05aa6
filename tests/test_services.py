"""Services reached by type, and operations declared once: the named method and its REST route."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from aiohttp.test_utils import TestClient, TestServer

from sigmavault.app import SigmaVault
from sigmavault.config import Config
from sigmavault.testing import api_call

PLUGIN = '''
from pydantic import BaseModel, Field
from sigmavault import hookimpl, operation


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=20)


class Search(BaseModel):
    contains: str = Field(min_length=1)
    limit: int = Field(10, ge=1, le=100)


class Note(BaseModel):
    id: int
    text: str


class NotesService:
    def __init__(self, app):
        self.app = app
        self.notes = {}
        self.events = []

    async def start(self):
        self.events.append("start")

    async def stop(self):
        self.events.append("stop")

    @operation("notes.create", post="/notes", body=NoteIn, response=Note, status=201)
    async def create(self, body: NoteIn) -> dict:
        """Write a note"""
        note = {"id": len(self.notes) + 1, "text": body.text}
        self.notes[note["id"]] = note
        return note

    @operation("notes.get", get="/notes/{note}", response=Note)
    async def get(self, note: str) -> dict:
        return self.notes[int(note)]

    @operation("notes.count")
    def count(self) -> int:
        return len(self.notes)

    @operation("notes.search", get="/notes", query=Search, response=list[Note])
    async def search(self, contains: str, limit: int = 10) -> list:
        return [n for n in self.notes.values() if contains in n["text"]][:limit]

    @operation("notes.raw", get="/notes-raw", response=dict)
    async def raw(self) -> bytes:
        return b'{"encoded":true}'

    @operation(get="/notes-whoami", response=dict)
    async def whoami(self, request) -> dict:
        return {"rest": request is not None}


@hookimpl
def register_services(app, register):
    register(NotesService(app))
'''


async def _daemon(tmp_path: Path, make_dist: Callable[[str, str], Path]) -> SigmaVault:
    make_dist("sigmavault-notes", PLUGIN)
    app = await SigmaVault.create(Config.model_validate({"data_dir": tmp_path / "data"}))
    return app


async def test_one_declaration_gives_route_method_and_schema(tmp_path: Path, make_dist) -> None:
    app = await _daemon(tmp_path, make_dist)
    app.auth.create_user("admin", "correct horse battery", "admin")
    app.auth.create_user("viewer", "correct horse battery", "readonly")
    admin_key, _ = app.auth.create_key("admin", "t")
    viewer_key, _ = app.auth.create_key("viewer", "t")
    service = next(s for s in app.services if type(s).__name__ == "NotesService")
    server = TestServer(app.web, host="127.0.0.1")
    async with TestClient(server, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        assert service.events == ["start"]
        note = await api_call(client, "POST", "/notes", 201, json={"text": "hello"})
        assert note == {"id": 1, "text": "hello"}
        assert await api_call(client, "GET", "/notes/1", 200) == note
        bad = await api_call(client, "POST", "/notes", 422, json={"text": ""})
        assert bad["error"]["details"]["errors"][0]["loc"] == ["body", "text"]
        assert await api_call(client, "GET", "/notes-whoami", 200) == {"rest": True}

        # the same operations through app.call, validated by the same models
        assert await app.call("notes.count") == 1
        made = await app.call("notes.create", body={"text": "via call"})
        assert made["id"] == 2
        try:
            await app.call("notes.create", body={"text": "x" * 21})
        except Exception as exc:  # APIError 422 naming the field
            assert getattr(exc, "status", None) == 422 and "text" in str(exc)
        else:
            raise AssertionError("an invalid body passed app.call")
        assert (await app.call("notes.get", note="2"))["text"] == "via call"

        # a method without a query (or body) parameter receives the model's fields by name
        found = await api_call(client, "GET", "/notes?contains=via&limit=5", 200)
        assert [n["id"] for n in found] == [2]
        assert [n["id"] for n in await app.call("notes.search", contains="hel")] == [1]
        bad = await api_call(client, "GET", "/notes?contains=x&limit=0", 422)
        assert bad["error"]["details"]["errors"][0]["loc"] == ["query", "limit"]
        try:
            await app.call("notes.search", contains="")
        except Exception as exc:
            assert getattr(exc, "status", None) == 422 and "contains" in str(exc)
        else:
            raise AssertionError("an invalid query passed app.call")
        assert await api_call(client, "GET", "/notes-raw", 200) == {"encoded": True}

        # roles: GET readonly, POST admin — from the one declaration
        viewer = {"Authorization": f"Bearer {viewer_key}"}
        await api_call(client, "GET", "/notes/1", 200, headers=viewer)
        await api_call(client, "POST", "/notes", 403, json={"text": "no"}, headers=viewer)

        spec = await api_call(client, "GET", "/openapi.json", 200)
        op = spec["paths"]["/api/v1/notes"]["post"]
        assert op["x-plugin"] == "sigmavault-notes" and op["summary"] == "Write a note"
        assert "201" in op["responses"]
        assert app.services[type(service)] is service
    assert service.events == ["start", "stop"]
    sys.modules.pop("sigmavault_notes_plugin", None)


async def test_a_missing_service_is_a_503_naming_it(tmp_path: Path) -> None:
    app = SigmaVault(Config.model_validate({"data_dir": tmp_path / "data"}))

    class Absent:
        pass

    try:
        app.services[Absent]
    except Exception as exc:
        assert getattr(exc, "status", None) == 503 and "Absent" in str(exc)
    else:
        raise AssertionError("a missing service was returned")
    assert app.services.get(Absent) is None
