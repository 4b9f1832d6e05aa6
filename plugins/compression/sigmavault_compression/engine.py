"""The streaming engine: compress, decompress/extract, verify and recompress with bounded memory.

Everything here is blocking and runs in a worker thread. Memory stays bounded whatever the input
size: data moves in ``CHUNK``-sized pieces through codec streams. Every output file is written
with :func:`sigmavault.files.atomic_write` (temporary name, fsync, rename) and extracted trees are
staged in a temporary directory and renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from sigmavault.files import atomic_write, fsync_dir

from .codecs import ByteSource, Codec, CodecRegistry, CorruptArchive, Encoder
from .progress import CheckFn, Meter, ProgressFn, format_ratio
from .streams import (CountingReader, CountingWriter, GuardedDecoder, PrefixedReader,
                      read_exactly_upto)

CHUNK = 1 << 20
TAR_BLOCK = 512
STAGING_PREFIX = ".sigmavault-extract-"


class Discarded(Exception):
    """Raised inside an ``atomic_write`` block to drop the new file (keep-the-smaller policy)."""


@dataclass
class Outcome:
    """What an operation did; ``to_dict()`` adds the ratio fields."""

    operation: str
    codec: str
    source: str
    target: str | None
    uncompressed: int
    compressed: int
    seconds: float
    level: int | None = None
    threads: int | None = None
    payload: str = "data"  # "data" or "tar"
    sha256: str | None = None
    verified: bool = False
    source_removed: bool = False
    kept: str | None = None  # recompress with keep_smaller: "new" or "original"
    original_codec: str | None = None
    original_compressed: int | None = None
    members: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(format_ratio(self.uncompressed, self.compressed))
        data["throughput"] = round(self.uncompressed / self.seconds, 1) if self.seconds > 0 else None
        return data


def effective_threads(codec: Codec, threads: int | None) -> int:
    """``0``/``None`` means every core; codecs that are not multi-threaded always use one."""
    if not codec.multithreaded:
        return 1
    return threads if threads and threads > 0 else (os.cpu_count() or 1)


def tar_stream_size(root: Path) -> int:
    """A close estimate of the tar stream size of ``root`` (headers, padded contents, end marker)."""
    total = 2 * TAR_BLOCK
    for dirpath, dirnames, filenames in os.walk(root):
        total += TAR_BLOCK * (1 + len(dirnames))
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            total += TAR_BLOCK
            if stat.S_ISREG(st.st_mode):
                total += -(-st.st_size // TAR_BLOCK) * TAR_BLOCK
    return total


def default_compress_target(source: Path, codec: Codec) -> Path:
    suffix = (".tar" if source.is_dir() else "") + codec.extension
    return source.with_name(source.name + suffix)


def strip_codec_suffix(path: Path, codec: Codec) -> str:
    """``x.tar.gz`` → ``x.tar``; ``x.tgz`` → ``x.tar``; a name without the suffix gets ``.out``."""
    name = path.name
    lower = name.lower()
    if lower.endswith(codec.extension.lower()) and len(name) > len(codec.extension):
        return name[:-len(codec.extension)]
    for alias in codec.aliases:
        if lower.endswith(alias.lower()) and len(name) > len(alias):
            return name[:-len(alias)] + (".tar" if alias.lower().startswith(".t") else "")
    return name + ".out"


def default_recompress_target(source: Path, old: Codec, new: Codec) -> Path:
    return source.with_name(strip_codec_suffix(source, old) + new.extension)


def peek_payload(source: Path, codec: Codec) -> bytes:
    """The first decoded bytes of an archive (up to one tar block)."""
    with open(source, "rb") as raw:
        src = CountingReader(raw, Meter(None), "bytes_in")
        decoder = GuardedDecoder(codec.decompressor(src), src, codec.name, Meter(None))
        try:
            return read_exactly_upto(decoder, TAR_BLOCK)
        finally:
            decoder.close()


def looks_like_tar(head: bytes) -> bool:
    """A POSIX/GNU tar stream has ``ustar`` at offset 257 of its first header block."""
    return len(head) >= 263 and head[257:262] == b"ustar"


def detect_codec(registry: CodecRegistry, source: Path, codec: str | None) -> Codec:
    """The named codec (checked against the file's magic) or the one the magic bytes identify."""
    with open(source, "rb") as f:
        head = f.read(16)
    if codec is not None:
        chosen = registry.get(codec)
        if not chosen.magic_length(head):
            raise CorruptArchive(f"{source.name} is not a {chosen.name} archive "
                                 f"(it starts with {head[:8].hex() or 'nothing'})")
        return chosen
    found = registry.by_magic(head)
    if found is None:
        raise CorruptArchive(f"{source.name} is not an archive of any known codec "
                             f"({', '.join(registry.names())})")
    return found


# --- compress ----------------------------------------------------------------------------------


def compress(source: Path, target: Path, codec: Codec, level: int | None = None,
             threads: int | None = None, *, progress: ProgressFn | None = None,
             check: CheckFn | None = None, verify: bool = False, overwrite: bool = False
             ) -> Outcome:
    """Compress a file, or a folder as a tar stream, into ``target``.

    With ``verify`` the new archive is decoded before it is renamed into place and its content
    must hash like the input did.
    """
    source, target = Path(source), Path(target)
    level = codec.levels.check(level)
    threads = effective_threads(codec, threads)
    is_tree = source.is_dir()
    if is_tree and (target == source or source in target.parents):
        raise ValueError("the target must not lie inside the folder being compressed")
    total = tar_stream_size(source) if is_tree else source.stat().st_size
    meter = Meter(total, progress, compressed_side="out")
    digest = hashlib.sha256() if verify else None
    count = [0]
    tars: list[tarfile.TarFile] = []

    def counter(info: tarfile.TarInfo) -> tarfile.TarInfo:
        count[0] += 1
        # stream mode keeps every TarInfo; memory must not grow
        tars[0].members.clear()  # type: ignore[attr-defined]
        return info

    started = time.monotonic()
    with atomic_write(target, "wb", overwrite=overwrite) as out:
        sink = CountingWriter(out, meter, "bytes_out", check)
        encoder = codec.compressor(sink, level, threads)
        try:
            if is_tree:
                feed = CountingWriter(encoder, meter, "bytes_in", check, also_raw=True,
                                      on_data=digest.update if digest else None)
                with tarfile.open(fileobj=feed, mode="w|", format=tarfile.PAX_FORMAT,
                                  bufsize=CHUNK) as tar:
                    tars.append(tar)
                    tar.add(source, arcname=source.name, filter=counter)
            else:
                _pump_file(source, encoder, meter, check, digest)
        finally:
            encoder.close()
        out.flush()
        if digest is not None:
            _verify_file(_written_path(out), codec, digest.hexdigest(), meter.raw, check)
    return Outcome("compress", codec.name, str(source), str(target), meter.raw, meter.bytes_out,
                   time.monotonic() - started, level, threads, "tar" if is_tree else "data",
                   sha256=digest.hexdigest() if digest else None, verified=verify,
                   members=count[0] if is_tree else None, extra={"progress": meter.done()})


def _pump_file(source: Path, encoder: Encoder, meter: Meter, check: CheckFn | None,
               digest: Any) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(source, "rb", buffering=0) as f:
        while True:
            if check:
                check()
            n = f.readinto(buf)
            if not n:
                break
            chunk = view[:n]
            if digest is not None:
                digest.update(chunk)
            encoder.write(chunk)
            meter.bytes_in += n
            meter.raw += n
            meter.tick()


def _written_path(out: IO[bytes]) -> Path:
    """A path that reads the file ``out`` is writing (``atomic_write``'s temporary file)."""
    temp_path = getattr(out, "temp_path", None)
    if temp_path is not None:
        return Path(temp_path)
    return Path(out.name)


def _verify_file(path: Path, codec: Codec, sha256: str, size: int, check: CheckFn | None) -> None:
    result = _decode_all(path, codec, Meter(None), check, hashlib.sha256())
    if result[0] != size or result[1] != sha256:
        raise CorruptArchive(f"verification failed: the new {codec.name} archive decodes to "
                             f"{result[0]} bytes that differ from the {size} input bytes")


def _decode_all(path: Path, codec: Codec, meter: Meter, check: CheckFn | None,
                digest: Any) -> tuple[int, str, bytes]:
    """Decode ``path`` fully; return (decoded size, sha256 hex, first 512 decoded bytes)."""
    with open(path, "rb") as raw:
        src = CountingReader(raw, meter, "bytes_in", check)
        decoder = GuardedDecoder(codec.decompressor(src), src, codec.name, meter)
        head = b""
        size = 0
        try:
            while True:
                chunk = decoder.read(CHUNK)
                if not chunk:
                    break
                if len(head) < TAR_BLOCK:
                    head += chunk[:TAR_BLOCK - len(head)]
                digest.update(chunk)
                size += len(chunk)
        finally:
            decoder.close()
    return size, digest.hexdigest(), head


# --- verify ------------------------------------------------------------------------------------


def verify(source: Path, codec: Codec, *, progress: ProgressFn | None = None,
           check: CheckFn | None = None) -> Outcome:
    """Decode the whole archive (checksums, end of stream); report its size and SHA-256."""
    source = Path(source)
    meter = Meter(source.stat().st_size, progress, compressed_side="in")
    started = time.monotonic()
    size, sha, head = _decode_all(source, codec, meter, check, hashlib.sha256())
    return Outcome("verify", codec.name, str(source), None, size, meter.bytes_in,
                   time.monotonic() - started, payload="tar" if looks_like_tar(head) else "data",
                   sha256=sha, verified=True, extra={"progress": meter.done()})


# --- decompress / extract ----------------------------------------------------------------------


def decompress(source: Path, target: Path, codec: Codec, *, extract: bool | None = None,
               progress: ProgressFn | None = None, check: CheckFn | None = None,
               overwrite: bool = False) -> Outcome:
    """Decode ``source`` into the file ``target``, or extract its tar payload into the folder
    ``target`` (``extract=None`` decides by looking at the payload).

    An extracted tree is staged in a hidden folder inside ``target`` and its top-level entries
    are renamed into place only after the whole archive decoded and checked out.
    """
    source, target = Path(source), Path(target)
    meter = Meter(source.stat().st_size, progress, compressed_side="in")
    started = time.monotonic()
    with open(source, "rb") as raw:
        src = CountingReader(raw, meter, "bytes_in", check)
        decoder = GuardedDecoder(codec.decompressor(src), src, codec.name, meter)
        try:
            head = read_exactly_upto(decoder, TAR_BLOCK)
            is_tar = looks_like_tar(head)
            if extract is None:
                extract = is_tar
            elif extract and not is_tar:
                raise CorruptArchive(f"{source.name} does not contain a tar archive")
            stream = PrefixedReader(head, decoder)
            members = None
            meter.out_is_raw = bool(extract)
            if extract:
                members = _extract(stream, target, check)
            else:
                with atomic_write(target, "wb", overwrite=overwrite) as out:
                    sink = CountingWriter(out, meter, "bytes_out", check)
                    while True:
                        chunk = stream.read(CHUNK)
                        if not chunk:
                            break
                        sink.write(chunk)
        finally:
            decoder.close()
    return Outcome("extract" if extract else "decompress", codec.name, str(source), str(target),
                   meter.raw, meter.bytes_in, time.monotonic() - started,
                   payload="tar" if extract else "data", members=members, verified=True,
                   extra={"progress": meter.done()})


def _extract(stream: ByteSource, target: Path, check: CheckFn | None) -> int:
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(os.fspath(target / f"{STAGING_PREFIX}{os.getpid()}-{time.monotonic_ns()}"))
    staging.mkdir()
    members = 0
    try:
        with tarfile.open(fileobj=cast(IO[bytes], stream), mode="r|", bufsize=CHUNK) as tar:
            for member in tar:
                if check:
                    check()
                try:
                    tar.extract(member, staging, filter="data")
                except tarfile.FilterError as exc:
                    raise CorruptArchive(f"unsafe archive member refused: {exc}") from None
                members += 1
                # hard links resolve on disk; the list must not grow
                tar.members.clear()  # type: ignore[attr-defined]
        while stream.read(CHUNK):  # trailing padding: decoding to the end checks the stream's end
            pass
        _fsync_tree(staging)
        entries = sorted(staging.iterdir())
        clashes = [e.name for e in entries if (target / e.name).exists() or
                   (target / e.name).is_symlink()]
        if clashes:
            raise FileExistsError(f"{', '.join(clashes[:5])} already exist(s) in {target}")
        for entry in entries:
            os.rename(entry, target / entry.name)
        fsync_dir(target)
    except tarfile.ReadError as exc:
        raise CorruptArchive(f"corrupt tar payload: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return members


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


# --- recompress --------------------------------------------------------------------------------


def recompress(source: Path, target: Path, old: Codec, new: Codec, level: int | None = None,
               threads: int | None = None, *, replace_source: bool = False,
               keep_smaller: bool = False, progress: ProgressFn | None = None,
               check: CheckFn | None = None, overwrite: bool = False) -> Outcome:
    """Re-encode ``source`` (codec ``old``) as ``new`` into ``target``, verified before rename.

    The new archive is decoded and must hash like the old one's content. ``keep_smaller`` drops the
    new archive when it is not smaller. ``replace_source`` removes ``source`` once the verified
    new archive is in place (when ``target`` is ``source`` itself it is replaced atomically).
    """
    source, target = Path(source), Path(target)
    level = new.levels.check(level)
    threads = effective_threads(new, threads)
    original_size = source.stat().st_size
    meter = Meter(original_size, progress, compressed_side="out")
    digest = hashlib.sha256()
    started = time.monotonic()
    kept = "new"
    head = b""
    try:
        with atomic_write(target, "wb", overwrite=overwrite or target == source) as out:
            with open(source, "rb") as raw:
                src = CountingReader(raw, meter, "bytes_in", check)
                decoder = GuardedDecoder(old.decompressor(src), src, old.name, meter)
                sink = CountingWriter(out, meter, "bytes_out", check)
                encoder = new.compressor(sink, level, threads)
                try:
                    while True:
                        chunk = decoder.read(CHUNK)
                        if not chunk:
                            break
                        if len(head) < TAR_BLOCK:
                            head += chunk[:TAR_BLOCK - len(head)]
                        digest.update(chunk)
                        encoder.write(chunk)
                finally:
                    encoder.close()
                    decoder.close()
            out.flush()
            _verify_file(_written_path(out), new, digest.hexdigest(), meter.raw, check)
            if keep_smaller and meter.bytes_out >= original_size:
                raise Discarded()
    except Discarded:
        kept = "original"
    removed = False
    if kept == "new" and replace_source and target != source:
        source.unlink()
        fsync_dir(source.parent)
        removed = True
    return Outcome("recompress", new.name, str(source), str(target) if kept == "new" else None,
                   meter.raw, meter.bytes_out, time.monotonic() - started, level, threads,
                   "tar" if looks_like_tar(head) else "data", sha256=digest.hexdigest(),
                   verified=True, source_removed=removed or (kept == "new" and target == source),
                   kept=kept, original_codec=old.name, original_compressed=original_size,
                   extra={"progress": meter.done()})
