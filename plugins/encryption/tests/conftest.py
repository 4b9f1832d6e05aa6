"""Fixtures shared by the encryption plugin's API and agent tests."""

from __future__ import annotations

import os
import re
import select
import threading
from pathlib import Path

import pytest


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "files"
    path.mkdir()
    return path


@pytest.fixture
def sv_config_overrides(root: Path) -> dict:
    return {"encryption": {"allowed_roots": [str(root)], "scrypt_log_n": 10}}


class Terminal:
    """A pseudo-terminal that types ``answer`` at every passphrase prompt, for programs that read
    passphrases from their terminal (``age -p``, our CLI's ``getpass``)."""

    PROMPT = re.compile(rb"passphrase[^:\n]*: ", re.IGNORECASE)

    def __init__(self, answer: str):
        self.answer = answer.encode() + b"\n"
        self.master, self._slave = os.openpty()
        self.path = os.ttyname(self._slave)
        self.transcript = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        answered = 0
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                self.transcript += os.read(self.master, 4096)
                if len(self.PROMPT.findall(self.transcript)) > answered:
                    os.write(self.master, self.answer)
                    answered += 1

    def __enter__(self) -> "Terminal":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def with_terminal():
    """``await with_terminal(argv, passphrase)``: run ``argv`` (through ``sigmavault.commands.run``)
    as the session leader of a pseudo-terminal that answers its passphrase prompts."""
    from sigmavault.commands import run
    from sigmavault.testing import require_tool

    async def call(argv: list[str], passphrase: str, **kwargs):
        require_tool("setsid")
        with Terminal(passphrase) as tty:
            return await run(["setsid", "--wait", "--ctty", *argv], stdin_path=tty.path, **kwargs)
    return call
