"""The codec interface and the four codecs this plugin ships: zstd, gzip, xz and bz2.

A codec is any object with these attributes (duck-typed, so a third-party plugin needs no import
from this package; see ``docs/plugins/compression.md``):

``name``           short lowercase id, e.g. ``"zstd"``
``levels``         object with ``min``, ``max``, ``default`` ints (or a mapping with those keys,
                   or a ``(min, max, default)`` tuple)
``extension``      file suffix with its dot, e.g. ``".zst"``
``magic``          the bytes every stream of this codec starts with
``alt_magic``      (optional) a tuple of other byte strings a valid stream may start with
``multithreaded``  whether ``threads`` > 1 makes the compressor use several cores
``compressor(fileobj, level, threads)``  → writable binary stream; ``write(b)`` compresses,
                   ``close()`` finishes the stream and must NOT close ``fileobj``
``decompressor(fileobj)``  → readable binary stream; ``read(n)`` returns at most ``n`` bytes and
                   raises (any exception) when the input is truncated or corrupt; ``close()`` must
                   NOT close ``fileobj``
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Union, cast

import zstandard

from .errors import CorruptArchive, UnsupportedArchive  # noqa: F401 (re-exported)
from .multistream import bz2_streams, xz_streams
from .zstd_frames import SKIPPABLE_MAGICS, FrameError, FrameWalker, WalkingReader

CODEC_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


Buffer = Union[bytes, bytearray, memoryview]


class ByteSource(Protocol):
    """What a decoder reads from (and what it is): ``read(n)`` gives at most ``n`` bytes."""

    def read(self, size: int = -1, /) -> bytes: ...


class ByteSink(Protocol):
    """What an encoder writes to (and what it is)."""

    def write(self, data: Buffer, /) -> int | None: ...


class Encoder(ByteSink, Protocol):
    """A codec's compressor: ``close()`` finishes the stream, leaving its file open."""

    def close(self) -> None: ...


class Decoder(ByteSource, Protocol):
    """A codec's decompressor: ``close()`` leaves its file open."""

    def close(self) -> None: ...


class CodecError(ValueError):
    """A codec object does not satisfy the interface."""


@dataclass(frozen=True)
class Levels:
    """The compression levels a codec accepts."""

    min: int
    max: int
    default: int

    def check(self, level: int | None) -> int:
        """Return ``level`` (or the default when ``None``); ``ValueError`` when out of range."""
        if level is None:
            return self.default
        if not self.min <= level <= self.max:
            raise ValueError(f"level {level} is out of range {self.min}..{self.max}")
        return level


@dataclass(frozen=True)
class Codec:
    """A codec as this plugin ships them; third-party codecs may be any object of this shape."""

    name: str
    levels: Levels
    extension: str
    magic: bytes
    compressor: Callable[[ByteSink, int, int], Encoder]
    decompressor: Callable[[ByteSource], Decoder]
    multithreaded: bool = False
    description: str = ""
    aliases: tuple[str, ...] = field(default=())
    alt_magic: tuple[bytes, ...] = field(default=())  # other starts a valid stream may have

    def magic_length(self, head: bytes) -> int:
        """Length of the magic ``head`` starts with (``magic`` or one of ``alt_magic``), else 0."""
        return max((len(m) for m in (self.magic, *self.alt_magic) if head.startswith(m)),
                   default=0)


def normalize_levels(levels: Any) -> Levels:
    """Accept a ``Levels``-like object, a mapping or a ``(min, max, default)`` tuple."""
    if isinstance(levels, Mapping):
        lo, hi, default = levels["min"], levels["max"], levels["default"]
    elif isinstance(levels, (tuple, list)) and len(levels) == 3:
        lo, hi, default = levels
    else:
        lo, hi, default = levels.min, levels.max, levels.default
    lo, hi, default = int(lo), int(hi), int(default)
    if not lo <= default <= hi:
        raise CodecError(f"levels must satisfy min <= default <= max, got {lo}, {default}, {hi}")
    return Levels(lo, hi, default)


