"""Snapshot listings are validated into dicts (``rows_of(Snapshot)``) instead of models: the
result and the errors must be those of the ``Snapshot`` model itself."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from sigmavault_storage.models import Snapshot
from sigmavault_storage.listing import SNAPSHOT_ROWS as _SNAPSHOT_ROWS, SnapshotListing as _SnapshotListing

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


def test_a_new_listing_validates_only_the_backend_dicts_it_has_not_seen():
    """Backends that hand back the same dict for an unchanged snapshot (btrfs) get that row's
    validated copy back; a new or replaced dict is validated, errors included."""
    a, b = dict(GOOD), {**GOOD, "name": "s2"}
    first = _SnapshotListing("t1", [a, b])
    b2, c = {**b, "writable": True}, {**GOOD, "name": "s3", "used": "12"}
    second = _SnapshotListing("t2", [c, a, b2], first)
    assert second.items[1] is first.items[0]
    assert second.items[0] == {**first.items[0], "name": "s3", "used": 12}
    assert second.items[2] == {**first.items[1], "writable": True}
    with pytest.raises(ValidationError):
        _SnapshotListing("t3", [a, {**GOOD, "created": None}], second)
    assert _SnapshotListing("t4", [], second).items == []
