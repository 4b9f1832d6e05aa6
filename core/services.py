"""Plugin services, reached one way, and operations declared once on them.

A plugin's service is an ordinary object registered through the ``register_services`` hook; any
code holding the app reaches it by type: ``app.services[StorageService]``. Its methods marked with
:func:`operation` are the plugin's operations: one declaration gives the named method other plugins
call with ``await app.call(name, ...)`` and, when a path is given, the REST route (body, query and
response models, role, status) — the idea of TrueNAS middleware's ``@api_method``.

The core calls a service's optional ``async start()`` when the daemon starts (in registration
order) and ``async stop()`` when it stops (in reverse order).

What every REST operation of a service shares is said once on its class, as ``route_defaults``:
``errors`` (statuses any of its operations may answer through a shared helper, e.g. storage's 409
``pool_busy``, 501 ``tool_missing``, 504 ``command_timeout``; added to each operation's own
``errors``) and ``params`` (path-parameter types by name, e.g. ``{"pool": Name}``; used where an
operation's path has that parameter and the operation does not type it itself).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from .api import _PATH_PARAM, validation_error
from .errors import APIError

if TYPE_CHECKING:  # pragma: no cover
    from .app import SigmaVault

S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Any])
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_MARK = "__sigmavault_operation__"


@dataclass(frozen=True)
class Operation:
    """What :func:`operation` records about one service method."""

    name: str | None
    method: str | None = None  # HTTP method, when the operation is also a REST route
    path: str | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int | None = None
    role: str | None = None
    public: bool = False
    summary: str = ""
    description: str = ""
    route_options: dict[str, Any] = field(default_factory=dict)


def operation(name: str | None = None, *, get: str | None = None, post: str | None = None,
              put: str | None = None, patch: str | None = None, delete: str | None = None,
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              response: Any = None, status: int | None = None, role: str | None = None,
              public: bool = False, job: bool = False, summary: str = "", description: str = "",
              **route_options: Any) -> Callable[[F], F]:
    """Declare a service method as an operation.

    :param name: the dotted name other plugins call (``storage.snapshot.create``); ``None`` for a
        REST-only operation.
    :param get: (or ``post``/``put``/``patch``/``delete``) the REST path under ``/api/v1``; its
        ``{params}`` are passed to the method by name. Omit every one for a call-only operation.
    :param body: request body model, passed as ``body=``; ``app.call`` callers may pass a dict,
        validated by the same model.
    :param query: query-string model, passed as ``query=`` (likewise validated for callers).
    :param response: the response type; the route validates and serialises the result once.
    :param job: the method returns a :class:`sigmavault.jobs.Job`: 202 with the job.
    :param role: ``readonly`` for GET and ``admin`` otherwise unless given; ``public=True`` means
        no authentication. Other keywords (``tags``, ``content_type``, ``absolute``) go to the
        route as with ``app.api.route``.

    A method with a ``body`` (or ``query``) parameter receives the validated model; a method
    without one receives the model's fields as keyword arguments instead (so ``app.call`` callers
    pass ``name=...`` rather than a body). A method that declares a ``request`` parameter gets
    the aiohttp request on REST calls and ``None`` on ``app.call``.

    Results: pydantic models are serialised once by the route and reach ``app.call`` callers as
    dicts; ``bytes`` are JSON the method encoded (and validated) itself, served as is.
    """
    paths = {m: p for m, p in zip(HTTP_METHODS, (get, post, put, patch, delete)) if p is not None}
    if len(paths) > 1:
        raise ValueError(f"operation {name!r}: one HTTP method per operation, not {sorted(paths)}")
    if name is None and not paths:
        raise ValueError("an operation needs a name, a REST path, or both")
    method, path = next(iter(paths.items()), (None, None))
    if job:
        from .jobs import Job
        response, status = Job, status or 202

    def mark(func: F) -> F:
        setattr(func, _MARK, Operation(
            name=name, method=method.upper() if method else None, path=path, body=body, query=query,
            response=response, status=status, role=role, public=public, summary=summary,
            description=description or ("" if summary else inspect.getdoc(func) or ""),
            route_options=route_options))
        return func

    return mark


def operations_of(obj: Any) -> Iterator[tuple[Operation, Callable[..., Any]]]:
    """The operations declared on ``obj``'s class, each with its bound method, in the order they
    are written (base classes first), so routes are added in that order too."""
    attrs: dict[str, Any] = {}
    for klass in reversed(type(obj).__mro__):
        attrs.update(vars(klass))
    for attr, value in attrs.items():
        spec = getattr(value, _MARK, None)
        if isinstance(spec, Operation):
            yield spec, getattr(obj, attr)


def _validated(model: type[BaseModel] | None, value: Any, where: str) -> Any:
    if model is None or value is None or isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise validation_error(exc, where) from None


class Services:
    """The running services of one daemon, by type."""

    def __init__(self, app: "SigmaVault") -> None:
        self._app = app
        self._items: dict[type, tuple[Any, str]] = {}

    def add(self, service: Any, plugin: str = "sigmavault") -> None:
        """Register ``service`` and its operations (routes and named methods)."""
        if type(service) in self._items:
            raise ValueError(f"a {type(service).__name__} is already registered")
        for spec, bound in operations_of(service):
            if spec.name:
                self._app.add_method(spec.name, _caller(spec, bound), spec.summary or spec.description
                                     .split("\n", 1)[0], plugin)
            if spec.path:
                _route(self._app, spec, bound)
        self._items[type(service)] = (service, plugin)

    def __getitem__(self, kind: type[S]) -> S:
        found = self.get(kind)
        if found is None:
            raise APIError(503, "service_unavailable",
                           f"{kind.__name__} is not running: the plugin that provides it is not "
                           "installed or not started", {"service": kind.__name__})
        return found

    def get(self, kind: type[S]) -> S | None:
        """The registered service of type ``kind`` (or a subclass), or ``None``."""
        item = self._items.get(kind)
        if item is None:
            item = next((i for t, i in self._items.items() if issubclass(t, kind)), None)
        return item[0] if item else None

    def __iter__(self) -> Iterator[Any]:
        return (service for service, _ in list(self._items.values()))

    def remove_plugin(self, plugin: str) -> None:
        for kind in [t for t, (_, p) in self._items.items() if p == plugin]:
            del self._items[kind]

    async def start(self) -> None:
        for service in self:
            if hasattr(service, "start"):
                await service.start()

    async def stop(self) -> None:
        for service in reversed(list(self)):
            if hasattr(service, "stop"):
                await service.stop()


def _takes(func: Callable[..., Any], name: str) -> bool:
    return name in inspect.signature(func).parameters


def _inputs(spec: Operation, func: Callable[..., Any]) -> list[tuple[str, type[BaseModel]]]:
    """``(where, model)`` of the body and query models the method receives as fields."""
    return [(where, model) for where, model in (("body", spec.body), ("query", spec.query))
            if model is not None and not _takes(func, where)]


def _expand(kwargs: dict[str, Any], model: BaseModel | None) -> None:
    if model is not None:
        kwargs.update({name: getattr(model, name) for name in type(model).model_fields})


def _plain(result: Any) -> Any:
    """Models a method returns reach ``app.call`` callers as dicts (REST serialises them once)."""
    if isinstance(result, BaseModel):
        return result.model_dump()
    if isinstance(result, list) and result and isinstance(result[0], BaseModel):
        return [item.model_dump() for item in result]
    return result


def _caller(spec: Operation, bound: Callable[..., Any]) -> Callable[..., Any]:
    wants_request = _takes(bound, "request")
    as_fields = _inputs(spec, bound)

    async def call(**kwargs: Any) -> Any:
        for where, model in as_fields:
            given = {k: kwargs.pop(k) for k in list(kwargs) if k in model.model_fields}
            _expand(kwargs, _validated(model, given, where))
        for where, model in ((w, m) for w, m in (("body", spec.body), ("query", spec.query))
                             if m is not None and (w, m) not in as_fields):
            kwargs[where] = _validated(model, kwargs.get(where, {}), where)
        if wants_request:
            kwargs.setdefault("request", None)
        result = bound(**kwargs)
        return _plain(await result if inspect.isawaitable(result) else result)

    call.__name__ = bound.__name__
    call.__doc__ = bound.__doc__
    return call


def _route(app: "SigmaVault", spec: Operation, bound: Callable[..., Any]) -> None:
    wants_request = _takes(bound, "request")
    as_fields = _inputs(spec, bound)

    async def handler(request: web.Request, **kwargs: Any) -> Any:
        for where, _ in as_fields:
            _expand(kwargs, kwargs.pop(where, None))
        if wants_request:
            kwargs["request"] = request
        result = bound(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, bytes):
            return web.Response(body=result, status=spec.status or 200,
                                content_type="application/json")
        return result

    handler.__name__ = bound.__name__
    handler.__doc__ = spec.description or None
    assert spec.method is not None and spec.path is not None
    options = _with_defaults(spec, getattr(bound, "__self__", None))
    app.api.route(spec.method, spec.path, summary=spec.summary, body=spec.body, query=spec.query,
                  response=spec.response, status=spec.status, role=spec.role, public=spec.public,
                  **options)(handler)


def _with_defaults(spec: Operation, service: Any) -> dict[str, Any]:
    """The operation's route options with its service class's ``route_defaults`` merged in."""
    options = dict(spec.route_options)
    defaults: dict[str, Any] = getattr(type(service), "route_defaults", None) or {}
    unknown = set(defaults) - {"errors", "params"}
    if unknown:
        raise ValueError(f"{type(service).__name__}.route_defaults: unknown keys {sorted(unknown)}")
    if defaults.get("errors"):
        options["errors"] = sorted({*defaults["errors"], *options.get("errors", ())})
    in_path = set(_PATH_PARAM.findall(spec.path or ""))
    params = {k: v for k, v in (defaults.get("params") or {}).items() if k in in_path}
    params.update(options.get("params") or {})
    if params:
        options["params"] = params
    return options