def validate_codec(obj: Any) -> Codec:
    """Check that ``obj`` has the codec interface and return it as a :class:`Codec`."""
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not CODEC_NAME_RE.fullmatch(name):
        raise CodecError(f"codec name {name!r} must match {CODEC_NAME_RE.pattern}")
    try:
        levels = normalize_levels(getattr(obj, "levels"))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"codec {name}: bad levels: {exc}") from None
    extension = getattr(obj, "extension", None)
    if not isinstance(extension, str) or not re.fullmatch(r"\.[A-Za-z0-9]{1,10}", extension):
        raise CodecError(f"codec {name}: extension {extension!r} must look like '.zst'")
    magic = getattr(obj, "magic", None)
    if not isinstance(magic, (bytes, bytearray)) or not 1 <= len(magic) <= 16:
        raise CodecError(f"codec {name}: magic must be 1-16 bytes")
    alt_magic = tuple(getattr(obj, "alt_magic", ()) or ())
    if not all(isinstance(m, (bytes, bytearray)) and 1 <= len(m) <= 16 for m in alt_magic):
        raise CodecError(f"codec {name}: alt_magic must be a tuple of 1-16 byte strings")
    for attr in ("compressor", "decompressor"):
        if not callable(getattr(obj, attr, None)):
            raise CodecError(f"codec {name}: {attr} must be callable")
    return Codec(name=name, levels=levels, extension=extension, magic=bytes(magic),
                 compressor=obj.compressor, decompressor=obj.decompressor,
                 multithreaded=bool(getattr(obj, "multithreaded", False)),
                 description=str(getattr(obj, "description", "") or ""),
                 aliases=tuple(getattr(obj, "aliases", ()) or ()),
                 alt_magic=tuple(bytes(m) for m in alt_magic))


class CodecRegistry:
    """Codecs by name, with lookup by extension and by magic bytes."""

    def __init__(self, codecs: Iterable[Any] = ()):
        self._codecs: dict[str, Codec] = {}
        for codec in codecs:
            self.add(codec)

    def add(self, obj: Any) -> Codec:
        codec = validate_codec(obj)
        if codec.name in self._codecs:
            raise CodecError(f"codec {codec.name!r} is registered twice")
        self._codecs[codec.name] = codec
        return codec

    def names(self) -> list[str]:
        return sorted(self._codecs)

    def __iter__(self) -> Iterator[Codec]:
        return iter(self._codecs[n] for n in self.names())

    def __contains__(self, name: str) -> bool:
        return name in self._codecs

    def get(self, name: str) -> Codec:
        try:
            return self._codecs[name]
        except KeyError:
            raise KeyError(f"unknown codec {name!r}; known: {', '.join(self.names())}") from None

    def by_magic(self, head: bytes) -> Codec | None:
        """The codec whose magic ``head`` starts with (longest magic wins)."""
        best, best_length = None, 0
        for codec in self._codecs.values():
            length = codec.magic_length(head)
            if length > best_length:
                best, best_length = codec, length
        return best

    def by_extension(self, filename: str) -> Codec | None:
        lower = filename.lower()
        for codec in self._codecs.values():
            if lower.endswith(codec.extension.lower()) or any(
                    lower.endswith(a.lower()) for a in codec.aliases):
                return codec
        return None

    def sniff(self, path: os.PathLike | str) -> Codec | None:
        """The codec of the file at ``path`` judged by its first bytes."""
        with open(path, "rb") as f:
            return self.by_magic(f.read(16))


# --- stream adapters -------------------------------------------------------------------------------


class _ErrorMappingReader(io.RawIOBase):
    """Wrap a decoder stream: decoder exceptions become :class:`CorruptArchive` with context."""

    def __init__(self, inner: Decoder, codec: str, errors: tuple[type[BaseException], ...],
                 finish: Callable[[], None] | None = None):
        self._inner = inner
        self._codec = codec
        self._errors = errors
        self._finish = finish
        self._eof = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._eof:
            return b""
        try:
            data = self._inner.read(size)
            if not data and size != 0:
                self._eof = True
                if self._finish:
                    self._finish()
        except CorruptArchive:
            raise
        except self._errors as exc:
            raise CorruptArchive(f"{self._codec}: corrupt or truncated archive: {exc}") from exc
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


# --- zstd ------------------------------------------------------------------------------------------


ZSTD_MIN_JOB = 4 << 20


