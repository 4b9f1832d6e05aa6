"""The OpenAPI document states what the server enforces (the fast check of what the schemathesis
run in tests/integration/test_fuzz.py finds when it does not): path-parameter patterns, the errors
an operation can give, and the methods of a path."""

from __future__ import annotations

import re

import pytest

from sigmavault import operation
from sigmavault.errors import APIError
from sigmavault.services import _with_defaults, operations_of
from sigmavault.validation import NAME_PATTERN, Name, check_name

SAMPLES = ["tank", "a", "A9", "a.b", "a.", "a..b", "..", ".a", "-a", "a-", "a_b:c", "a b", "a/b",
           "é", "a\n", "", "x" * 64, "x" * 65, "a.-", "a._.b", "0"]


def _checks(value: str) -> bool:
    try:
        check_name(value)
    except APIError:
        return False
    return True


@pytest.mark.parametrize("value", SAMPLES)
def test_the_stated_name_pattern_is_the_rule_check_name_applies(value):
    stated = re.fullmatch(NAME_PATTERN, value) is not None and 1 <= len(value) <= 64
    assert stated == _checks(value)


def _param(spec: dict, path: str, method: str, name: str) -> dict:
    op = spec["paths"][path][method]
    return next(p for p in op["parameters"] if p["in"] == "path" and p["name"] == name)


async def test_storage_path_parameters_state_the_name_rule(client):
    pytest.importorskip("sigmavault_storage")
    spec = await (await client.get("/api/v1/openapi.json")).json()
    base = "/api/v1/storage/pools/{pool}/volumes/{volume}/snapshots/{snapshot}"
    for path, method, names in [("/api/v1/storage/pools/{pool}", "get", ["pool"]),
                                ("/api/v1/storage/pools/{pool}/volumes/{volume}", "delete",
                                 ["pool", "volume"]),
                                (base, "get", ["pool", "volume", "snapshot"])]:
        for name in names:
            schema = _param(spec, path, method, name)["schema"]
            assert schema["pattern"] == NAME_PATTERN, (path, name)
            assert (schema["minLength"], schema["maxLength"]) == (1, 64), (path, name)
        responses = spec["paths"][path][method]["responses"]
        # 400: a name that does not fit; what the shared helpers answer (route_defaults)
        assert {"400", "404", "409", "501", "504"} <= set(responses), (path, sorted(responses))


async def test_a_path_name_that_breaks_the_stated_pattern_is_400_and_one_that_fits_is_not(client):
    pytest.importorskip("sigmavault_storage")
    resp = await client.get("/api/v1/storage/pools/a..b")
    body = await resp.json()
    assert resp.status == 400 and body["error"]["code"] == "invalid_name", body
    assert body["error"]["details"]["field"] == "pool"
    assert "use 1-64 letters" in body["error"]["message"]
    resp = await client.get("/api/v1/storage/pools/" + "x" * 65)
    assert resp.status == 400
    resp = await client.get("/api/v1/storage/pools/no-such.pool")
    assert resp.status == 404


async def test_a_fixed_path_is_not_an_object_of_that_name(client):
    """``/storage/pools/import`` is the import route, as OpenAPI reads it: methods it does not
    have are 405 listing its own (not a pool named ``import``)."""
    pytest.importorskip("sigmavault_storage")
    for method in ("GET", "DELETE", "OPTIONS"):
        resp = await client.request(method, "/api/v1/storage/pools/import")
        assert resp.status == 405, (method, await resp.text())
        assert resp.headers["Allow"] == "POST"


async def test_undeclared_path_parameters_are_non_empty_strings(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert _param(spec, "/api/v1/jobs/{job_id}", "get", "job_id")["schema"] == {
        "type": "string", "minLength": 1}


class _Pools:
    route_defaults = {"errors": (409, 504), "params": {"pool": Name, "volume": Name}}

    @operation("t.pool", get="/t/{pool}", errors=[501])
    async def pool(self, pool: str) -> None:
        """One."""

    @operation("t.other", get="/t/{pool}/x/{volume}", params={"volume": str})
    async def other(self, pool: str, volume: str) -> None:
        """Two."""


def test_route_defaults_add_errors_and_type_only_the_path_parameters_present():
    ops = {spec.name: spec for spec, _ in operations_of(_Pools())}
    one = _with_defaults(ops["t.pool"], _Pools())
    assert one["errors"] == [409, 501, 504] and one["params"] == {"pool": Name}
    two = _with_defaults(ops["t.other"], _Pools())
    assert two["params"] == {"pool": Name, "volume": str}  # the operation's own type wins


@pytest.mark.parametrize("body", [{"path": "/a"}, {"pool": "p", "volume": "v"},
                                  {"pool": "p", "volume": "v", "subpath": "x"}, {"pool": "p"},
                                  {"path": "/a", "pool": "p", "volume": "v"}, {},
                                  {"path": None, "pool": "p", "volume": "v"}])
def test_the_location_schema_states_its_one_of_rule(body):
    from jsonschema import Draft202012Validator
    from pydantic import ValidationError

    from sigmavault.locations import Location
    stated = Draft202012Validator(Location.model_json_schema()).is_valid(body)
    try:
        Location.model_validate(body)
        enforced = True
    except ValidationError:
        enforced = False
    assert stated == enforced


def test_bodies_are_read_as_strictly_as_their_schema():
    from pydantic import BaseModel

    from sigmavault.api import validate_body

    class Body(BaseModel):
        n: int
        x: float = 0
        on: bool = False

    assert validate_body(Body, {"n": 5.0, "x": 1}).n == 5  # 5.0 is an integer in JSON Schema
    for wrong in ({"n": "5"}, {"n": 1, "on": "true"}, {"n": 1.5}):
        with pytest.raises(APIError) as caught:
            validate_body(Body, wrong)
        assert caught.value.status == 422, wrong


async def test_a_body_with_only_defaults_is_optional(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    login = spec["paths"]["/api/v1/auth/login"]["post"]["requestBody"]
    assert login["required"] is True
    optional = [op["requestBody"]["required"] for ops in spec["paths"].values()
                for op in ops.values() if "requestBody" in op]
    assert False in optional  # e.g. POST /network/phantommesh/rotate {"what": "all"} by default
