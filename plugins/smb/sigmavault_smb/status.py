"""Who is connected: ``smbstatus --json`` parsed into sessions and open files; closing a session.

Each client is served by its own smbd process (``server_id.pid``): its connections that share
an SMB client GUID (one machine, or one ``smbprotocol`` program) are passed to the same process, so
its sessions share a pid. Samba has no message that logs one session off; disconnecting a client
asks its process to shut down cleanly (``smbcontrol <pid> shutdown``), which ends every session,
tree connect and open file of that client and nobody else's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigmavault.commands import run
from sigmavault.errors import not_found


@dataclass(frozen=True)
class Session:
    session_id: str
    pid: int
    username: str
    group: str
    uid: int
    remote: str  # "ipv4:127.0.0.1:42790"
    dialect: str
    encryption: str  # "AES-128-GCM" or "" when not encrypted
    signing: str
    shares: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenFile:
    path: str  # absolute path on this machine
    share_path: str
    name: str  # relative to the share's folder
    pid: int
    uid: int
    access: str  # smbstatus' short text: "R", "RW", ...
    opened_at: str


@dataclass
class Status:
    sessions: list[Session] = field(default_factory=list)
    open_files: list[OpenFile] = field(default_factory=list)


def _cipher(section: dict[str, Any] | None) -> str:
    if not section:
        return ""
    return section.get("cipher", "") if section.get("degree", "none") != "none" else ""


def parse_smbstatus(text: str) -> Status:
    """Parse ``smbstatus --json`` (Samba 4.16+)."""
    data = json.loads(text)
    shares: dict[str, list[str]] = {}
    for tcon in (data.get("tcons") or {}).values():
        shares.setdefault(str(tcon["session_id"]), []).append(tcon["service"])
    status = Status()
    for sid, s in (data.get("sessions") or {}).items():
        status.sessions.append(Session(
            session_id=str(sid), pid=int(s["server_id"]["pid"]), username=s.get("username", ""),
            group=s.get("groupname", ""), uid=int(s.get("uid", -1)),
            remote=s.get("hostname") or s.get("remote_machine", ""),
            dialect=s.get("session_dialect", ""), encryption=_cipher(s.get("encryption")),
            signing=_cipher(s.get("signing")), shares=tuple(sorted(shares.get(str(sid), ())))))
    for path, f in (data.get("open_files") or {}).items():
        for o in (f.get("opens") or {}).values():
            status.open_files.append(OpenFile(
                path=path, share_path=f.get("service_path", ""), name=f.get("filename", ""),
                pid=int(o["server_id"]["pid"]), uid=int(o.get("uid", -1)),
                access=(o.get("access_mask") or {}).get("text", ""),
                opened_at=o.get("opened_at", "")))
    status.sessions.sort(key=lambda s: (s.username, s.session_id))
    return status


async def smb_status(config_path: Path) -> Status:
    result = await run(["smbstatus", f"--configfile={os.fspath(config_path)}", "--json"],
                       timeout=30)
    return parse_smbstatus(result.stdout)


async def disconnect_client(config_path: Path, session_id: str) -> list[Session]:
    """Disconnect the client holding ``session_id`` (404 when there is no such session); the
    sessions that end with it."""
    status = await smb_status(config_path)
    session = next((s for s in status.sessions if s.session_id == session_id), None)
    if session is None:
        raise not_found("smb session", session_id)
    await run(["smbcontrol", f"--configfile={os.fspath(config_path)}", str(session.pid),
               "shutdown"], timeout=30)
    return [s for s in status.sessions if s.pid == session.pid]
