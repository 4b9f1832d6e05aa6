"""Declared REST routes: validation in, validation out, and the OpenAPI document made from them.

A route is declared once with its models; the same declaration validates the request, checks the
response, decides who may call it (see ``sigmavault.auth``) and feeds ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Awaitable, Callable, Generic, Mapping, Sequence, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaMode

from .errors import APIError

PREFIX = "/api/v1"
MAX_LINE = 64 * 1024  # the longest request line the server reads (``sigmavault serve``)
T = TypeVar("T")
Handler = Callable[..., Awaitable[Any]]
_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable snake_case error code")
    message: str = Field(description="what went wrong, in words a person can act on")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` plus what is needed to fetch the next one."""

    items: list[T]
    total: int
    limit: int
    offset: int


class PageQuery(BaseModel):
    limit: int = Field(100, ge=1, le=10_000)
    offset: int = Field(0, ge=0, le=2**53)


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    role: str | None = "readonly"
    tags: list[str] = field(default_factory=list)
    plugin: str = "sigmavault"
    description: str = ""
    absolute: bool = False
    content_type: str | None = None  # for non-JSON responses (the handler returns a web.Response)
    errors: tuple[int, ...] = ()  # statuses the handler itself may answer (see error_statuses)
    params: dict[str, Any] = field(default_factory=dict)  # path parameter -> type (default: str)

    @property
    def url(self) -> str:
        return self.path if self.absolute else PREFIX + self.path

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)


@lru_cache(maxsize=None)
def _adapter(tp: Any) -> TypeAdapter:
    return TypeAdapter(tp)


def dump(tp: Any, value: Any) -> Any:
    """Validate ``value`` against ``tp`` and return its JSON-ready form."""
    if tp is None:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        return value
    adapter = _adapter(tp)
    return adapter.dump_python(adapter.validate_python(value, from_attributes=True), mode="json")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, separators=(",", ":")), status=status,
                        content_type="application/json")


