"""SYNAPSE: pass results along a workflow with ``${prev.field}`` / ``${steps.N.field}`` references."""

from __future__ import annotations

import re
from typing import Any

_REF = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


def lookup(context: dict[str, Any], dotted: str) -> Any:
    """Follow ``a.b.0.c`` through dicts and lists; ``KeyError`` with the path when it is missing."""
    value: Any = context
    for part in dotted.split("."):
        if isinstance(value, list) and part.lstrip("-").isdigit():
            try:
                value = value[int(part)]
            except IndexError:
                raise KeyError(dotted) from None
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(dotted)
    return value


def substitute(value: Any, context: dict[str, Any]) -> Any:
    """Replace references in every string of ``value``.

    A string that is exactly one reference becomes the referenced value (any JSON type); a
    reference inside a longer string is replaced by its text.
    """
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return lookup(context, whole.group(1))
        return _REF.sub(lambda m: str(lookup(context, m.group(1))), value)
    if isinstance(value, list):
        return [substitute(v, context) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, context) for k, v in value.items()}
    return value
