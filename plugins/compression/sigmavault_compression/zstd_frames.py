"""A pass-through walker of the zstd frame format that knows whether the last frame ended.

python-zstandard's streaming decoders return what they could decode and then EOF when the input
is cut short; they never say that a frame was left unfinished. This walker sees every compressed
byte on its way to the decoder, follows frame headers, block headers and checksums (RFC 8878
section 3.1), and tells at end of input whether it stopped exactly on a frame boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .codecs import ByteSource

ZSTD_MAGIC = 0xFD2FB528
SKIPPABLE_MIN, SKIPPABLE_MAX = 0x184D2A50, 0x184D2A5F
# a zstd stream may begin with a skippable frame (pzstd writes one before every frame)
SKIPPABLE_MAGICS = tuple(m.to_bytes(4, "little") for m in range(SKIPPABLE_MIN, SKIPPABLE_MAX + 1))
_FCS_SIZES = (0, 2, 4, 8)
_DICT_SIZES = (0, 1, 2, 4)


class FrameError(ValueError):
    """The bytes do not follow the zstd frame format (truncated, corrupt or not zstd at all)."""


class FrameWalker:
    """Feed compressed bytes with :meth:`feed`; :meth:`finish` raises if a frame is incomplete."""

    def __init__(self) -> None:
        self.frames = 0  # complete frames, skippable ones included
        self.offset = 0  # absolute input offset, for messages
        self._need = 4  # bytes wanted by the current state
        self._buf = bytearray()  # collects small headers only, never block contents
        self._skip = 0  # block payload / skippable content still to pass over
        self._state = "magic"
        self._checksum = False
        self._descriptor = 0

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        pos, end = 0, len(view)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                if not self._skip:
                    self._after_skip()
                continue
            step = min(self._need - len(self._buf), end - pos)
            self._buf += view[pos:pos + step]
            pos += step
            if len(self._buf) == self._need:
                header, self._buf = bytes(self._buf), bytearray()
                self._advance(header)
        self.offset += end

    def _advance(self, header: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(header, "little")
            if magic == ZSTD_MAGIC:
                self._state, self._need = "descriptor", 1
            elif SKIPPABLE_MIN <= magic <= SKIPPABLE_MAX:
                self._state, self._need = "skippable_size", 4
            else:
                where = "trailing data after the last frame" if self.frames else "not a zstd frame"
                raise FrameError(f"{where} (bad magic {header.hex()} at offset {self.offset})")
        elif state == "skippable_size":
            self._skip = int.from_bytes(header, "little")
            self._state = "skippable_content"
            if not self._skip:
                self._after_skip()
        elif state == "descriptor":
            d = header[0]
            if d & 0x08:
                raise FrameError(f"corrupt zstd frame header (reserved bit set at offset {self.offset})")
            self._descriptor = d
            self._checksum = bool(d & 0x04)
            single_segment = bool(d & 0x20)
            fcs_flag = d >> 6
            fcs = _FCS_SIZES[fcs_flag] if (fcs_flag or not single_segment) else 1
            rest = (0 if single_segment else 1) + _DICT_SIZES[d & 0x03] + fcs
            self._enter_header_rest(rest)
        elif state == "header_rest":
            self._state, self._need = "block_header", 3
        elif state == "block_header":
            value = int.from_bytes(header, "little")
            last, block_type, size = value & 1, (value >> 1) & 3, value >> 3
            if block_type == 3:
                raise FrameError(f"corrupt zstd block header (reserved type at offset {self.offset})")
            if size > 128 * 1024:
                raise FrameError(f"corrupt zstd block header (block of {size} bytes)")
            self._state = "block_last" if last else "block"
            self._skip = 1 if block_type == 1 else size
            if not self._skip:
                self._after_skip()
        elif state == "checksum":
            self._end_frame()

    def _enter_header_rest(self, size: int) -> None:
        if size:
            self._state, self._need = "header_rest", size
        else:
            self._state, self._need = "block_header", 3

    def _after_skip(self) -> None:
        if self._state == "skippable_content":
            self._end_frame()
        elif self._state == "block":
            self._state, self._need = "block_header", 3
        elif self._state == "block_last":
            if self._checksum:
                self._state, self._need = "checksum", 4
            else:
                self._end_frame()

    def _end_frame(self) -> None:
        self.frames += 1
        self._state, self._need = "magic", 4

    def finish(self) -> None:
        """Raise :class:`FrameError` unless the input ended exactly after a complete frame."""
        if self._state != "magic" or self._buf or self._skip:
            raise FrameError(f"truncated zstd archive: input ends inside a frame at offset {self.offset}")
        if not self.frames:
            raise FrameError("not a zstd archive: no frame found")


class WalkingReader:
    """A read-only file object that passes everything it reads through a :class:`FrameWalker`."""

    def __init__(self, raw: "ByteSource", walker: FrameWalker):
        self.raw = raw
        self.walker = walker

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            self.walker.feed(data)
        return data

    def readinto(self, buffer: Any) -> int:  # python-zstandard prefers read(); for completeness
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
