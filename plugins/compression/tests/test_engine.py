"""The codecs and the streaming engine on real files, checked against the real CLIs."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
from pathlib import Path

import pytest

from sigmavault.testing import require_tool
from sigmavault_compression import engine
from sigmavault_compression.codecs import BUILTIN_CODECS, CorruptArchive, builtin_registry

REGISTRY = builtin_registry()
CODECS = [c.name for c in BUILTIN_CODECS]


def semi_compressible(size: int, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    words = [b"alpha", b"vault", b"sigma", b"pool", b"snapshot", b"zstd", b"\n", b"1234"]
    out = bytearray()
    while len(out) < size:
        if rnd.random() < 0.3:
            out += rnd.randbytes(rnd.randint(16, 400))
        else:
            out += b" ".join(rnd.choice(words) for _ in range(rnd.randint(5, 60)))
    return bytes(out[:size])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.bin"
    path.write_bytes(semi_compressible(1024 * 1024 + 17))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "folder"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello " * 5000)
    (root / "sub" / "b.bin").write_bytes(os.urandom(70000))
    (root / "sub" / "deeper" / "empty").write_bytes(b"")
    (root / "link").symlink_to("a.txt")
    os.chmod(root / "a.txt", 0o640)
    return root


def tree_digest(root: Path) -> dict[str, str]:
    result = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            result[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            result[rel] = hashlib.sha256(path.read_bytes()).hexdigest() + oct(path.stat().st_mode)
        else:
            result[rel] = "dir"
    return result


@pytest.mark.parametrize("name", CODECS)
def test_file_round_trip_is_byte_exact(name: str, sample: Path, tmp_path: Path) -> None:
    codec = REGISTRY.get(name)
    archive = tmp_path / f"sample.bin{codec.extension}"
    seen = []
    out = engine.compress(sample, archive, codec, progress=seen.append)
    assert out.uncompressed == sample.stat().st_size
    assert out.compressed == archive.stat().st_size
    assert archive.read_bytes().startswith(codec.magic)
    assert out.to_dict()["ratio"] > 1.2
    assert seen[-1]["percent"] == 100.0
    restored = tmp_path / "restored.bin"
    back = engine.decompress(archive, restored, codec)
    assert back.operation == "decompress"
    assert sha(restored) == sha(sample)
    checked = engine.verify(archive, codec)
    assert checked.sha256 == sha(sample)
    assert not list(tmp_path.glob(".*sigmavault-tmp*"))


@pytest.mark.parametrize("name", CODECS)
def test_empty_file_round_trip(name: str, tmp_path: Path) -> None:
    codec = REGISTRY.get(name)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    engine.compress(empty, tmp_path / "e.arc", codec)
    engine.decompress(tmp_path / "e.arc", tmp_path / "e.out", codec)
    assert (tmp_path / "e.out").read_bytes() == b""


@pytest.mark.parametrize("name", CODECS)
def test_folder_round_trip_through_tar(name: str, tree: Path, tmp_path: Path) -> None:
    codec = REGISTRY.get(name)
    archive = engine.default_compress_target(tree, codec)
    out = engine.compress(tree, archive, codec, verify=True)
    assert archive.name == f"folder.tar{codec.extension}"
    assert out.payload == "tar" and out.members == 7 and out.verified
    dest = tmp_path / "restore"
    back = engine.decompress(archive, dest, engine.detect_codec(REGISTRY, archive, None))
    assert back.operation == "extract" and back.members == 7
    assert tree_digest(dest / "folder") == tree_digest(tree)
    assert [p.name for p in dest.iterdir()] == ["folder"]  # staging folder is gone


def test_zstd_uses_threads_and_writes_a_checksum(sample: Path, tmp_path: Path) -> None:
    import zstandard
    archive = tmp_path / "s.zst"
    out = engine.compress(sample, archive, REGISTRY.get("zstd"), level=5, threads=2)
    assert out.threads == 2 and out.level == 5
    params = zstandard.get_frame_parameters(archive.read_bytes()[:18])
    assert params.has_checksum


def test_levels_are_checked(sample: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out of range 1..9"):
        engine.compress(sample, tmp_path / "x.gz", REGISTRY.get("gzip"), level=12)
    assert not (tmp_path / "x.gz").exists()


# tool → (codec, decode argv, encode argv); pzstd writes a skippable frame before every frame
CLI = {"zstd": ("zstd", ["zstd", "-q", "-d", "-c"], ["zstd", "-q", "-c", "-T2"]),
       "pzstd": ("zstd", ["pzstd", "-q", "-d", "-c"], ["pzstd", "-q", "-c", "-p", "2"]),
       "gzip": ("gzip", ["gzip", "-d", "-c"], ["gzip", "-c"]),
       "xz": ("xz", ["xz", "-d", "-c"], ["xz", "-c"]),
       "bzip2": ("bz2", ["bzip2", "-d", "-c"], ["bzip2", "-c"])}


@pytest.mark.parametrize("tool", CLI)
def test_archives_made_here_decode_with_the_cli(tool: str, sample: Path, tmp_path: Path) -> None:
    require_tool(tool)
    name, decode, _encode = CLI[tool]
    codec = REGISTRY.get(name)
    archive = tmp_path / f"s{codec.extension}"
    engine.compress(sample, archive, codec, threads=2)
    with open(archive, "rb") as f:
        decoded = subprocess.run(decode, stdin=f, capture_output=True, check=True).stdout
    assert hashlib.sha256(decoded).hexdigest() == sha(sample)
    subprocess.run([tool, "-q", "-t", str(archive)], check=True)


@pytest.mark.parametrize("tool", CLI)
def test_cli_archives_decode_here(tool: str, sample: Path, tmp_path: Path) -> None:
    require_tool(tool)
    name, _decode, encode = CLI[tool]
    archive = tmp_path / f"cli{REGISTRY.get(name).extension}"
    with open(sample, "rb") as f, open(archive, "wb") as out:
        subprocess.run(encode, stdin=f, stdout=out, check=True)
    codec = engine.detect_codec(REGISTRY, archive, None)
    assert codec.name == name
    assert engine.detect_codec(REGISTRY, archive, name) is codec
    engine.decompress(archive, tmp_path / "back", codec)
    assert sha(tmp_path / "back") == sha(sample)


def test_cli_tarball_extracts_here(tree: Path, tmp_path: Path) -> None:
    require_tool("tar")
    archive = tmp_path / "cli.tar.xz"
    subprocess.run(["tar", "-C", str(tree.parent), "-cJf", str(archive), tree.name], check=True)
    dest = tmp_path / "out"
    engine.decompress(archive, dest, engine.detect_codec(REGISTRY, archive, None))
    assert tree_digest(dest / "folder") == tree_digest(tree)


def test_multi_frame_zstd_from_cli_concatenation(sample: Path, tmp_path: Path) -> None:
    require_tool("zstd")
    data = sample.read_bytes()
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(data[:1000000])
    b.write_bytes(data[1000000:])
    joined = tmp_path / "joined.zst"
    with open(joined, "wb") as out:
        for part in (a, b):
            out.write(subprocess.run(["zstd", "-q", "-c", str(part)], capture_output=True,
                                     check=True).stdout)
    engine.decompress(joined, tmp_path / "back", REGISTRY.get("zstd"))
    assert (tmp_path / "back").read_bytes() == data


@pytest.mark.parametrize("name", CODECS)
@pytest.mark.parametrize("cut", ["last_byte", "half", "header"])
def test_truncation_is_detected(name: str, cut: str, sample: Path, tmp_path: Path) -> None:
    codec = REGISTRY.get(name)
    archive = tmp_path / "s.arc"
    engine.compress(sample, archive, codec, level=codec.levels.min)
    data = archive.read_bytes()
    keep = {"last_byte": len(data) - 1, "half": len(data) // 2, "header": len(codec.magic) + 2}[cut]
    archive.write_bytes(data[:keep])
    target = tmp_path / "out"
    with pytest.raises(CorruptArchive, match="(?i)truncat|end|corrupt"):
        engine.decompress(archive, target, codec)
    assert not target.exists()
    assert not list(tmp_path.glob(".*sigmavault-tmp*"))
    with pytest.raises(CorruptArchive):
        engine.verify(archive, codec)


@pytest.mark.parametrize("name", CODECS)
def test_bit_flips_are_detected(name: str, sample: Path, tmp_path: Path) -> None:
    codec = REGISTRY.get(name)
    archive = tmp_path / "s.arc"
    engine.compress(sample, archive, codec, level=codec.levels.min)
    data = archive.read_bytes()
    rnd = random.Random(7)
    for trial in range(6):
        pos = rnd.randrange(len(codec.magic) + 8, len(data))
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rnd.randrange(8)
        archive.write_bytes(bytes(flipped))
        with pytest.raises(CorruptArchive):
            engine.verify(archive, codec)


def test_trailing_garbage_after_zstd_frame_is_an_error(sample: Path, tmp_path: Path) -> None:
    archive = tmp_path / "s.zst"
    engine.compress(sample, archive, REGISTRY.get("zstd"))
    with open(archive, "ab") as f:
        f.write(b"garbage!")
    with pytest.raises(CorruptArchive, match="trailing data"):
        engine.verify(archive, REGISTRY.get("zstd"))


def test_wrong_codec_and_unknown_format(sample: Path, tmp_path: Path) -> None:
    with pytest.raises(CorruptArchive, match="not a gzip archive"):
        engine.detect_codec(REGISTRY, sample, "gzip")
    with pytest.raises(CorruptArchive, match="not an archive of any known codec"):
        engine.detect_codec(REGISTRY, sample, None)


@pytest.mark.parametrize("old", ["gzip", "xz", "bz2"])
def test_recompress_in_place_verifies_then_removes_the_source(old: str, sample: Path,
                                                               tmp_path: Path) -> None:
    src_codec, zstd = REGISTRY.get(old), REGISTRY.get("zstd")
    archive = tmp_path / f"data.bin{src_codec.extension}"
    engine.compress(sample, archive, src_codec, level=1)
    target = engine.default_recompress_target(archive, src_codec, zstd)
    assert target.name == "data.bin.zst"
    out = engine.recompress(archive, target, src_codec, zstd, level=3, threads=2,
                            replace_source=True)
    assert out.verified and out.source_removed and out.kept == "new"
    assert not archive.exists()
    engine.decompress(target, tmp_path / "back", zstd)
    assert sha(tmp_path / "back") == sha(sample)


def test_recompress_of_a_corrupt_source_keeps_it(sample: Path, tmp_path: Path) -> None:
    gz = REGISTRY.get("gzip")
    archive = tmp_path / "data.gz"
    engine.compress(sample, archive, gz)
    archive.write_bytes(archive.read_bytes()[:-100])
    before = sha(archive)
    with pytest.raises(CorruptArchive):
        engine.recompress(archive, tmp_path / "data.zst", gz, REGISTRY.get("zstd"),
                          replace_source=True)
    assert sha(archive) == before
    assert not (tmp_path / "data.zst").exists()


def test_recompress_keep_smaller_keeps_the_original(tmp_path: Path) -> None:
    xz, zstd = REGISTRY.get("xz"), REGISTRY.get("zstd")
    src = tmp_path / "text"
    src.write_bytes(semi_compressible(1 << 20, seed=3))
    archive = tmp_path / "text.xz"
    engine.compress(src, archive, xz, level=9)
    out = engine.recompress(archive, tmp_path / "text.zst", xz, zstd, level=1, keep_smaller=True,
                            replace_source=True)
    assert out.kept == "original" and not out.source_removed
    assert archive.exists() and not (tmp_path / "text.zst").exists()


def test_unsafe_tar_member_is_refused(tmp_path: Path) -> None:
    import io
    import tarfile
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    plain = tmp_path / "evil.tar"
    plain.write_bytes(raw.getvalue())
    archive = tmp_path / "evil.tar.gz"
    engine.compress(plain, archive, REGISTRY.get("gzip"))
    dest = tmp_path / "dest"
    with pytest.raises(CorruptArchive, match="unsafe"):
        engine.decompress(archive, dest, REGISTRY.get("gzip"))
    assert not (tmp_path / "escape.txt").exists()
    assert list(dest.iterdir()) == []


def test_cancellation_stops_and_leaves_nothing(sample: Path, tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise Stop()

    with pytest.raises(Stop):
        engine.compress(sample, tmp_path / "s.zst", REGISTRY.get("zstd"), check=check)
    assert not list(tmp_path.glob("*.zst")) and not list(tmp_path.glob(".*sigmavault-tmp*"))
