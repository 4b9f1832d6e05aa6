"""What a delivered notification says: the webhook's JSON body and the mail's subject and text."""

from __future__ import annotations

import socket
from typing import Any

TAG = {"info": "INFO", "warning": "WARNING", "critical": "CRITICAL"}


def webhook_payload(kind: str, notification: dict[str, Any]) -> dict[str, Any]:
    """``{"event": "alert"|"resolved"|"test", "notification": id, "alert": {Alert fields}, ...}``."""
    alert = {k: notification.get(k) for k in ("severity", "message", "source", "active", "value",
                                              "threshold", "details")}
    alert["id"] = notification["alert_id"]
    return {"event": kind, "notification": notification.get("id"), "host": socket.gethostname(),
            "ts": notification.get("updated") or notification.get("created"), "alert": alert}


def email_subject(kind: str, notification: dict[str, Any]) -> str:
    if kind == "resolved":
        tag = "RESOLVED"
    elif kind == "test":
        tag = "TEST"
    else:
        tag = TAG.get(notification["severity"], notification["severity"].upper())
    return f"[SigmaVault {tag}] {notification['source']}: {notification['message']}"


def email_text(kind: str, notification: dict[str, Any]) -> str:
    head = {"alert": "An alert was raised on {host}.", "resolved": "An alert has cleared on {host}.",
            "test": "This is a test message from SigmaVault on {host}: the channel works."}[kind]
    lines = [head.format(host=socket.gethostname()), ""]
    rows = [("Alert", notification["alert_id"]), ("Source", notification["source"]),
            ("Severity", notification["severity"]), ("Message", notification["message"]),
            ("State", "active" if notification["active"] else "resolved")]
    if notification.get("value") is not None:
        rows.append(("Value", f"{notification['value']:g}"))
    if notification.get("threshold") is not None:
        rows.append(("Threshold", f"{notification['threshold']:g}"))
    rows.append(("Time", notification.get("updated") or notification.get("created") or ""))
    lines += [f"{k + ':':<11}{v}" for k, v in rows]
    for k, v in (notification.get("details") or {}).items():
        lines.append(f"  {k}: {v}")
    lines += ["", "-- ", "SigmaVault notifications (change who is told under Notifications)."]
    return "\n".join(lines) + "\n"
