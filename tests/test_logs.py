"""Structured logs of a real daemon: JSON or human lines, each carrying the request id that the
client sent in X-Request-ID (or the one the daemon made up and answered with)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from sigmavault.testing import Daemon


def _get(daemon: Daemon, path: str, request_id: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(daemon.url + path,
                                 headers={"X-Request-ID": request_id} if request_id else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers["X-Request-ID"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["X-Request-ID"]


def _lines(daemon: Daemon, needle: str, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in daemon.log_path.read_text().splitlines() if needle in line]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def daemon(sv_daemon, request) -> Daemon:
    return sv_daemon(f'log_format = "{request.param}"\n')


@pytest.mark.parametrize("daemon", ["json"], indirect=True)
def test_json_lines_carry_the_request_id(daemon):
    assert _get(daemon, "/api/v1/no-such-thing", "trace-7f3a") == (404, "trace-7f3a")
    status, made_up = _get(daemon, "/api/v1/also-missing")
    assert status == 404 and len(made_up) == 16
    entries = [json.loads(line) for line in daemon.log_path.read_text().splitlines()
               if line.startswith("{")]
    assert entries and all({"ts", "level", "logger", "request_id", "msg"} <= set(e) for e in entries)
    (mine,) = [e for e in entries if e["request_id"] == "trace-7f3a"]
    assert (mine["msg"], mine["level"], mine["logger"]) == (
        "GET /api/v1/no-such-thing 404", "INFO", "sigmavault")
    assert isinstance(mine["ms"], float)
    (theirs,) = [e for e in entries if e["request_id"] == made_up]
    assert theirs["msg"] == "GET /api/v1/also-missing 404"
    assert any(e["request_id"] == "-" for e in entries)  # startup lines: no request
    for e in entries:  # commands the plugins ran at startup (btrfs --version, ...)
        if e["logger"] == "sigmavault.commands" and e["msg"] != "process started":
            assert isinstance(e["argv"], list) and {"duration", "returncode"} <= set(e), e


@pytest.mark.parametrize("daemon", ["human"], indirect=True)
def test_human_lines_carry_the_request_id(daemon):
    assert _get(daemon, "/api/v1/no-such-thing", "trace-9c1d") == (404, "trace-9c1d")
    (line,) = _lines(daemon, "[trace-9c1d]")
    assert " INFO    sigmavault [trace-9c1d] GET /api/v1/no-such-thing 404 ms=" in line
