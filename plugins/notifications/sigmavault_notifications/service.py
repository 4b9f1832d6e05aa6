"""The notifications service: channels, rules, the notification centre and deliveries.

An ``alert`` event is stored in the notification centre (every alert, always), then matched
against the rules; each matching, enabled channel whose minimum severity the alert reaches gets
one delivery, retried with backoff, recorded in ``notification_deliveries``. The same alert id in
the same state (raised at one severity, or resolved) within ``dedup_window`` is one notification
(its ``repeats`` counts the rest) and one delivery. A cleared alert sends one "resolved" message
to the channels that were told about it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any, Literal

import aiohttp

from sigmavault import operation
from sigmavault.app import SigmaVault
from sigmavault.errors import APIError, conflict, not_found
from sigmavault.sealed import SealError, sealer_for
from sigmavault.secret_params import MASK, seal, split, unseal

from . import messages, senders
from .config import NotificationsConfig
from .models import (CENTRE_ID, AckAllBody, AckResult, Channel, ChannelBody, Delivery, DeliveryPage,
                     DeliveryQuery, Notification, NotificationEvent, NotificationPage,
                     NotificationQuery, Rule, RuleBody, Sources, TestResult, at_least)

log = logging.getLogger("sigmavault.notifications")
TAGS = ["notifications"]

MIGRATIONS = ["""
CREATE TABLE notification_channels (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL, enabled INTEGER NOT NULL,
    min_severity TEXT NOT NULL, settings TEXT NOT NULL, secrets TEXT,
    created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE notification_rules (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, enabled INTEGER NOT NULL, sources TEXT NOT NULL,
    alert_ids TEXT NOT NULL, min_severity TEXT NOT NULL, channels TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, kind TEXT NOT NULL,
    source TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, active INTEGER NOT NULL,
    value REAL, threshold REAL, details TEXT, created TEXT NOT NULL, updated TEXT NOT NULL,
    seen REAL NOT NULL, repeats INTEGER NOT NULL DEFAULT 0, acked_at TEXT, resolved_at TEXT);
CREATE INDEX notifications_alert ON notifications(alert_id, id);
CREATE INDEX notifications_unread ON notifications(acked_at, id);
CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, notification_id INTEGER, channel_id TEXT NOT NULL,
    channel_name TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, error TEXT, reason TEXT, detail TEXT,
    created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX notification_deliveries_notification ON notification_deliveries(notification_id);
"""]

CENTRE = Channel(id=CENTRE_ID, name="Notification centre", type="centre", enabled=True,
                 min_severity="info", settings={"type": "centre"}, builtin=True)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _notification(row: dict[str, Any]) -> Notification:
    return Notification(
        id=row["id"], alert_id=row["alert_id"], kind=row["kind"], source=row["source"],
        severity=row["severity"], message=row["message"], active=bool(row["active"]),
        value=row["value"], threshold=row["threshold"],
        details=json.loads(row["details"]) if row["details"] else None, created=row["created"],
        updated=row["updated"], repeats=row["repeats"], acked=row["acked_at"] is not None,
        acked_at=row["acked_at"], resolved_at=row["resolved_at"])


def _rule(row: dict[str, Any]) -> Rule:
    return Rule(id=row["id"], name=row["name"], enabled=bool(row["enabled"]),
                sources=json.loads(row["sources"]), alert_ids=json.loads(row["alert_ids"]),
                min_severity=row["min_severity"], channels=json.loads(row["channels"]),
                created=row["created"], updated=row["updated"])


class NotificationService:
    def __init__(self, app: SigmaVault, config: NotificationsConfig) -> None:
        self.app = app
        self.config = config
        self.sealer = sealer_for(app.data_dir)
        self.session: aiohttp.ClientSession | None = None
        self._inflight: dict[int, asyncio.Task[None]] = {}

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()
        # deliveries cut short by a restart go on where they stopped
        for row in self.app.db.all("SELECT id FROM notification_deliveries "
                                   "WHERE status IN ('pending', 'retrying') AND kind != 'test'"):
            self._spawn(row["id"])

    async def stop(self) -> None:
        # cancelled deliveries keep their pending/retrying row and are resumed at the next start
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
            self.session = None

    # --- channels --------------------------------------------------------------------------------

    def _channel_row(self, channel_id: str) -> dict[str, Any]:
        row = self.app.db.one("SELECT * FROM notification_channels WHERE id=?", (channel_id,))
        if row is None:
            raise not_found("channel", channel_id)
        return row

    @staticmethod
    def _channel(row: dict[str, Any]) -> Channel:
        return Channel(id=row["id"], name=row["name"], type=row["type"], enabled=bool(row["enabled"]),
                       min_severity=row["min_severity"], settings=json.loads(row["settings"]),
                       created=row["created"], updated=row["updated"])

    def _context(self, channel_id: str) -> str:
        return f"notifications.channel:{channel_id}"

    def _settings_with_secrets(self, row: dict[str, Any]) -> dict[str, Any]:
        """The channel's settings with its secrets opened (for sending only)."""
        settings = json.loads(row["settings"])
        try:
            for secret in unseal(row["secrets"], self.sealer, self._context(row["id"])):
                settings[secret["path"][-1]] = secret["value"]
        except SealError as exc:
            raise APIError(500, "secret_unreadable", f"the secrets of channel {row['name']!r} do not "
                           f"open ({exc}); enter them again", {"channel": row["id"]}) from None
        return settings

    def _prepare(self, body: ChannelBody, stored: dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
        """The public settings and the sealed secrets of ``body``; a mask keeps a stored secret."""
        channel_id = stored["id"] if stored else ""
        public, secrets = split(body.settings)
        previous = {}
        if stored is not None and json.loads(stored["settings"]).get("type") == body.settings.type:
            previous = {tuple(s["path"]): s for s in
                        unseal(stored["secrets"], self.sealer, self._context(channel_id))}
        kept = []
        for secret in secrets:
            if secret["value"] == MASK:
                old = previous.get(tuple(secret["path"]))
                if old is None:
                    field = ".".join(["settings", *map(str, secret["path"])])
                    raise APIError(422, "masked_secret", f"{field} is the display mask {MASK!r}, "
                                   "not a secret, and none is stored: send the secret itself",
                                   {"field": field, "errors": [{"loc": ["body", *field.split(".")],
                                                                "msg": "send the secret itself",
                                                                "type": "masked_secret"}]})
                kept.append(old)
            else:
                kept.append(secret)
        return public, kept and seal(kept, self.sealer, self._context(channel_id)) or None

    def _unique(self, table: str, name: str, own_id: str | None) -> None:
        row = self.app.db.one(f"SELECT id FROM {table} WHERE name=?", (name,))
        if row is not None and row["id"] != own_id:
            raise APIError(409, "name_taken", f"the name {name!r} is already used",
                           {"field": "name", "errors": [{"loc": ["body", "name"], "msg": "already used",
                                                        "type": "name_taken"}]})

    @operation("notifications.channels.list", get="/notifications/channels", response=list[Channel],
               tags=TAGS)
    async def list_channels(self) -> list[Channel]:
        """The channels: the notification centre (built in) and the webhooks and mail channels."""
        rows = self.app.db.all("SELECT * FROM notification_channels ORDER BY name")
        return [CENTRE, *(self._channel(r) for r in rows)]

    @operation("notifications.channel.get", get="/notifications/channels/{id}", response=Channel,
               tags=TAGS)
    async def get_channel(self, id: str) -> Channel:
        """One channel (secrets masked)."""
        if id == CENTRE_ID:
            return CENTRE
        return self._channel(self._channel_row(id))

    @operation("notifications.channel.create", post="/notifications/channels", body=ChannelBody,
               response=Channel, status=201, role="admin", tags=TAGS, errors=[409])
    async def create_channel(self, body: ChannelBody) -> Channel:
        """Add a webhook or email channel. It gets alerts through the rules that name it."""
        self._unique("notification_channels", body.name, None)
        channel_id = uuid.uuid4().hex[:12]
        public, sealed = self._prepare(body, {"id": channel_id, "settings": "{}", "secrets": None})
        now = _now()
        self.app.db.execute(
            "INSERT INTO notification_channels(id, name, type, enabled, min_severity, settings, "
            "secrets, created, updated) VALUES(?,?,?,?,?,?,?,?,?)",
            (channel_id, body.name, body.settings.type, int(body.enabled), body.min_severity,
             json.dumps(public), sealed, now, now))
        return self._channel(self._channel_row(channel_id))

    @operation("notifications.channel.update", put="/notifications/channels/{id}", body=ChannelBody,
               response=Channel, role="admin", tags=TAGS, errors=[400, 409])
    async def update_channel(self, id: str, body: ChannelBody) -> Channel:
        """Replace a channel's settings; a secret sent as the mask keeps the stored one."""
        if id == CENTRE_ID:
            raise APIError(400, "builtin_channel", "the notification centre is built in and always on")
        stored = self._channel_row(id)
        self._unique("notification_channels", body.name, id)
        public, sealed = self._prepare(body, stored)
        self.app.db.execute(
            "UPDATE notification_channels SET name=?, type=?, enabled=?, min_severity=?, settings=?, "
            "secrets=?, updated=? WHERE id=?",
            (body.name, body.settings.type, int(body.enabled), body.min_severity, json.dumps(public),
             sealed, _now(), id))
        return self._channel(self._channel_row(id))

    @operation("notifications.channel.delete", delete="/notifications/channels/{id}", status=204,
               role="admin", tags=TAGS, errors=[400, 409])
    async def delete_channel(self, id: str) -> None:
        """Remove a channel; refused (409) while a rule still sends to it."""
        if id == CENTRE_ID:
            raise APIError(400, "builtin_channel", "the notification centre is built in and always on")
        self._channel_row(id)
        using = [r.name for r in self._rules() if id in r.channels]
        if using:
            raise conflict(f"rules {', '.join(using)} send to this channel: change them first",
                           "channel_in_use", rules=using)
        self.app.db.execute("DELETE FROM notification_channels WHERE id=?", (id,))

    @operation("notifications.channel.test", post="/notifications/channels/{id}/test",
               response=TestResult, status=200, role="admin", tags=TAGS, errors=[404, 502])
    async def test_channel(self, id: str) -> TestResult:
        """Send a test message now (one attempt, no retries). 502 with the reason when it fails:
        connection_refused, auth_failed, tls_failed, http_status, timeout …"""
        if id == CENTRE_ID:
            now = _now()
            n = self.app.db.execute(
                "INSERT INTO notifications(alert_id, kind, source, severity, message, active, created, "
                "updated, seen, resolved_at) VALUES('notifications:test', 'alert', 'NOTIFICATIONS', 'info', "
                "'Test notification: the notification centre works', 0, ?, ?, ?, ?)",
                (now, now, time.time(), now)).lastrowid or 0
            self._announce("new", self._get_notification(n))
            return TestResult(delivered=True, channel=id, kind="centre", seconds=0,
                              detail=f"stored as notification {n}")
        row = self._channel_row(id)
        now = _now()
        sample = {"id": None, "alert_id": "notifications:test", "source": "NOTIFICATIONS",
                  "severity": "info", "active": False, "value": None, "threshold": None,
                  "message": f"Test message for channel {row['name']!r}", "details": None,
                  "created": now, "updated": now}
        cur = self.app.db.execute(
            "INSERT INTO notification_deliveries(notification_id, channel_id, channel_name, kind, "
            "status, attempts, created, updated) VALUES(NULL, ?, ?, 'test', 'pending', 0, ?, ?)",
            (row["id"], row["name"], now, now))
        delivery_id = cur.lastrowid
        started = time.monotonic()
        try:
            detail = await self._send(row, "test", sample)
        except senders.SendError as exc:
            self._finish(delivery_id, "failed", 1, error=exc.message, reason=exc.reason)
            raise APIError(502, exc.reason, exc.message, {"channel": id, "reason": exc.reason,
                                                          "retryable": exc.retryable}) from None
        self._finish(delivery_id, "delivered", 1, detail=detail)
        return TestResult(delivered=True, channel=id, kind=row["type"], detail=detail,
                          seconds=round(time.monotonic() - started, 3))

    # --- rules -----------------------------------------------------------------------------------

    def _rules(self) -> list[Rule]:
        return [_rule(r) for r in self.app.db.all("SELECT * FROM notification_rules ORDER BY name")]

    def _check_channels(self, body: RuleBody) -> None:
        known = {r["id"] for r in self.app.db.all("SELECT id FROM notification_channels")}
        for n, channel in enumerate(body.channels):
            if channel not in known:
                why = ("the notification centre gets every alert anyway" if channel == CENTRE_ID
                       else "no such channel")
                raise APIError(422, "validation_error", f"invalid body: channels.{n}: {channel!r}: {why}",
                               {"errors": [{"loc": ["body", "channels", str(n)], "msg": why,
                                            "type": "unknown_channel"}]})

    def _rule_row(self, rule_id: str) -> Rule:
        row = self.app.db.one("SELECT * FROM notification_rules WHERE id=?", (rule_id,))
        if row is None:
            raise not_found("rule", rule_id)
        return _rule(row)

    @operation("notifications.rules.list", get="/notifications/rules", response=list[Rule], tags=TAGS)
    async def list_rules(self) -> list[Rule]:
        """The rules that route alerts to channels."""
        return self._rules()

    @operation("notifications.rule.get", get="/notifications/rules/{id}", response=Rule, tags=TAGS)
    async def get_rule(self, id: str) -> Rule:
        """One rule."""
        return self._rule_row(id)

    @operation("notifications.rule.create", post="/notifications/rules", body=RuleBody, response=Rule,
               status=201, role="admin", tags=TAGS, errors=[409])
    async def create_rule(self, body: RuleBody) -> Rule:
        """Add a rule: alerts matching its sources, ids and severity go to its channels."""
        self._unique("notification_rules", body.name, None)
        self._check_channels(body)
        rule_id, now = uuid.uuid4().hex[:12], _now()
        self.app.db.execute(
            "INSERT INTO notification_rules(id, name, enabled, sources, alert_ids, min_severity, "
            "channels, created, updated) VALUES(?,?,?,?,?,?,?,?,?)",
            (rule_id, body.name, int(body.enabled), json.dumps(body.sources), json.dumps(body.alert_ids),
             body.min_severity, json.dumps(list(dict.fromkeys(body.channels))), now, now))
        return self._rule_row(rule_id)

    @operation("notifications.rule.update", put="/notifications/rules/{id}", body=RuleBody,
               response=Rule, role="admin", tags=TAGS, errors=[409])
    async def update_rule(self, id: str, body: RuleBody) -> Rule:
        """Replace a rule."""
        self._rule_row(id)
        self._unique("notification_rules", body.name, id)
        self._check_channels(body)
        self.app.db.execute(
            "UPDATE notification_rules SET name=?, enabled=?, sources=?, alert_ids=?, min_severity=?, "
            "channels=?, updated=? WHERE id=?",
            (body.name, int(body.enabled), json.dumps(body.sources), json.dumps(body.alert_ids),
             body.min_severity, json.dumps(list(dict.fromkeys(body.channels))), _now(), id))
        return self._rule_row(id)

    @operation("notifications.rule.delete", delete="/notifications/rules/{id}", status=204,
               role="admin", tags=TAGS)
    async def delete_rule(self, id: str) -> None:
        """Remove a rule."""
        self._rule_row(id)
        self.app.db.execute("DELETE FROM notification_rules WHERE id=?", (id,))

    @operation("notifications.sources", get="/notifications/sources", response=Sources, tags=TAGS)
    async def sources(self) -> Sources:
        """Alert sources and ids to pick from in rules: those seen so far and the installed agents."""
        seen = {r["source"] for r in self.app.db.all("SELECT DISTINCT source FROM notifications")}
        agents = set(self.app.registries.get("agents", {}))
        ids = [r["alert_id"] for r in self.app.db.all(
            "SELECT alert_id, max(id) AS last FROM notifications GROUP BY alert_id ORDER BY last DESC LIMIT 200")]
        return Sources(sources=sorted((seen | agents) - {"NOTIFICATIONS"}), alert_ids=ids)

    # --- the notification centre -----------------------------------------------------------------

    def unread(self) -> int:
        row = self.app.db.one("SELECT count(*) AS n FROM notifications WHERE acked_at IS NULL")
        return int(row["n"]) if row else 0

    def _get_notification(self, notification_id: int) -> Notification:
        row = self.app.db.one("SELECT * FROM notifications WHERE id=?", (notification_id,))
        if row is None:
            raise not_found("notification", str(notification_id))
        return _notification(row)

    def _announce(self, action: Literal["new", "updated", "acked"], notification: Notification | None) -> None:
        self.app.events.publish("notification", NotificationEvent(
            action=action, notification=notification, unread=self.unread()))

    @operation("notifications.list", get="/notifications", query=NotificationQuery,
               response=NotificationPage, tags=TAGS)
    async def list_notifications(self, query: NotificationQuery) -> NotificationPage:
        """The notification centre, newest first, with the unread count."""
        where, args = [], []  # type: list[str], list[Any]
        if query.unread is not None:
            where.append("acked_at IS NULL" if query.unread else "acked_at IS NOT NULL")
        if query.severity:
            where.append("severity=?")
            args.append(query.severity)
        if query.source:
            where.append("source=?")
            args.append(query.source)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.app.db.one(f"SELECT count(*) AS n FROM notifications {clause}", args)
        rows = self.app.db.all(f"SELECT * FROM notifications {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
                               [*args, query.limit, query.offset])
        return NotificationPage(items=[_notification(r) for r in rows], total=total["n"] if total else 0,
                                unread=self.unread(), limit=query.limit, offset=query.offset)

    @operation("notifications.ack", post="/notifications/{id}/ack", response=Notification, status=200,
               role="readonly", tags=TAGS)
    async def ack(self, id: str) -> Notification:
        """Mark one notification read."""
        if not id.isdigit():
            raise not_found("notification", id)
        n = self._get_notification(int(id))
        if not n.acked:
            self.app.db.execute("UPDATE notifications SET acked_at=? WHERE id=? AND acked_at IS NULL",
                                (_now(), n.id))
            n = self._get_notification(n.id)
            self._announce("acked", n)
        return n

    @operation("notifications.ack_all", post="/notifications/ack", body=AckAllBody, response=AckResult,
               status=200, role="readonly", tags=TAGS)
    async def ack_all(self, up_to: int | None = None) -> AckResult:
        """Mark every notification read (or those up to an id)."""
        cur = self.app.db.execute(
            "UPDATE notifications SET acked_at=? WHERE acked_at IS NULL AND id <= ?",
            (_now(), up_to if up_to is not None else 2 ** 62))
        if cur.rowcount:
            self._announce("acked", None)
        return AckResult(acked=cur.rowcount, unread=self.unread())

    @operation("notifications.deliveries.list", get="/notifications/deliveries", query=DeliveryQuery,
               response=DeliveryPage, tags=TAGS)
    async def list_deliveries(self, query: DeliveryQuery) -> DeliveryPage:
        """The delivery history, newest first: each attempt count, the result or the error."""
        where, args = [], []  # type: list[str], list[Any]
        if query.channel:
            where.append("d.channel_id=?")
            args.append(query.channel)
        if query.status:
            where.append("d.status=?")
            args.append(query.status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.app.db.one(f"SELECT count(*) AS n FROM notification_deliveries d {clause}", args)
        rows = self.app.db.all(
            f"SELECT d.*, n.alert_id, n.message FROM notification_deliveries d LEFT JOIN notifications n "
            f"ON n.id = d.notification_id {clause} ORDER BY d.id DESC LIMIT ? OFFSET ?",
            [*args, query.limit, query.offset])
        return DeliveryPage(items=[Delivery(**r) for r in rows], total=total["n"] if total else 0,
                            limit=query.limit, offset=query.offset)

    # --- alerts in, deliveries out ---------------------------------------------------------------

    def on_alert(self, alert: dict[str, Any]) -> None:
        """Record an ``alert`` event and start its deliveries (returns at once)."""
        try:
            self._record(alert)
        except Exception:
            log.exception("could not record alert %s", alert.get("id"))

    def _record(self, alert: dict[str, Any]) -> int:
        """Store the alert in the centre, dedup it, queue its deliveries; the notification id."""
        db, now, mono = self.app.db, _now(), time.time()
        active = bool(alert.get("active", True))
        details = json.dumps(alert["details"]) if alert.get("details") else None
        action: Literal["new", "updated", "acked"]
        with db.transaction() as conn:
            last = conn.execute("SELECT * FROM notifications WHERE alert_id=? ORDER BY id DESC LIMIT 1",
                                (alert["id"],)).fetchone()
            last = dict(last) if last else None
            if active:
                same = (last is not None and last["kind"] == "alert" and last["resolved_at"] is None
                        and last["severity"] == alert["severity"])
                if same and mono - last["seen"] < self.config.dedup_window:  # type: ignore[index]
                    conn.execute("UPDATE notifications SET repeats=repeats+1, message=?, value=?, "
                                 "threshold=?, details=?, updated=? WHERE id=?",
                                 (alert["message"], alert.get("value"), alert.get("threshold"), details,
                                  now, last["id"]))  # type: ignore[index]
                    notification_id, action, targets = last["id"], "updated", []  # type: ignore[index]
                else:
                    if last is not None and last["kind"] == "alert" and last["resolved_at"] is None:
                        # superseded (severity changed, or a reminder after the window)
                        conn.execute("UPDATE notifications SET resolved_at=? WHERE id=?", (now, last["id"]))
                    cur = conn.execute(
                        "INSERT INTO notifications(alert_id, kind, source, severity, message, active, value, "
                        "threshold, details, created, updated, seen) VALUES(?, 'alert', ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                        (alert["id"], alert["source"], alert["severity"], alert["message"], alert.get("value"),
                         alert.get("threshold"), details, now, now, mono))
                    notification_id, action = cur.lastrowid, "new"
                    targets = self._targets(conn, alert["source"], alert["id"], alert["severity"])
                kind = "alert"
            else:
                if last is None or last["kind"] != "alert" or last["resolved_at"] is not None:
                    return last["id"] if last else 0  # nothing raised to resolve: said once already
                conn.execute("UPDATE notifications SET resolved_at=? WHERE id=?", (now, last["id"]))
                cur = conn.execute(
                    "INSERT INTO notifications(alert_id, kind, source, severity, message, active, value, "
                    "threshold, details, created, updated, seen) VALUES(?, 'resolved', ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
                    (alert["id"], alert["source"], last["severity"], alert["message"], alert.get("value"),
                     alert.get("threshold"), details, now, now, mono))
                notification_id, action, kind = cur.lastrowid, "new", "resolved"
                told = {r[0] for r in conn.execute(
                    "SELECT DISTINCT channel_id FROM notification_deliveries WHERE notification_id=? "
                    "AND kind='alert'", (last["id"],))}
                targets = [r for r in (dict(x) for x in conn.execute(
                    "SELECT id, name FROM notification_channels WHERE enabled=1")) if r["id"] in told]
            deliveries = []
            for channel in targets:
                cur = conn.execute(
                    "INSERT INTO notification_deliveries(notification_id, channel_id, channel_name, kind, "
                    "status, attempts, created, updated) VALUES(?, ?, ?, ?, 'pending', 0, ?, ?)",
                    (notification_id, channel["id"], channel["name"], kind, now, now))
                deliveries.append(int(cur.lastrowid or 0))
        for delivery_id in deliveries:
            self._spawn(delivery_id)
        self._announce(action, self._get_notification(notification_id))
        if action == "new" and notification_id % 100 == 0:
            self._prune()
        return notification_id

    def _targets(self, conn: Any, source: str, alert_id: str, severity: str) -> list[dict[str, Any]]:
        channels = {r["id"]: dict(r) for r in conn.execute(
            "SELECT id, name, min_severity FROM notification_channels WHERE enabled=1")}
        chosen: dict[str, dict[str, Any]] = {}
        for row in conn.execute("SELECT * FROM notification_rules WHERE enabled=1 ORDER BY name"):
            rule = _rule(dict(row))
            if not at_least(severity, rule.min_severity):
                continue
            if not any(fnmatchcase(source, p) or p.lower() == source.lower() for p in rule.sources):
                continue
            if not any(fnmatchcase(alert_id, p) for p in rule.alert_ids):
                continue
            for channel_id in rule.channels:
                channel = channels.get(channel_id)
                if channel and at_least(severity, channel["min_severity"]):
                    chosen[channel_id] = channel
        return list(chosen.values())

    def _prune(self) -> None:
        keep = self.config.history
        with self.app.db.transaction() as conn:
            edge = conn.execute("SELECT id FROM notifications ORDER BY id DESC LIMIT 1 OFFSET ?",
                                (keep,)).fetchone()
            if edge:
                conn.execute("DELETE FROM notification_deliveries WHERE notification_id <= ?", (edge[0],))
                conn.execute("DELETE FROM notifications WHERE id <= ?", (edge[0],))
            conn.execute("DELETE FROM notification_deliveries WHERE notification_id IS NULL AND id <= "
                         "(SELECT max(id) FROM notification_deliveries) - ?", (keep,))

    def _spawn(self, delivery_id: int) -> None:
        if delivery_id in self._inflight:
            return
        task = self.app.spawn(self._deliver(delivery_id))
        self._inflight[delivery_id] = task
        task.add_done_callback(lambda _: self._inflight.pop(delivery_id, None))

    def _finish(self, delivery_id: int | None, status: str, attempts: int, *, error: str | None = None,
                reason: str | None = None, detail: str | None = None) -> None:
        self.app.db.execute("UPDATE notification_deliveries SET status=?, attempts=?, error=?, reason=?, "
                            "detail=?, updated=? WHERE id=?",
                            (status, attempts, error, reason, detail, _now(), delivery_id))

    async def _send(self, channel: dict[str, Any], kind: str, notification: dict[str, Any]) -> str:
        settings = self._settings_with_secrets(channel)
        if channel["type"] == "webhook":
            return await senders.send_webhook(settings, messages.webhook_payload(kind, notification),
                                              event=kind, timeout=self.config.timeout, session=self.session)
        return await senders.send_email(settings, messages.email_subject(kind, notification),
                                        messages.email_text(kind, notification), timeout=self.config.timeout)

    async def _deliver(self, delivery_id: int) -> None:
        """Send one delivery, retrying with backoff; every attempt is recorded."""
        db, cfg = self.app.db, self.config
        row = db.one("SELECT * FROM notification_deliveries WHERE id=?", (delivery_id,))
        if row is None:
            return
        attempts = row["attempts"]
        while True:
            channel = db.one("SELECT * FROM notification_channels WHERE id=?", (row["channel_id"],))
            notification = db.one("SELECT * FROM notifications WHERE id=?", (row["notification_id"],))
            if channel is None or notification is None:
                self._finish(delivery_id, "failed", attempts, reason="gone",
                             error="the channel or the notification was deleted before delivery")
                return
            attempts += 1
            try:
                detail = await self._send(channel, row["kind"], _notification(notification).model_dump())
            except senders.SendError as exc:
                if exc.retryable and attempts < cfg.attempts:
                    self._finish(delivery_id, "retrying", attempts, error=exc.message, reason=exc.reason)
                    await asyncio.sleep(min(cfg.max_backoff, cfg.backoff * 2 ** (attempts - 1)))
                    continue
                self._finish(delivery_id, "failed", attempts, error=exc.message, reason=exc.reason)
                log.warning("notification %s to channel %s failed after %d attempt(s): %s",
                            row["notification_id"], channel["name"], attempts, exc.message)
                return
            except APIError as exc:  # a secret that does not open
                self._finish(delivery_id, "failed", attempts, error=exc.message, reason=exc.code)
                return
            except Exception as exc:  # never a silent pending row
                log.exception("notification delivery %s failed", delivery_id)
                self._finish(delivery_id, "failed", attempts, error=f"{type(exc).__name__}: {exc}",
                             reason="internal_error")
                return
            self._finish(delivery_id, "delivered", attempts, detail=detail)
            return
