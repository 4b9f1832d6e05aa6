"""The snapshot listing cache: a volume's validated snapshot rows, sort orders and encoded
pages, kept while the backend's ``snapshot_list_token`` is unchanged."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic_core import to_json
from typing_extensions import NotRequired, TypedDict

from .models import Snapshot


def rows_of(model: type[BaseModel]) -> TypeAdapter:
    """A validator for lists of ``model`` that yields plain dicts: a TypedDict with the model's
    fields (types, constraints, defaults) and ``extra`` setting. As strict as the model (a test
    compares them), two to three times faster on 10,000 items, as it builds no model objects."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        field = Annotated[info.annotation, info]  # type: ignore[name-defined]
        fields[name] = field if info.is_required() else NotRequired[field]
    make_typeddict: Any = TypedDict  # a TypedDict built at run time, which mypy cannot follow
    row: Any = make_typeddict(f"{model.__name__}Row", fields)
    row.__pydantic_config__ = ConfigDict(extra=model.model_config.get("extra") or "ignore")
    return TypeAdapter(list[row])


SNAPSHOT_ROWS = rows_of(Snapshot)
# sort passes, least significant key first (stable sorts; cheaper than tuple keys)
SORT_PASSES = {"created": (operator.itemgetter("name"), operator.itemgetter("created")),
                "name": (operator.itemgetter("name"),)}


class SnapshotListing:
    """One volume's validated snapshot list (dicts shaped like ``Snapshot``), its sort orders and
    encoded pages, valid while the backend's ``snapshot_list_token`` is unchanged.

    ``sources`` are the backend's dicts the items were validated from. A backend that hands back
    the same dict objects for snapshots that did not change (btrfs does) gets only its new dicts
    validated in the next listing: a row is a pure function of its dict, which backends do not
    change once returned, and the kept reference means no other object can have its ``id``."""

    def __init__(self, token: str, sources: list[dict[str, Any]],
                 previous: SnapshotListing | None = None) -> None:
        self.token = token
        self.sources = sources
        self.items = self._validate(sources, previous)
        self.sorted: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.pages: dict[tuple[str, str, int, int], bytes] = {}

    @staticmethod
    def _validate(sources: list[dict[str, Any]],
                  previous: SnapshotListing | None) -> list[dict[str, Any]]:
        if previous is None or not sources or not previous.sources:
            return SNAPSHOT_ROWS.validate_python(sources)
        known = dict(zip(map(id, previous.sources), previous.items))
        items = [known.get(id(source)) for source in sources]
        fresh = [i for i, item in enumerate(items) if item is None]
        if len(fresh) == len(items):
            return SNAPSHOT_ROWS.validate_python(sources)
        for i, item in zip(fresh, SNAPSHOT_ROWS.validate_python([sources[i] for i in fresh])):
            items[i] = item
        return items  # type: ignore[return-value]

    def page(self, sort: str, order: str, limit: int, offset: int) -> bytes:
        """One page as encoded ``SnapshotPage`` JSON (sort orders and pages are kept)."""
        page_key = (sort, order, limit, offset)
        body = self.pages.get(page_key)
        if body is None:
            ordered = self.sorted.get((sort, order))
            if ordered is None:
                ordered = self.items
                for key in SORT_PASSES[sort]:   # reverse keeps stability: (created, name)
                    ordered = sorted(ordered, key=key, reverse=order == "desc")
                self.sorted[(sort, order)] = ordered
            body = to_json({"items": ordered[offset:offset + limit], "total": len(ordered),
                            "limit": limit, "offset": offset})   # validated rows: plain values
            if len(self.pages) >= 16:
                self.pages.pop(next(iter(self.pages)))
            self.pages[page_key] = body
        return body
