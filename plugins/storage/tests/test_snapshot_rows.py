"""Snapshot listings are validated into dicts (``rows_of(Snapshot)``) instead of models: the
result and the errors must be those of the ``Snapshot`` model itself."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from sigmavault_storage.models import Snapshot
from sigmavault_storage.service import _SNAPSHOT_ROWS

MODELS = TypeAdapter(list[Snapshot])
GOOD = {"name": "s1", "pool": "p", "volume": "v", "created": "2026-11-27T10:00:00Z"}


def outcome(adapter: TypeAdapter, items: list) -> object:
    try:
        return adapter.dump_json(adapter.validate_python(items))
    except ValidationError as exc:   # a non-dict: "model_type" for the model, "dict_type" here
        return [("not_a_dict", e["loc"]) if e["type"] in ("model_type", "dict_type")
                else (e["type"], e["loc"], e["msg"]) for e in exc.errors()]


@pytest.mark.parametrize("item", [
    GOOD,
    {**GOOD, "writable": True, "used": 4096, "path": "/mnt/x", "properties": {"id": 257}},
    {**GOOD, "unknown": "ignored like the model does"},
    {**GOOD, "writable": "yes"}, {**GOOD, "used": "12"},             # the model's lax coercions
    {**GOOD, "created": None}, {**GOOD, "created": 1795800753},     # errors
    {**GOOD, "writable": "maybe"}, {**GOOD, "used": 1.5}, {**GOOD, "properties": []},
    {k: v for k, v in GOOD.items() if k != "name"}, "not a dict", None,
])
def test_rows_validate_exactly_like_the_model(item):
    expected = outcome(MODELS, [item])
    assert outcome(_SNAPSHOT_ROWS, [item]) == expected


def test_rows_fill_the_model_defaults():
    [row] = _SNAPSHOT_ROWS.validate_python([GOOD])
    assert row == Snapshot.model_validate(GOOD).model_dump()
    assert row == {**GOOD, "writable": False, "used": None, "path": None, "properties": {}}
