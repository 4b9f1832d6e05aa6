"""Numbers as the ZFS tools print them: sizes with binary units, ratios, counters, times."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

_UNITS = {"": 0, "B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6, "Z": 7}
_SIZE_RE = re.compile(r"^(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>[KMGTPEZ]?)(?:i?B)?$", re.IGNORECASE)
_NONE = {"-", "none", ""}


def parse_size(text: str) -> int | None:
    """Bytes from a ZFS size: ``"4096"``, ``"0B"``, ``"432K"``, ``"90.7M"``, ``"1.27K"``.

    ZFS units are powers of 1024 (``zfs_nicenum``). A value printed with a unit is rounded by the
    tool, so the result is the exact value of what was printed, rounded to the nearest byte.
    ``"-"`` and ``"none"`` give ``None``; anything else unparseable raises ``ValueError``.
    """
    if text.isdigit():  # exact bytes (-p): the common case, kept cheap for 10,000-row listings
        return int(text)
    text = text.strip()
    if text.lower() in _NONE:
        return None
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"not a ZFS size: {text!r}")
    num = m["num"].replace(",", ".")
    power = _UNITS[m["unit"].upper()]
    if "." not in num:
        return int(num) * 1024 ** power
    whole, frac = num.split(".")
    # exact decimal arithmetic: (whole.frac) * 1024**power, rounded half up
    scale = 10 ** len(frac)
    numer = (int(whole) * scale + int(frac)) * 1024 ** power
    return (numer * 2 + scale) // (2 * scale)


def parse_count(text: str) -> int:
    """An error counter from ``zpool status``: ``"0"``, ``"12"``, ``"1.27K"`` (1024-based)."""
    value = parse_size(text)
    return 0 if value is None else value


def parse_ratio(text: str) -> float | None:
    """``"1.89x"`` → 1.89; ``"-"`` → None."""
    text = text.strip().rstrip("xX")
    if text in _NONE:
        return None
    return float(text)


def parse_percent(text: str) -> float | None:
    """``"42%"`` → 42.0; ``"-"`` → None."""
    text = text.strip().rstrip("%")
    return None if text in _NONE else float(text)


def epoch_to_rfc3339(seconds: int | str | None) -> str | None:
    """Seconds since the epoch (as ``zfs get -p creation`` prints) → ``2026-11-27T14:03:11Z``;
    the date ``zfs get`` prints without ``-p`` (``Wed Sep 21 18:23 2022``) is read as local time."""
    if seconds in (None, "", "-"):
        return None
    if isinstance(seconds, str) and not seconds.isdigit():
        return ctime_to_rfc3339(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


def ctime_to_rfc3339(text: str) -> str | None:
    """A ``ctime(3)``-style date (``"Fri Nov 27 14:52:17 2026"``, local time) → RFC 3339 UTC."""
    text = " ".join(text.split())
    for fmt in ("%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M %Y"):
        try:
            local = datetime.strptime(text, fmt).astimezone()
        except ValueError:
            continue
        return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def parse_duration(text: str) -> int | None:
    """``"0h0m"``, ``"1h23m"``, ``"00:00:13"`` or ``"1 days 02:03:04"`` → seconds."""
    text = text.strip()
    m = re.fullmatch(r"(\d+)h(\d+)m", text)
    if m:
        return int(m[1]) * 3600 + int(m[2]) * 60
    m = re.fullmatch(r"(?:(\d+) days? )?(\d+):(\d\d):(\d\d)", text)
    if m:
        return int(m[1] or 0) * 86400 + int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4])
    return None
