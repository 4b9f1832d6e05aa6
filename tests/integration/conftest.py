"""One real daemon with every installed plugin, shared by the end-to-end tests of a module."""

from __future__ import annotations

from typing import Iterator

import pytest

from sigmavault.testing import Daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("integration") / "data")
    d.start()
    try:
        yield d
    finally:
        d.stop()
