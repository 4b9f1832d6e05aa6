"""On-disk compression ratios of pools and volumes, where a storage backend reports one."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from .paths import as_dict
from .progress import format_ratio

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.compression")

_RATIO_KEYS = ("compressratio", "compression_ratio", "compress_ratio", "refcompressratio")
_SIZE_PAIRS = (("logicalused", "used"), ("uncompressed", "compressed"),
               ("disk_uncompressed", "disk_usage"))


def parse_ratio(value: Any) -> float | None:
    """``1.52x`` / ``"1.52"`` / ``1.52`` → 1.52; anything else → None."""
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*[xX]?\s*", value)
        if m and float(m.group(1)) > 0:
            return float(m.group(1))
    return None


def ratio_of(item: dict[str, Any]) -> tuple[float, str] | None:
    """The ratio an item (pool or volume dict) reports, and the property it came from."""
    props = item.get("properties") or {}
    for where in (item, props):
        for key in _RATIO_KEYS:
            ratio = parse_ratio(where.get(key))
            if ratio is not None:
                return ratio, key
        for big, small in _SIZE_PAIRS:
            b, s = where.get(big), where.get(small)
            if isinstance(b, (int, float)) and isinstance(s, (int, float)) and b > 0 and s > 0:
                return b / s, f"{big}/{small}"
    return None


async def storage_ratios(app: "SigmaVault") -> tuple[bool, list[dict[str, Any]]]:
    """(storage plugin present, [{pool, volume, backend, ratio, ratio_text, saved_percent, source}])."""
    if not app.has_method("storage.pools.list"):
        return False, []
    rows: list[dict[str, Any]] = []
    try:
        pools = [as_dict(p) for p in await app.call("storage.pools.list") or []]
    except Exception as exc:
        log.warning("storage.pools.list failed: %s", exc)
        return True, []
    for pool in pools:
        _add(rows, pool, pool.get("name"), None, pool.get("backend"))
        if app.has_method("storage.volumes.list"):
            try:
                volumes = await app.call("storage.volumes.list", pool=pool.get("name"))
            except Exception as exc:
                log.warning("storage.volumes.list(%s) failed: %s", pool.get("name"), exc)
                continue
            for volume in volumes or []:
                volume = as_dict(volume)
                _add(rows, volume, pool.get("name"), volume.get("name"), pool.get("backend"))
    return True, rows


def _add(rows: list[dict[str, Any]], item: dict[str, Any], pool: Any, volume: Any,
         backend: Any) -> None:
    found = ratio_of(item)
    if found is None:
        return
    ratio, source = found
    text = format_ratio(int(ratio * 1_000_000), 1_000_000)
    rows.append({"pool": pool, "volume": volume, "backend": backend, **text, "source": source})
