"""Bech32 (BIP 173) without the 90-character limit, as the age format uses it.

Strings are all-lowercase or all-uppercase; the checksum is computed over the lowercase form.
"""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_REV = {c: i for i, c in enumerate(CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class Bech32Error(ValueError):
    """The string is not valid Bech32."""


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or (acc << (tobits - bits)) & maxv:
        raise Bech32Error("invalid padding in data part")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under human-readable part ``hrp``; the result keeps the case of ``hrp``."""
    upper = hrp.isupper()
    low = hrp.lower()
    values = _convert(data, 8, 5, True)
    polymod = _polymod(_hrp_expand(low) + values + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    out = low + "1" + "".join(CHARSET[v] for v in values + checksum)
    return out.upper() if upper else out


def decode(text: str) -> tuple[str, bytes]:
    """Return ``(hrp, data)``; the hrp is returned in the case it was written in."""
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixed case")
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise Bech32Error("invalid character")
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise Bech32Error("separator misplaced")
    hrp, rest = text[:pos], text[pos + 1:].lower()
    try:
        values = [_REV[c] for c in rest]
    except KeyError:
        raise Bech32Error("invalid data character") from None
    if _polymod(_hrp_expand(hrp.lower()) + values) != 1:
        raise Bech32Error("invalid checksum")
    return hrp, bytes(_convert(values[:-6], 5, 8, False))