def zstd_compressor(fileobj: ByteSink, level: int, threads: int) -> Encoder:
    """A multi-threaded zstd frame with a content checksum, written to ``fileobj``.

    Each worker thread buffers one job's input and output: the job size is held at the
    window size (at least 4 MiB) instead of zstd's default of several windows, which keeps the
    memory of a 2-thread level-3 stream near 30 MB at a cost of well under 1% in ratio.
    """
    workers = threads if threads > 1 else 0
    base = zstandard.ZstdCompressionParameters.from_level(level)
    job_size = max(ZSTD_MIN_JOB, 1 << base.window_log) if workers else 0
    params = zstandard.ZstdCompressionParameters.from_level(
        level, threads=workers, write_checksum=1, job_size=job_size)
    cctx = zstandard.ZstdCompressor(compression_params=params)
    return cctx.stream_writer(cast(Any, fileobj), closefd=False, write_size=1 << 20)


def zstd_decompressor(fileobj: ByteSource) -> Decoder:
    """Decode every frame of ``fileobj``; a frame cut short raises :class:`CorruptArchive`."""
    walker = FrameWalker()
    reader = zstandard.ZstdDecompressor().stream_reader(
        cast(Any, WalkingReader(fileobj, walker)), read_size=1 << 20, read_across_frames=True,
        closefd=False)

    def finish() -> None:
        try:
            walker.finish()
        except FrameError as exc:
            raise CorruptArchive(f"zstd: {exc}") from None

    return _ErrorMappingReader(reader, "zstd", (zstandard.ZstdError, FrameError), finish)


# --- gzip, xz, bz2 (standard library) --------------------------------------------------------------


def gzip_compressor(fileobj: ByteSink, level: int, threads: int) -> Encoder:
    return gzip.GzipFile(fileobj=cast(Any, fileobj), mode="wb", compresslevel=level, mtime=0)


def gzip_decompressor(fileobj: ByteSource) -> Decoder:
    return _ErrorMappingReader(gzip.GzipFile(fileobj=cast(Any, fileobj), mode="rb"), "gzip",
                               (EOFError, gzip.BadGzipFile, zlib.error))


def xz_compressor(fileobj: ByteSink, level: int, threads: int) -> Encoder:
    return lzma.LZMAFile(cast(Any, fileobj), mode="wb", format=lzma.FORMAT_XZ,
                         check=lzma.CHECK_CRC64,
                         preset=level)


def xz_decompressor(fileobj: ByteSource) -> Decoder:
    return xz_streams(fileobj)


def bz2_compressor(fileobj: ByteSink, level: int, threads: int) -> Encoder:
    return bz2.BZ2File(cast(Any, fileobj), mode="wb", compresslevel=level)


def bz2_decompressor(fileobj: ByteSource) -> Decoder:
    return bz2_streams(fileobj)


ZSTD = Codec("zstd", Levels(1, 22, 3), ".zst", b"\x28\xb5\x2f\xfd", zstd_compressor,
             zstd_decompressor, multithreaded=True,
             description="Zstandard (python-zstandard): multi-threaded, content checksum",
             aliases=(".zstd", ".tzst"), alt_magic=SKIPPABLE_MAGICS)
GZIP = Codec("gzip", Levels(1, 9, 6), ".gz", b"\x1f\x8b", gzip_compressor, gzip_decompressor,
             description="gzip / DEFLATE (standard library), CRC-32", aliases=(".tgz",))
XZ = Codec("xz", Levels(0, 9, 6), ".xz", b"\xfd7zXZ\x00", xz_compressor, xz_decompressor,
           description="xz / LZMA2 (standard library), CRC-64", aliases=(".txz",))
BZ2 = Codec("bz2", Levels(1, 9, 9), ".bz2", b"BZh", bz2_compressor, bz2_decompressor,
            description="bzip2 (standard library), CRC-32", aliases=(".tbz2", ".tbz"))

BUILTIN_CODECS: tuple[Codec, ...] = (ZSTD, GZIP, XZ, BZ2)


def builtin_registry() -> CodecRegistry:
    """A registry holding only the codecs this plugin ships."""
    return CodecRegistry(BUILTIN_CODECS)
