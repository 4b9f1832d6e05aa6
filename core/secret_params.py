"""Params models with ``SecretStr``/``SecretBytes`` fields, kept without losing their secrets.

A validated model splits into a public dump (JSON, every secret shown as pydantic's mask — what
the API, events, audit and job records carry) and its secrets, which are sealed at rest with
:mod:`sigmavault.sealed`. Put back together, the params validate to the model that was split.
An update that echoes the mask where a secret is stored means "keep the stored secret".
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from .errors import APIError
from .sealed import Sealer

MASK = "**********"  # pydantic's display of a SecretStr / SecretBytes

Path = tuple[str | int, ...]
Secrets = list[dict[str, Any]]  # [{"path": [...], "value": str, "bytes": bool}]


def secret_values(model: BaseModel) -> dict[Path, SecretStr | SecretBytes]:
    """Every secret field of ``model`` (nested models, lists and dicts included) by its path."""
    found: dict[Path, SecretStr | SecretBytes] = {}

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, (SecretStr, SecretBytes)):
            found[path] = value
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, (*path, index))

    walk(model.model_dump(), ())
    return found


def split(model: BaseModel) -> tuple[dict[str, Any], Secrets]:
    """The public JSON dump of ``model`` (secrets masked) and its secrets."""
    secrets: Secrets = []
    for path, secret in secret_values(model).items():
        raw = secret.get_secret_value()
        if isinstance(raw, bytes):
            secrets.append({"path": list(path), "value": base64.b64encode(raw).decode(), "bytes": True})
        else:
            secrets.append({"path": list(path), "value": raw, "bytes": False})
    return model.model_dump(mode="json"), secrets


def merge(params: dict[str, Any], secrets: Secrets) -> dict[str, Any]:
    """``params`` (a public dump) with each secret put back where it was split from."""
    out = json.loads(json.dumps(params))
    for secret in secrets:
        _put(out, secret["path"], _value(secret))
    return out


def keep_stored(params: dict[str, Any], secrets: Secrets) -> dict[str, Any]:
    """Incoming ``params`` where each mask at a stored secret's path is that stored secret."""
    out = json.loads(json.dumps(params))
    for secret in secrets:
        if _get(out, secret["path"]) == MASK:
            _put(out, secret["path"], _value(secret))
    return out


def refuse_masks(model: BaseModel, field: str = "params") -> None:
    """422 when a secret of ``model`` is the mask itself: an echo of output with nothing to keep."""
    for path, secret in secret_values(model).items():
        raw = secret.get_secret_value()
        if raw == MASK or raw == MASK.encode():
            name = ".".join([field, *map(str, path)])
            raise APIError(422, "masked_secret",
                           f"{name} is the display mask {MASK!r}, not a secret: send the secret itself",
                           {"field": name})


def seal(secrets: Secrets, sealer: Sealer, context: str) -> str | None:
    """The sealed token of ``secrets`` (None when there are none)."""
    if not secrets:
        return None
    return sealer.seal(json.dumps(secrets).encode(), context)


def unseal(token: str | None, sealer: Sealer, context: str) -> Secrets:
    """The secrets sealed in ``token`` (raises :class:`sigmavault.sealed.SealError`)."""
    if not token:
        return []
    return json.loads(sealer.unseal(token, context))


def _value(secret: dict[str, Any]) -> Any:
    return base64.b64decode(secret["value"]) if secret.get("bytes") else secret["value"]


def _get(data: Any, path: list[Any]) -> Any:
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _put(data: Any, path: list[Any], value: Any) -> None:
    parent = _get(data, path[:-1])
    if isinstance(parent, dict) or (isinstance(parent, list) and isinstance(path[-1], int)
                                    and path[-1] < len(parent)):
        parent[path[-1]] = value