def validation_error(exc: ValidationError, where: str) -> APIError:
    errors = [
        {"loc": [where, *[str(p) for p in e["loc"]]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False)
    ]
    first = errors[0]
    field_name = ".".join(first["loc"][1:]) or where
    return APIError(422, "validation_error", f"invalid {where}: {field_name}: {first['msg']}",
                    {"errors": errors})


class Api:
    """The route table. Plugins declare routes with ``app.api.get(...)`` and friends."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.current_plugin = "sigmavault"

    def route(self, method: str, path: str, *, summary: str = "", body: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, response: Any = None, status: int | None = None,
              role: str | None = None, public: bool = False, tags: list[str] | None = None,
              absolute: bool = False, content_type: str | None = None,
              errors: Sequence[int] = (),
              params: Mapping[str, Any] | None = None) -> Callable[[Handler], Handler]:
        """Declare a route; ``path`` is relative to ``/api/v1`` and may hold ``{name}`` params.

        ``absolute=True`` mounts ``path`` as is (for ``/metrics``-style well-known URLs);
        ``content_type`` documents a non-JSON response the handler returns itself; ``errors``
        lists the error statuses the handler raises (e.g. ``[404, 409]``), beyond those the
        declaration implies (see :func:`error_statuses`); ``params`` gives path parameters a
        type (e.g. ``{"pool": Name}``): the value is validated before the handler runs (``400
        invalid_name`` naming the parameter) and the OpenAPI document states the type's schema
        (its pattern and lengths). Undeclared path parameters are plain non-empty strings.

        The handler is called as ``handler(request, **path_params[, body=...][, query=...])``.
        ``role`` defaults to ``readonly`` for GET and ``admin`` otherwise; ``public=True`` means
        no authentication at all.
        """
        method = method.upper()
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        unknown = set(params or {}) - set(_PATH_PARAM.findall(path))
        if unknown:
            raise ValueError(f"{method} {path}: params {sorted(unknown)} are not in the path")

        def decorator(handler: Handler) -> Handler:
            doc = inspect.getdoc(handler) or ""
            self.routes.append(Route(
                method=method, path=path, handler=handler,
                summary=summary or (doc.splitlines()[0] if doc else f"{method} {path}"),
                description=doc, body=body, query=query, response=response,
                status=status or (201 if method == "POST" and response is not None else 200),
                role=None if public else (role or ("readonly" if method == "GET" else "admin")),
                tags=tags or [path.strip("/").split("/")[0] or "core"], plugin=self.current_plugin,
                absolute=absolute, content_type=content_type, errors=tuple(errors),
                params=dict(params or {}),
            ))
            return handler

        return decorator

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)

    def find(self, method: str, path: str) -> Route | None:
        for r in self.routes:
            if r.method == method and r.path == path:
                return r
        return None

    def mount(self, web_app: web.Application,
              wrap: Callable[[Route | None, Handler], Handler]) -> None:
        """Add every declared route to the aiohttp router, each handler behind ``wrap`` (the
        request pipeline)."""
        fixed: dict[str, list[str]] = {}  # URL without parameters -> its methods
        for r in self.routes:
            if not r.path_params:
                fixed.setdefault(r.url, []).append(r.method)
        for r in sorted(self.routes, key=lambda r: bool(r.path_params)):  # fixed URLs first
            pattern = _url_pattern(r.url) if r.path_params else None
            shadowed = {url: sorted(methods) for url, methods in fixed.items()
                        if pattern is not None and pattern.fullmatch(url)}
            web_app.router.add_resource(r.url).add_route(r.method, wrap(r, _wrap(r, shadowed)))


def _url_pattern(url: str) -> re.Pattern[str]:
    """What aiohttp's ``{name}`` (one segment) matches in ``url``."""
    parts = re.split(r"(\{\w+\})", url)
    return re.compile("".join("[^{}/]+" if p.startswith("{") else re.escape(p) for p in parts))


JSON_CONTENT_TYPE = "application/json"
MAX_INT_DIGITS = 4300  # Python's own limit for int(str); a longer number is refused, not parsed


class _BadJSON(ValueError):
    """A body that parses but is refused: the message says why."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _BadJSON(f"a number has {len(text.lstrip('-'))} digits; at most {MAX_INT_DIGITS}")
    return int(text)


def _parse_constant(name: str) -> Any:
    raise _BadJSON(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _BadJSON(f"key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def parse_json(text: str) -> Any:
    """Strict JSON: no duplicate keys, NaN or Infinity, over-long integers or runaway nesting
    (each an ``APIError`` 400 ``malformed_json`` naming the problem)."""
    try:
        return json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant,
                          object_pairs_hook=_unique_keys)
    except RecursionError:
        raise APIError(400, "malformed_json", "request body is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, _BadJSON
        raise APIError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None


def _is_json(content_type: str) -> bool:
    return content_type == JSON_CONTENT_TYPE or (
        content_type.startswith("application/") and content_type.endswith("+json"))


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (``{}`` when there is none); 415 unless it is sent as JSON."""
    if not request.can_read_body:
        return {}
    if "Content-Type" not in request.headers or not _is_json(request.content_type):
        sent = request.headers.get("Content-Type", "no Content-Type")
        raise APIError(415, "unsupported_media_type", f"the body must be JSON sent with "
                       f"Content-Type: {JSON_CONTENT_TYPE}, not {sent}", {"content_type": sent})
    try:
        text = await request.text()
    except (UnicodeDecodeError, LookupError) as exc:  # bytes not in the charset; unknown charset
        raise APIError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None
    return parse_json(text)


def validate_body(model: type[BaseModel], data: Any) -> BaseModel:
    """``data`` (parsed JSON) as ``model``, read the way its JSON Schema says: strictly, so that
    ``"5"`` is not a number nor ``"true"`` a boolean (strings still give enums, dates and paths,
    as JSON must), where a number with no fraction (``5.0``) is an integer as in JSON Schema;
    422 naming the field otherwise."""
    try:
        return model.model_validate_json(json.dumps(_whole_numbers(data)), strict=True)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _path_value(name: str, tp: Any, value: str) -> Any:
    """A path parameter checked against its declared type: ``400 invalid_name`` naming it (the
    same answer as :func:`sigmavault.validation.check_name`) when it does not fit."""
    try:
        return _adapter(tp).validate_python(value)
    except ValidationError as exc:
        why = exc.errors(include_url=False, include_context=False)[0]["msg"]
        why = why.removeprefix("Value error, ")
        raise APIError(400, "invalid_name", f"invalid {name} {value!r}: {why}",
                       {"field": name}) from None


def _wrap(r: Route, shadowed: dict[str, list[str]] | None = None) -> Handler:
    """The handler of ``r``. ``shadowed``: the parameter-free URLs its path also matches, with
    their methods. As in OpenAPI, such a URL is that route's, not an object of that name, so a
    method it does not have is 405 there (``DELETE /storage/pools/import`` does not delete a pool
    named ``import``)."""
    async def handler(request: web.Request) -> web.StreamResponse:
        if shadowed and request.path in shadowed:
            raise APIError(405, "method_not_allowed", f"{request.method} is not allowed on "
                           f"{request.path}", {"allowed": shadowed[request.path]})
        kwargs: dict[str, Any] = dict(request.match_info)
        for name, tp in r.params.items():
            kwargs[name] = _path_value(name, tp, kwargs[name])
        if r.body is not None:
            kwargs["body"] = validate_body(r.body, await read_json(request))
        if r.query is not None:
            try:
                kwargs["query"] = r.query.model_validate(dict(request.query))
            except ValidationError as exc:
                raise validation_error(exc, "query") from None
        result = await r.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None and r.response is None:
            return web.Response(status=204)
        return json_response(dump(r.response, result), status=r.status)

    handler.__name__ = getattr(r.handler, "__name__", "handler")
    return handler


# --- OpenAPI -------------------------------------------------------------------------------------


SchemaKey = tuple[str, int]  # (part: body/query/response/path:<name>, route index)


def _schemas(api: Api) -> tuple[dict[SchemaKey, Any], dict[str, Any]]:
    """Every body, query and response schema in one pydantic run, so that same-named models of
    different plugins get distinct component names instead of overwriting each other."""
    inputs: list[tuple[SchemaKey, JsonSchemaMode, TypeAdapter]] = [
        (("error", 0), "serialization", _adapter(ErrorEnvelope))]
    for i, r in enumerate(api.routes):
        parts: tuple[tuple[str, Any, JsonSchemaMode], ...] = (
            ("body", r.body, "validation"), ("query", r.query, "validation"),
            ("response", r.response, "serialization"))
        for part, tp, mode in parts:
            if tp is not None:
                inputs.append(((part, i), mode, _adapter(tp)))
        for name, tp in r.params.items():
            inputs.append(((f"path:{name}", i), "validation", _adapter(tp)))
    by_key, defs = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    return {key: schema for (key, _), schema in by_key.items()}, defs.get("$defs", {})


def _query_params(schema: dict[str, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required,
             "schema": {k: v for k, v in prop.items() if k != "title"}}
            for name, prop in schema.get("properties", {}).items()]


def _param_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A path parameter's schema: its declared type's, else a non-empty string."""
    if schema is None:
        return {"type": "string", "minLength": 1}
    return {k: v for k, v in schema.items() if k not in ("title", "examples")}


_NO_CONTENT = {101: "switching protocols", 204: "done"}
_ERRORS = {400: "malformed request", 401: "no or bad credentials",
           403: "the role is not enough, or the CSRF token is missing", 404: "no such object",
           409: "conflict with the current state", 413: "body too large",
           415: "the body is not sent as application/json",
           422: "the body or query does not match the schema", 429: "too many attempts",
           501: "the tool or plugin needed is not installed",
           503: "unavailable", 504: "an external command did not finish in time"}


def error_statuses(r: Route) -> list[int]:
    """The error statuses ``r`` can answer: those its declaration implies (credentials, role,
    CSRF, body and query validation, path objects) plus the ``errors`` it declares."""
    codes = set(r.errors)
    if r.role is not None:
        codes.add(401)
        if r.role == "admin" or r.method not in ("GET", "HEAD", "OPTIONS"):
            codes.add(403)  # the role, or a session's CSRF token on a write
    if r.body is not None:
        codes |= {400, 413, 415, 422}
    if r.query is not None:
        codes |= {400, 422}  # 400: a URL longer than the HTTP layer reads (see _error_response)
    if r.path_params:
        codes |= {400, 404}
    return sorted(codes)


def _error_response(code: int, error_ref: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _ERRORS.get(code, "error"),
                           "content": {"application/json": {"schema": error_ref}}}
    if code == 400:  # refused by the HTTP layer before any route runs: aiohttp answers in text
        out["description"] += ("; a request line or header longer than the server reads "
                               f"({MAX_LINE // 1024} KiB) is refused in plain text")
        out["content"]["text/plain"] = {"schema": {"type": "string"}}
    if code == 429:
        out["headers"] = {"Retry-After": {"description": "seconds to wait",
                                          "schema": {"type": "integer"}}}
    return out


def openapi(api: Api, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route."""
    schemas, components = _schemas(api)
    error_ref = schemas[("error", 0)]
    paths: dict[str, Any] = {}
    for i, r in sorted(enumerate(api.routes), key=lambda ir: (ir[1].path, ir[1].method)):
        op: dict[str, Any] = {
            "operationId": f"{r.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', r.path).strip('_')}",
            "summary": r.summary, "tags": r.tags, "x-plugin": r.plugin,
            "x-role": r.role or "public",
        }
        if r.description:
            op["description"] = r.description
        params = [{"name": p, "in": "path", "required": True,
                   "schema": _param_schema(schemas.get((f"path:{p}", i)))}
                  for p in r.path_params]
        if r.query is not None:
            params += _query_params(schemas[("query", i)], components)
        if params:
            op["parameters"] = params
        if r.body is not None:
            # a body whose every field has a default may be left out (read as {})
            required = any(f.is_required() for f in r.body.model_fields.values())
            op["requestBody"] = {"required": required, "content": {
                "application/json": {"schema": schemas[("body", i)]}}}
        responses: dict[str, Any] = {}
        if r.content_type is not None:
            responses[str(r.status)] = {"description": "success", "content": {
                r.content_type: {"schema": {"type": "string"}}}}
        elif r.response is None:
            code = 204 if r.status == 200 else r.status
            responses[str(code)] = {"description": _NO_CONTENT.get(code, "done")}
        else:
            responses[str(r.status)] = {"description": "success", "content": {
                "application/json": {"schema": schemas[("response", i)]}}}
        for code in error_statuses(r):
            responses[str(code)] = _error_response(code, error_ref)
        op["responses"] = responses
        if r.role:
            op["security"] = [{"session": []}, {"apiKey": []}]
        paths.setdefault(r.url, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "sigmavault_session"},
                "apiKey": {"type": "http", "scheme": "bearer"},
            },
        },
    }
