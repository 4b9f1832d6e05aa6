"""Configuration: defaults < TOML file < environment < command-line flags, validated by pydantic.

Core settings live at the top level of the TOML file; each plugin's settings live in the table it
declares through ``register_config`` and may be overridden by ``SIGMAVAULT_<SECTION>__<KEY>``.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, Field, ValidationError

ENV_PREFIX = "SIGMAVAULT_"
CHECKOUT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """``./var`` of the source checkout when run from one, ``/var/lib/sigmavault`` otherwise."""
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "hookspecs").is_dir():
        return CHECKOUT / "var"
    return Path("/var/lib/sigmavault")


class PluginsConfig(BaseModel):
    disabled: list[str] = Field(default_factory=list,
                                description="distribution names not to load")
    strict: bool = Field(False, description="a plugin that fails to load stops the daemon")


class AuthConfig(BaseModel):
    session_idle_seconds: int = Field(3600, ge=60)
    session_max_seconds: int = Field(12 * 3600, ge=60)
    login_max_failures: int = Field(5, ge=1)
    login_lockout_seconds: int = Field(300, ge=1)
    login_max_lockout_seconds: int = Field(3600, ge=1, description="each further lockout of the "
                                           "same address, user or device doubles, up to this")
    device_cookie_days: int = Field(365, ge=1, description="how long a browser that signed in "
                                    "keeps its device cookie (exempt from others' failed logins)")
    allowed_origins: list[str] = Field(default_factory=list,
                                       description="extra Origins allowed for the WebSocket")


class EventsConfig(BaseModel):
    ring_size: int = Field(1000, ge=10)
    client_queue: int = Field(256, ge=4)
    heartbeat_seconds: float = Field(20.0, gt=0)


class JobsConfig(BaseModel):
    history: int = Field(1000, ge=10, description="finished jobs kept")
    queue_limit: int = Field(16, ge=1, description="jobs waiting for one lock")


class Config(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(12080, ge=0, le=65535)
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="a connection that has not sent a whole request head this long "
        "after it opened or after its last response is closed (also the keep-alive idle time)")
    data_dir: Path = Field(default_factory=default_data_dir)
    log_format: Literal["human", "json"] = "human"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_self_signed: bool = False
    ui_dir: Path | None = Field(None, description="built web UI; default webui/dist of a checkout")
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)

    model_config = {"extra": "allow"}

    def section(self, name: str) -> Any:
        """The validated settings of a plugin's section (see ``Settings.load_sections``)."""
        return self._sections()[name]

    def _sections(self) -> dict[str, Any]:
        extra = self.__pydantic_extra__
        assert extra is not None  # extra="allow" always has the dict
        return extra


class ConfigError(Exception):
    """Invalid configuration; the message names every bad key and why."""


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        path = key[len(ENV_PREFIX):].lower().split("__")
        parsed: Any = _env_value(value)
        if path == ["disable_plugins"]:
            path, parsed = ["plugins", "disabled"], [v.strip() for v in value.split(",") if v.strip()]
        elif path == ["strict_plugins"]:
            path = ["plugins", "strict"]
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = parsed
    return out


def _env_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            pass
    return value


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in over.items():
        merged[k] = _merge(merged[k], v) if isinstance(v, Mapping) and isinstance(merged.get(k), dict) else v
    return merged


def _format(exc: ValidationError, prefix: str = "") -> str:
    lines = []
    for e in exc.errors(include_url=False):
        where = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def load(path: Path | str | None = None, env: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None) -> Config:
    """Read, merge and validate the core configuration (plugin sections are checked later)."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_PREFIX + "CONFIG")
    raw: dict[str, Any] = {}
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    raw = _merge(raw, _env_overrides(env))
    raw = _merge(raw, {k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration{f' in {path}' if path else ''}:\n{_format(exc)}") from None


def load_sections(config: Config, sections: Mapping[str, type[BaseModel]]) -> list[str]:
    """Validate each plugin section in place; return the tables no loaded plugin declares."""
    extra = config._sections()
    unknown = sorted(set(extra) - set(sections))
    problems = []
    for name, model in sections.items():
        value = extra.get(name, {})
        if isinstance(value, BaseModel):
            continue
        try:
            extra[name] = model.model_validate(value)
        except ValidationError as exc:
            problems.append(_format(exc, name))
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))
    return unknown
