"""Request, response and event models of the notifications plugin."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
CENTRE_ID = "centre"  # the built-in, always-on channel: the in-browser notification centre

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")
_HOST = re.compile(r"^[A-Za-z0-9._:\[\]-]{1,253}$")
_GLOB = re.compile(r"^[^\x00-\x1f]{1,200}$")
# Python's whitespace (what str.strip removes), spelled out: \s differs between Python, Rust
# (pydantic) and ECMA (the schema's readers) regexes
_WS = r"\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
EMAIL_PATTERN = rf"^[^@{_WS}<>,;\"]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$"
# a glob entry: 1 to 200 characters, none a control character, not blank at either end (the
# server strips the ends, so an entry that is all blanks would be empty)
GLOB_PATTERN = rf"^[^{_WS}]([^\x00-\x1f]{{0,198}}[^{_WS}])?$"
MAX_ROW_ID = 2 ** 62  # offsets and ids beyond SQLite's integers are refused (422 naming the field)
Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN)]
Glob = Annotated[str, Field(min_length=1, max_length=200, pattern=GLOB_PATTERN)]


def at_least(severity: str, minimum: str) -> bool:
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(minimum, 0)


class WebhookSettings(BaseModel):
    """POST a JSON body with the alert; signed with HMAC-SHA256 when a secret is set."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook"]
    url: str = Field(max_length=2000, examples=["https://hooks.example.net/sigmavault"])
    secret: SecretStr | None = Field(None, min_length=1, max_length=500, description=(
        "when set, X-SigmaVault-Signature: sha256=<hex HMAC-SHA256 of the body under this secret>"))

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if any(c in url for c in "\r\n\t "):
            raise ValueError("must not contain spaces or line breaks")
        return url.strip()

    @field_validator("secret")
    @classmethod
    def _secret_length(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not 1 <= len(secret.get_secret_value()) <= 500:
            raise ValueError("must be 1 to 500 characters (or null for no signature)")
        return secret if secret is None or secret.get_secret_value() else None


class EmailSettings(BaseModel):
    """Send an email over SMTP."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["email"]
    host: str = Field(max_length=253, examples=["smtp.example.net"])
    port: int = Field(587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = Field("starttls", description=(
        "none: plain SMTP; starttls: upgrade with STARTTLS (required); tls: TLS from the first byte (465)"))
    verify_tls: bool = Field(True, description="check the server's certificate and name")
    username: str | None = Field(None, max_length=200, description="log in with AUTH when set")
    password: SecretStr | None = None
    sender: str = Field(max_length=254, pattern=EMAIL_PATTERN, description="the From address", examples=["nas@example.net"])
    to: list[Email] = Field(min_length=1, max_length=50, description="recipient addresses")

    @field_validator("host")
    @classmethod
    def _host(cls, host: str) -> str:
        if not _HOST.match(host.strip()):
            raise ValueError("must be a host name or IP address")
        return host.strip()

    @field_validator("username")
    @classmethod
    def _username(cls, name: str | None) -> str | None:
        if name is not None and any(c in name for c in "\r\n\x00"):
            raise ValueError("must not contain line breaks")
        return name or None

    @field_validator("sender")
    @classmethod
    def _sender(cls, address: str) -> str:
        if not _EMAIL.match(address.strip()):
            raise ValueError("must be an email address such as nas@example.net")
        return address.strip()

    @field_validator("to")
    @classmethod
    def _to(cls, addresses: list[str]) -> list[str]:
        out = []
        for n, address in enumerate(addresses):
            if not _EMAIL.match(address.strip()):
                raise ValueError(f"entry {n + 1} ({address!r}) is not an email address")
            out.append(address.strip())
        return out


Settings = Annotated[Union[WebhookSettings, EmailSettings], Field(discriminator="type")]


class ChannelBody(BaseModel):
    """A channel to create or replace. In an update, a secret sent back as the display mask
    ``**********`` keeps the stored secret."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["on-call email"])
    enabled: bool = True
    min_severity: Severity = Field("warning", description="alerts below this severity are not sent")
    settings: Settings


class CentreSettings(BaseModel):
    type: Literal["centre"] = "centre"


class Channel(BaseModel):
    id: str
    name: str
    type: Literal["webhook", "email", "centre"]
    enabled: bool
    min_severity: Severity
    settings: dict[str, Any] = Field(description="the type's settings; secrets shown as the mask")
    builtin: bool = Field(False, description="the notification centre: always on, not editable")
    created: str | None = None
    updated: str | None = None


def _globs(values: list[str]) -> list[str]:
    out = [v.strip() for v in values]
    for n, v in enumerate(out):
        if not _GLOB.match(v):
            raise ValueError(f"entry {n + 1} must be 1 to 200 printable characters")
    return out


class RuleBody(BaseModel):
    """Which alerts go to which channels. Every list entry is a glob (``*``, ``?``, ``[ab]``);
    an alert matches when its source matches one of ``sources``, its id one of ``alert_ids``, and
    its severity is at least ``min_severity``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["storage to on-call"])
    enabled: bool = True
    sources: list[Glob] = Field(default_factory=lambda: ["*"], min_length=1, max_length=50,
                               examples=[["SENTRY", "PULSE"]])
    alert_ids: list[Glob] = Field(default_factory=lambda: ["*"], min_length=1, max_length=50,
                                 examples=[["sentry:pool:*"]])
    min_severity: Severity = "info"
    channels: list[str] = Field(min_length=1, max_length=50, description="channel ids")

    @field_validator("sources", "alert_ids")
    @classmethod
    def _check_globs(cls, values: list[str]) -> list[str]:
        return _globs(values)


class Rule(RuleBody):
    id: str
    created: str
    updated: str


class TestResult(BaseModel):
    delivered: bool
    channel: str
    kind: Literal["webhook", "email", "centre"]
    detail: str = Field(description="what the receiver answered")
    seconds: float


class Notification(BaseModel):
    id: int
    alert_id: str
    kind: Literal["alert", "resolved"] = Field(description="raised (or updated), or its resolution")
    source: str
    severity: Severity
    message: str
    active: bool
    value: float | None = None
    threshold: float | None = None
    details: dict[str, Any] | None = None
    created: str
    updated: str
    repeats: int = Field(0, description="how often the same alert in the same state came again "
                         "within the dedup window (not delivered again)")
    acked: bool
    acked_at: str | None = None
    resolved_at: str | None = Field(None, description="for a raised alert: when it cleared")


class NotificationQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_ROW_ID)
    unread: bool | None = Field(None, description="only unacknowledged (true) or acknowledged (false)")
    severity: Severity | None = None
    source: str | None = Field(None, max_length=100)


class NotificationPage(BaseModel):
    items: list[Notification]
    total: int
    unread: int
    limit: int
    offset: int


class AckAllBody(BaseModel):
    up_to: int | None = Field(None, ge=0, le=MAX_ROW_ID, description=(
        "acknowledge only notifications with id <= this (what the user has seen); all when omitted"))


class AckResult(BaseModel):
    acked: int
    unread: int


class Delivery(BaseModel):
    id: int
    notification_id: int | None
    channel_id: str
    channel_name: str
    kind: Literal["alert", "resolved", "test"]
    status: Literal["pending", "retrying", "delivered", "failed"]
    attempts: int
    error: str | None = None
    reason: str | None = Field(None, description="connection_refused, auth_failed, tls_failed, "
                               "http_status, timeout, …")
    detail: str | None = None
    created: str
    updated: str
    alert_id: str | None = None
    message: str | None = None


class DeliveryQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_ROW_ID)
    channel: str | None = Field(None, max_length=64)
    status: Literal["pending", "retrying", "delivered", "failed"] | None = None


class DeliveryPage(BaseModel):
    items: list[Delivery]
    total: int
    limit: int
    offset: int


class Sources(BaseModel):
    sources: list[str] = Field(description="alert sources seen so far and the agents installed")
    alert_ids: list[str] = Field(description="alert ids seen so far (newest first, at most 200)")


class NotificationEvent(BaseModel):
    """The ``notification`` event: the notification centre changed."""

    action: Literal["new", "updated", "acked"]
    notification: Notification | None = None
    unread: int
