"""Params models with ``SecretStr``/``SecretBytes`` fields, kept without losing their secrets.

A validated model splits into a public dump (JSON, every secret shown as pydantic's mask — what
the API, events, audit and job records carry) and its secrets, which are sealed at rest with
:mod:`sigmavault.sealed`. Put back together, the params validate to the model that was split.
An update that echoes the mask where a secret is stored means "keep the stored secret".

Params that carry another model's params as a plain dict (``{"agent": "VAULT", "params": {...}}``
in a workflow step or a schedule request) are split by that model too, given ``model_of``.
"""

from __future__ import annotations

import base64
import json
import typing
from typing import Any, Callable

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from .errors import APIError
from .sealed import Sealer

MASK = "**********"  # pydantic's display of a SecretStr / SecretBytes

Path = tuple[str | int, ...]
Secrets = list[dict[str, Any]]  # [{"path": [...], "value": str, "bytes": bool}]
ModelOf = Callable[[str], "type[BaseModel] | None"]  # an agent name -> its params model


def secret_values(model: BaseModel, model_of: ModelOf | None = None) -> dict[Path, str | bytes]:
    """Every secret of ``model`` (nested models, lists and dicts included) by its path."""
    found: dict[Path, str | bytes] = {}

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, (SecretStr, SecretBytes)):
            found[path] = value.get_secret_value()
        elif isinstance(value, dict):
            if model_of is not None:
                found.update(_embedded(value, path, model_of))
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, (*path, index))

    walk(model.model_dump(), ())
    return found


def _embedded(value: dict[str, Any], path: Path, model_of: ModelOf) -> dict[Path, str | bytes]:
    """The secrets of ``{"agent": name, "params": {...}}`` by the named agent's params model."""
    agent, params = value.get("agent"), value.get("params")
    if not isinstance(agent, str) or not isinstance(params, dict):
        return {}
    cls = model_of(agent)
    if cls is None:
        return {}
    at = (*path, "params")
    try:
        inner = cls.model_validate(params)
    except ValidationError:  # e.g. a workflow step's ${prev.…} templates: the top-level fields
        return {(*at, name): params[name] for name, field in cls.model_fields.items()
                if name in params and isinstance(params[name], (str, bytes)) and _is_secret(field.annotation)}
    return {(*at, *p): v for p, v in secret_values(inner, model_of).items()}


def _is_secret(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_is_secret(arg) for arg in typing.get_args(annotation))


def split(model: BaseModel, model_of: ModelOf | None = None) -> tuple[dict[str, Any], Secrets]:
    """The public JSON dump of ``model`` (secrets masked) and its secrets."""
    public = model.model_dump(mode="json")
    secrets: Secrets = []
    for path, raw in secret_values(model, model_of).items():
        _put(public, list(path), MASK)
        if isinstance(raw, bytes):
            secrets.append({"path": list(path), "value": base64.b64encode(raw).decode(), "bytes": True})
        else:
            secrets.append({"path": list(path), "value": raw, "bytes": False})
    return public, secrets


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


def refuse_masks(model: BaseModel, model_of: ModelOf | None = None, field: str = "params") -> None:
    """422 when a secret of ``model`` is the mask itself: an echo of output with nothing to keep."""
    for path, raw in secret_values(model, model_of).items():
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
