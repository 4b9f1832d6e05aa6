"""One confinement rule for every plugin: absolute paths inside allowed roots, symlinks followed."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from sigmavault.errors import APIError
from sigmavault.locations import Location, resolve, within_roots


def test_location_is_a_path_or_a_volume():
    assert Location(path="/srv/a").label() == "/srv/a"
    assert Location(pool="tank", volume="home", subpath="x").label() == "tank/home/x"
    for bad in ({}, {"path": "/a", "pool": "tank", "volume": "v"}, {"pool": "tank"},
                {"pool": "-rf", "volume": "v"}):
        with pytest.raises(ValidationError):
            Location(**bad)


def test_within_roots(tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (tmp_path / "secret").write_text("x")
    os.symlink(tmp_path / "secret", root / "link")
    assert within_roots(root / "d" / "new", [root]) == root / "d" / "new"
    for raw, code in ((root / ".." / "secret", "path_not_allowed"), (root / "link", "path_not_allowed"),
                      ("relative/p", "invalid_path"), ("", "invalid_path"), ("/a\x00b", "invalid_path")):
        with pytest.raises(APIError) as exc:
            within_roots(raw, [root])
        assert (exc.value.status, exc.value.code) == (400, code), raw


async def test_resolve_checks_existence_and_kind(sv_app, tmp_path):
    (tmp_path / "f").write_text("x")
    assert await resolve(sv_app, Location(path=str(tmp_path / "f")), [tmp_path], kind="file") == tmp_path / "f"
    with pytest.raises(APIError) as exc:
        await resolve(sv_app, Location(path=str(tmp_path / "f")), [tmp_path], kind="dir")
    assert exc.value.code == "not_a_directory"
    with pytest.raises(APIError) as exc:
        await resolve(sv_app, Location(path=str(tmp_path / "missing")), [tmp_path])
    assert exc.value.status == 404
    assert await resolve(sv_app, Location(path=str(tmp_path / "new")), [tmp_path], must_exist=False)


async def test_errors_name_the_field(sv_app, tmp_path):
    with pytest.raises(APIError) as exc:
        within_roots("/etc/passwd", [tmp_path], "output")
    assert exc.value.details["field"] == "output" and "output" in exc.value.message
    with pytest.raises(APIError) as exc:
        await resolve(sv_app, Location(path="/etc/passwd"), [tmp_path], field="source")
    assert exc.value.details["field"] == "source.path" and "source.path" in exc.value.message
    with pytest.raises(APIError) as exc:
        await resolve(sv_app, Location(pool="tank", volume="v", subpath="/abs"), [tmp_path],
                      field="target")
    assert exc.value.details["field"] == "target.subpath"
