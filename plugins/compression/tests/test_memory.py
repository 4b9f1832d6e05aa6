"""Memory stays bounded whatever the input size: a sparse 256 MiB input and a decompression bomb."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sigmavault_compression import engine
from sigmavault_compression.codecs import builtin_registry

REGISTRY = builtin_registry()
BUDGET_MB = 64  # growth of peak RSS allowed above what the process used before


def reset_peak() -> float:
    """Reset VmHWM (Linux) and return the current RSS in MB."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pytest.skip("cannot reset the peak RSS here (/proc/self/clear_refs)")
    return _status("VmRSS")


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(key)


@pytest.fixture
def sparse(tmp_path: Path) -> Path:
    path = tmp_path / "sparse.img"
    with open(path, "wb") as f:
        f.truncate(256 << 20)  # 256 MiB of zeros that use no disk
        f.seek(100 << 20)
        f.write(os.urandom(1 << 20))
    return path


@pytest.mark.parametrize("name", ["zstd", "gzip"])
def test_round_trip_of_a_large_input_stays_within_budget(name: str, sparse: Path,
                                                         tmp_path: Path) -> None:
    codec = REGISTRY.get(name)
    archive = tmp_path / f"sparse{codec.extension}"
    before = reset_peak()
    out = engine.compress(sparse, archive, codec, level=1, threads=2)
    assert out.uncompressed == 256 << 20 and out.compressed < 4 << 20
    assert _status("VmHWM") - before < BUDGET_MB

    before = reset_peak()  # a decompression bomb: a few MiB expand to 256 MiB
    checked = engine.verify(archive, codec)
    assert checked.uncompressed == 256 << 20
    assert _status("VmHWM") - before < BUDGET_MB
