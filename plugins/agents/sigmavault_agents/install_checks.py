"""FORTRESS: checks of this install's own state (file modes, sockets, secrets, keys, TLS)."""

from __future__ import annotations

import ipaddress
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

import psutil

WEAK_PASSWORDS = ("admin", "password", "sigmavault", "changeme")


def finding(id: str, severity: str, title: str, detail: str) -> dict[str, str]:
    return {"id": id, "severity": severity, "title": title, "detail": detail}


def file_modes(data_dir: Path, secrets: Iterable[Path] = ()) -> list[dict[str, str]]:
    """The data dir must be private (no group/other bits); so must the state DB and key files."""
    out = []
    try:
        mode = stat.S_IMODE(os.stat(data_dir).st_mode)
    except FileNotFoundError:
        return [finding("data_dir_missing", "high", "data directory missing", str(data_dir))]
    if mode & 0o077:
        out.append(finding("data_dir_mode", "high", "data directory readable by others",
                           f"{data_dir} has mode {oct(mode)}; expected 0o700"))
    candidates = [data_dir / "sigmavault.db", *secrets]
    for root, dirs, files in os.walk(data_dir):
        depth = Path(root).relative_to(data_dir).parts
        if len(depth) >= 3:
            dirs.clear()
        for name in files:
            if name.endswith((".key", ".pem", ".age", ".json", ".db", ".sqlite")):
                candidates.append(Path(root) / name)
    seen = set()
    for path in candidates:
        if path in seen or not path.exists():
            continue
        seen.add(path)
        m = stat.S_IMODE(os.lstat(path).st_mode)
        if m & 0o077:
            out.append(finding(f"file_mode:{path}", "high" if m & 0o004 else "medium",
                               "state or key file accessible by other users",
                               f"{path} has mode {oct(m)}; expected 0o600"))
    return out


def listening_sockets() -> list[dict[str, Any]]:
    """Every TCP listener and UDP socket bound on this machine, with its process."""
    out = []
    for c in psutil.net_connections(kind="inet"):
        if c.type == 1 and c.status != psutil.CONN_LISTEN:  # SOCK_STREAM not listening
            continue
        if c.type == 2 and c.raddr:  # connected UDP
            continue
        if not c.laddr:
            continue
        try:
            name = psutil.Process(c.pid).name() if c.pid else "?"
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            name = "?"
        out.append({"proto": "tcp" if c.type == 1 else "udp", "address": c.laddr.ip,
                    "port": c.laddr.port, "pid": c.pid, "process": name})
    return sorted(out, key=lambda s: (s["proto"], s["port"], s["address"]))


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def socket_findings(sockets: list[dict[str, Any]]) -> list[dict[str, str]]:
    exposed = [s for s in sockets if not is_loopback(s["address"])]
    return [finding(f"listening:{s['proto']}:{s['address']}:{s['port']}", "info" if s["proto"] == "udp" else "low",
                    f"{s['process']} listens on {s['address']}:{s['port']}/{s['proto']}",
                    "reachable from the network; make sure it is meant to be") for s in exposed]


def tls_findings(host: str, cert: Path | None, key: Path | None, self_signed: bool) -> list[dict[str, str]]:
    if cert and key:
        out = []
        if not Path(cert).exists() or not Path(key).exists():
            out.append(finding("tls_files_missing", "high", "TLS certificate or key missing",
                               f"cert {cert}, key {key}"))
        return out
    if self_signed:
        return [finding("tls_self_signed", "low", "self-signed TLS certificate",
                        "browsers will warn; install a certificate from a CA you trust")]
    if is_loopback(host) or host == "localhost":
        return [finding("tls_off_loopback", "info", "TLS off (loopback only)",
                        f"the API listens on {host} without TLS; fine while it stays on loopback")]
    return [finding("tls_off", "high", "API served without TLS on the network",
                    f"the API listens on {host} without TLS: passwords and keys cross the network in clear")]


def user_findings(users: list[dict[str, Any]], verify: Any) -> list[dict[str, str]]:
    """``verify(hash, password) -> bool``: flag users whose password is a well-known default."""
    out = []
    for u in users:
        for pw in (*WEAK_PASSWORDS, u["username"]):
            if verify(u["password_hash"], pw):
                out.append(finding(f"weak_password:{u['username']}", "critical",
                                   f"user {u['username']} has a default password",
                                   "change it with `sigmavault user passwd`"))
                break
        else:
            if u.get("created_at") and u.get("created_at") == u.get("password_changed_at"):
                out.append(finding(f"password_never_changed:{u['username']}", "info",
                                   f"user {u['username']} still has the password it was created with",
                                   "for admin this may be the first-run secret printed in a log"))
    return out


def key_findings(keys: list[dict[str, Any]], now: datetime | None = None,
                 stale_days: int = 90) -> list[dict[str, str]]:
    """API keys unused for ``stale_days``, expired but not revoked, admin keys that never expire."""
    now = now or datetime.now(timezone.utc)
    out = []
    for k in keys:
        if k["revoked"]:
            continue
        label = f"{k['name']} ({k['id']}, {k['username']})"
        if k["expires_at"] and datetime.fromisoformat(k["expires_at"]) < now:
            out.append(finding(f"key_expired:{k['id']}", "info", f"expired API key {label} not revoked",
                               "revoke it to tidy up"))
            continue
        last = datetime.fromisoformat(k["last_used_at"] or k["created_at"])
        if now - last > timedelta(days=stale_days):
            out.append(finding(f"key_stale:{k['id']}", "medium", f"API key {label} unused for "
                               f"{(now - last).days} days", "revoke keys nobody uses"))
        if k["role"] == "admin" and not k["expires_at"]:
            out.append(finding(f"key_no_expiry:{k['id']}", "low", f"admin API key {label} never expires",
                               "create admin keys with an expiry"))
    return out
