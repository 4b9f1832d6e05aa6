"""Public decoder suites (xz's test files, zstd's golden files) and concatenated streams made by
the real CLIs, each decoded through a decompression job of the REST API.

Every case has a class: ``decode`` (the job succeeds and its output equals the reference
decoder's, byte for byte) or ``refuse`` / ``unsupported`` (refused at submission as no archive,
or a FAILED job whose error says so, with nothing left at the target).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from svcomp_support import other_plugins
from sigmavault.testing import require_tool, wait_job
from sigmavault_compression.filetypes import classify as classify_file

VECTORS = Path(__file__).parent / "vectors"
ZSTD_EXPECTED = {name: digest for digest, name in (
    line.split() for line in (VECTORS / "zstd" / "expected.sha256").read_text().splitlines())}


@dataclass
class Case:
    path: Path
    expect: str  # "decode", "refuse" or "unsupported"
    reference: bytes | None = None  # the reference decoder's output (decode cases)


@pytest.fixture
def sv_config_overrides(work: Path) -> dict:
    return {"plugins": {"disabled": other_plugins()},
            "compression": {"allowed_roots": [str(work)], "max_concurrent_jobs": 2}}


def cli_output(argv: list[str], path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*argv, str(path)], capture_output=True)


def xz_cases(work: Path) -> list[Case]:
    require_tool("xz")
    cases = []
    for src in sorted((VECTORS / "xz").glob("*.xz")):
        path = work / src.name
        shutil.copyfile(src, path)
        expect = src.name.split("-", 1)[0].replace("good", "decode").replace("bad", "refuse")
        ref = cli_output(["xz", "-dc"], path)
        if expect == "decode":
            assert ref.returncode == 0, (src.name, ref.stderr)  # the reference agrees
        elif expect == "refuse":
            assert ref.returncode != 0, src.name
        cases.append(Case(path, expect, ref.stdout if expect == "decode" else None))
    return cases


def zstd_cases(work: Path) -> list[Case]:
    require_tool("zstd")
    cases = []
    for folder, expect in (("golden-decompression", "decode"),
                           ("golden-decompression-errors", "refuse")):
        for src in sorted((VECTORS / "zstd" / folder).glob("*.zst")):
            path = work / f"{folder}-{src.name}"
            shutil.copyfile(src, path)
            reference = None
            if expect == "decode":
                ref = cli_output(["zstd", "-q", "-dc"], path)
                if ref.returncode == 0:  # Debian's zstd 1.5.4 fails zeroSeq_2B (see README)
                    assert hashlib.sha256(ref.stdout).hexdigest() == ZSTD_EXPECTED[
                        f"{folder}/{src.name}"], src.name
                reference = ref.stdout if ref.returncode == 0 else None
            cases.append(Case(path, expect, reference))
    return cases


def generated_cases(work: Path) -> list[Case]:
    """Multi-member gzip, multi-stream bzip2 and xz with Stream Padding, made by the CLIs."""
    for tool in ("gzip", "bzip2", "xz"):
        require_tool(tool)
    parts = [b"first member " * 5000, b"", bytes(range(256)) * 300]
    for i, data in enumerate(parts):
        (work / f"part{i}").write_bytes(data)

    def joined(tool: str, name: str, between: bytes = b"", after: bytes = b"") -> Path:
        pieces = [subprocess.run([tool, "-c", str(work / f"part{i}")], capture_output=True,
                                 check=True).stdout for i in range(len(parts))]
        path = work / name
        path.write_bytes(between.join(pieces) + after)
        return path

    made = {
        "multi.gz": (joined("gzip", "multi.gz"), "decode"),
        "multi-zero-padded.gz": (joined("gzip", "multi-zero-padded.gz", after=b"\0" * 8),
                                 "decode"),
        "multi-garbage.gz": (joined("gzip", "multi-garbage.gz", after=b"garbage!"), "refuse"),
        "multi.bz2": (joined("bzip2", "multi.bz2"), "decode"),
        "multi-garbage.bz2": (joined("bzip2", "multi-garbage.bz2", after=b"garbage!"),
                              "refuse"),
        "multi.xz": (joined("xz", "multi.xz"), "decode"),
        "multi-padded.xz": (joined("xz", "multi-padded.xz", between=b"\0" * 4,
                                   after=b"\0" * 8), "decode"),
        "multi-bad-padding.xz": (joined("xz", "multi-bad-padding.xz", after=b"\0" * 3),
                                 "refuse"),
        "multi-garbage.xz": (joined("xz", "multi-garbage.xz", after=b"garbage!"), "refuse"),
    }
    decoders = {".gz": ["gzip", "-dc"], ".bz2": ["bzip2", "-dc"], ".xz": ["xz", "-dc"]}
    cases = []
    for name, (path, expect) in made.items():
        ref = cli_output(decoders[path.suffix], path)
        if expect == "decode":
            assert ref.returncode == 0 and ref.stdout == b"".join(parts), name
        cases.append(Case(path, expect, ref.stdout if expect == "decode" else None))
    return cases


async def classify(client, work: Path, case: Case) -> str:
    """Decompress ``case`` through the API; the class the plugin gave it, checked in detail."""
    target = work / "out" / (case.path.name + ".out")
    target.parent.mkdir(exist_ok=True)
    resp = await client.post("/api/v1/compression/jobs", json={
        "operation": "decompress", "source": str(case.path), "target": str(target),
        "extract": False})
    body = await resp.json()
    if resp.status == 400:
        assert body["error"]["code"] == "not_an_archive", body
        got = "refuse"
    else:
        assert resp.status == 202, body
        job = await wait_job(client, body["id"])
        if job["state"] == "SUCCESS":
            data = target.read_bytes()
            if case.reference is not None:
                assert data == case.reference, f"{case.path.name}: output differs from the CLI's"
            if case.path.suffix == ".zst" and case.expect == "decode":
                assert hashlib.sha256(data).hexdigest() == ZSTD_EXPECTED[
                    case.path.name.replace("golden-decompression-", "golden-decompression/")]
            return "decode"
        assert job["state"] == "FAILED", job
        error = job["error"]
        assert re.match(r"(xz|zstd|gzip|bz2): .*(corrupt|truncated|unsupported|trailing)",
                        error), error
        got = "unsupported" if "unsupported" in error.lower() else "refuse"
    assert not target.exists(), f"{case.path.name}: output left at the target"
    assert not [p for p in target.parent.iterdir() if "sigmavault-tmp" in p.name]
    return got


@pytest.mark.parametrize("suite", ["xz", "zstd", "generated"])
async def test_every_case_of_the_suite_is_classified(client, work: Path, suite: str) -> None:
    cases = {"xz": xz_cases, "zstd": zstd_cases, "generated": generated_cases}[suite](work)
    results = {case.path.name: (case.expect, await classify(client, work, case))
               for case in cases}
    wrong = {name: got for name, got in results.items() if got[0] != got[1]}
    right = len(results) - len(wrong)
    print(f"\n{suite}: {right}/{len(results)} cases classified correctly "
          f"({100 * right / len(results):.0f} %)")
    assert not wrong, f"(expected, got): {wrong}"
    expected_sizes = {"xz": 71, "zstd": 7, "generated": 9}
    assert len(results) == expected_sizes[suite]


async def test_pzstd_archive_decodes_through_a_job(client, work: Path) -> None:
    """pzstd output starts with a skippable frame; submission refused it as no archive."""
    require_tool("pzstd")
    data = b"pzstd frames " * 200_000
    (work / "p.bin").write_bytes(data)
    subprocess.run(["pzstd", "-q", "-p", "2", str(work / "p.bin"), "-o", str(work / "p.zst")],
                   check=True)
    head = (work / "p.zst").read_bytes()[:4096]
    assert head[:4] == bytes.fromhex("502a4d18")
    assert classify_file(Path("no-extension"), head).compressed  # FLUX skips it as an archive
    for codec in (None, "zstd"):
        body = {"operation": "decompress", "source": str(work / "p.zst"),
                "target": str(work / f"back-{codec}")}
        if codec:
            body["codec"] = codec
        resp = await client.post("/api/v1/compression/jobs", json=body)
        job = await resp.json()
        assert resp.status == 202, job
        done = await wait_job(client, job["id"])
        assert done["state"] == "SUCCESS", done
        assert done["result"]["codec"] == "zstd"
        assert (work / f"back-{codec}").read_bytes() == data
