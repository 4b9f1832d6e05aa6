"""File types (magic bytes, then extension, then a text check), samples and byte entropy."""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import filetype

# MIME main types / subtypes whose content is already compressed: recompressing them wastes time.
COMPRESSED_MIME = {
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif", "image/avif",
    "image/jxl", "video/mp4", "video/x-matroska", "video/webm", "video/quicktime", "video/x-msvideo",
    "video/mpeg", "video/x-flv", "video/x-m4v", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/x-flac",
    "audio/aac", "audio/opus", "audio/x-m4a", "application/zip", "application/gzip",
    "application/x-xz", "application/x-bzip2", "application/zstd", "application/x-7z-compressed",
    "application/x-rar-compressed", "application/x-lzip", "application/x-brotli",
    "application/epub+zip", "application/x-lz4", "application/vnd.rar",
}
COMPRESSED_EXT = {
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".avif", ".mp4", ".mkv", ".webm", ".mov",
    ".avi", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".flac", ".zip", ".gz", ".tgz", ".xz", ".txz",
    ".bz2", ".zst", ".7z", ".rar", ".lz4", ".br", ".docx", ".xlsx", ".pptx", ".odt", ".epub", ".jar",
    ".apk", ".deb", ".rpm",
}
TEXT_EXT = {
    ".txt", ".log", ".csv", ".tsv", ".json", ".xml", ".html", ".htm", ".md", ".rst", ".yaml",
    ".yml", ".toml", ".ini", ".conf", ".py", ".js", ".ts", ".c", ".h", ".cpp", ".go", ".rs",
    ".java", ".sh", ".sql", ".css", ".svg",
}


@dataclass(frozen=True)
class FileType:
    """``label`` groups files for reports (a MIME type, ``text/plain`` or ``application/octet-stream``)."""

    label: str
    extension: str
    compressed: bool  # content is already compressed (media, archives)
    text: bool


def classify(path: Path, head: bytes) -> FileType:
    """Type of ``path`` from its first bytes (magic), its extension and a text check."""
    ext = path.suffix.lower()
    kind = filetype.guess(head) if head else None
    if kind is not None:
        mime = kind.mime
        return FileType(mime, ext, mime in COMPRESSED_MIME or ext in COMPRESSED_EXT, False)
    text = _looks_text(head)
    if ext in COMPRESSED_EXT:
        return FileType(f"ext{ext}", ext, True, False)
    if text or ext in TEXT_EXT:
        return FileType("text/plain" if ext not in TEXT_EXT else f"text/{ext[1:]}", ext, False, True)
    if head.startswith(b"SQLite format 3\x00"):
        return FileType("application/x-sqlite3", ext, False, False)
    return FileType("application/octet-stream", ext, False, False)


def _looks_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # a multi-byte character cut at the end of the sample


def entropy(data: bytes) -> float:
    """Shannon entropy of ``data`` in bits per byte (0 = constant, 8 = random)."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def sample(path: Path, size: int) -> bytes:
    """Up to ``size`` bytes of ``path``: its start, middle and end (one read for small files)."""
    total = path.stat().st_size
    with open(path, "rb") as f:
        if total <= size:
            return f.read(size)
        part = size // 3
        pieces = [f.read(part)]
        f.seek(total // 2 - part // 2)
        pieces.append(f.read(part))
        f.seek(total - (size - 2 * part))
        pieces.append(f.read(size - 2 * part))
        return b"".join(pieces)


def head(path: Path, size: int = 4096) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def walk_files(root: Path, limit: int | None = None) -> Iterator[Path]:
    """Regular files under ``root`` (or ``root`` itself), symlinks and temp files skipped, sorted."""
    if root.is_file():
        yield root
        return
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if "sigmavault-tmp" in name:
                continue
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            yield path
            count += 1
            if limit is not None and count >= limit:
                return
