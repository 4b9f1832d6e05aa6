"""Render and check NFS exports lines and Samba share stanzas (pure text work; nothing is
applied to the host)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# exports(5) options: flags and options taking a value
NFS_FLAGS = {"rw", "ro", "sync", "async", "secure", "insecure", "wdelay", "no_wdelay", "hide",
             "nohide", "crossmnt", "subtree_check", "no_subtree_check", "insecure_locks",
             "secure_locks", "no_auth_nlm", "auth_nlm", "mountpoint", "mp", "nordirplus", "pnfs",
             "no_pnfs", "security_label", "root_squash", "no_root_squash", "all_squash",
             "no_all_squash"}
NFS_VALUED = {"fsid": r"(root|\d+|[0-9a-fA-F-]{8,36})", "anonuid": r"\d+", "anongid": r"\d+",
              "sec": r"(sys|krb5|krb5i|krb5p)(:(sys|krb5|krb5i|krb5p))*", "mountpoint": r"/\S*",
              "mp": r"/\S*", "refer": r"\S+", "replicas": r"\S+"}
HOSTNAME = re.compile(r"^[A-Za-z0-9*?]([A-Za-z0-9*?.-]{0,252})$")
NETGROUP = re.compile(r"^@[A-Za-z0-9_.-]{1,64}$")
USER = re.compile(r"^@?[A-Za-z_][A-Za-z0-9_.-]{0,31}$")


def check_nfs_host(host: str) -> str | None:
    """None when ``host`` is a valid exports client (wildcard, name, netgroup, IP, network)."""
    if host == "*" or NETGROUP.match(host):
        return None
    try:
        ipaddress.ip_network(host, strict=False)
        return None
    except ValueError:
        pass
    if "/" in host or not HOSTNAME.match(host) or ".." in host:
        return f"bad NFS client {host!r}"
    return None


def check_nfs_option(opt: str) -> str | None:
    key, eq, value = opt.partition("=")
    if not eq:
        return None if key in NFS_FLAGS else f"unknown NFS export option {opt!r}"
    pattern = NFS_VALUED.get(key)
    if pattern is None:
        return f"unknown NFS export option {key!r}"
    return None if re.fullmatch(pattern, value) else f"bad value for NFS option {key}: {value!r}"


def escape_path(path: str) -> str:
    return "".join(f"\\{ord(c):03o}" if c.isspace() or c == "\\" else c for c in path)


def render_exports(path: str, clients: list[tuple[str, list[str]]]) -> str:
    return " ".join([escape_path(path), *(f"{h}({','.join(opts)})" for h, opts in clients)]) + "\n"


def parse_exports(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse exports(5) lines; returns (entries, errors). Comments and blank lines are skipped."""
    entries, errors = [], []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        path = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[0].strip('"'))
        if not path.startswith("/"):
            errors.append(f"line {n}: export path {path!r} is not absolute")
        clients = []
        for f in fields[1:]:
            m = re.fullmatch(r"([^()\s]*)(?:\(([^()]*)\))?", f)
            if not m:
                errors.append(f"line {n}: cannot parse {f!r}")
                continue
            host, opts = m.group(1) or "*", [o for o in (m.group(2) or "").split(",") if o]
            if err := check_nfs_host(host):
                errors.append(f"line {n}: {err}")
            errors.extend(f"line {n}: {e}" for o in opts if (e := check_nfs_option(o)))
            if "rw" in opts and "ro" in opts:
                errors.append(f"line {n}: {host} has both rw and ro")
            clients.append({"host": host, "options": opts})
        if not clients:
            errors.append(f"line {n}: no client")
        entries.append({"path": path, "clients": clients})
    return entries, errors


def render_samba(name: str, settings: dict[str, str]) -> str:
    return f"[{name}]\n" + "".join(f"   {k} = {v}\n" for k, v in settings.items())


SAMBA_PROBLEMS = ("Unknown parameter", "Ignoring unknown parameter", "Error loading services",
                  "Invalid", "ERROR")


def testparm_problems(stderr: str, returncode: int) -> list[str]:
    out = [line.strip() for line in stderr.splitlines() if any(p in line for p in SAMBA_PROBLEMS)]
    if returncode and not out:
        out.append(f"testparm exited with {returncode}")
    return out
