"""Request, response and option models of the SMB plugin."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SmbOptions(BaseModel):
    """A share's ``options.smb``."""

    model_config = ConfigDict(extra="forbid")

    browsable: bool | None = Field(None, description="listed in the share list (default: the "
                                   "share's browseable)")
    encryption: Literal["off", "desired", "required"] | None = Field(
        None, description="default: the server's (if_required)")
    recycle: bool = Field(False, description="deleted files go to .recycle/<user>")
    time_machine: bool = False
    time_machine_max_size: str | None = Field(None, pattern=r"^[1-9][0-9]{0,5}[KMGT]$",
                                              examples=["500G"])
    previous_versions: bool = Field(True, description="the volume's snapshots as Windows "
                                    "Previous Versions")


class SmbStatus(BaseModel):
    enabled: bool
    running: bool
    pid: int | None
    port: int
    restarts: int
    version: str | None
    shares: int = Field(description="shares in the live smb.conf")


class SessionOut(BaseModel):
    session_id: str
    pid: int
    username: str
    group: str
    uid: int
    remote: str
    dialect: str
    encryption: str
    signing: str
    shares: list[str]


class OpenFileOut(BaseModel):
    path: str
    share_path: str
    name: str
    pid: int
    uid: int
    access: str
    opened_at: str


class SessionsOut(BaseModel):
    sessions: list[SessionOut]
    open_files: list[OpenFileOut]


class Disconnected(BaseModel):
    ended: list[SessionOut] = Field(description="every session of the disconnected client")
