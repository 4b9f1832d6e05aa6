"""The ``[smb]`` configuration section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SmbConfig(BaseModel):
    enabled: bool = Field(True, description="serve shares that list 'smb' (smbd runs only while "
                          "there is at least one)")
    port: int = Field(445, ge=1, le=65535)
    workgroup: str = Field("WORKGROUP", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
    server_string: str = Field("SigmaVault", max_length=64, pattern=r"^[^\n\r%]*$")
    min_protocol: Literal["SMB2_02", "SMB2_10", "SMB3", "SMB3_00", "SMB3_02", "SMB3_11"] = \
        "SMB2_10"
    signing: Literal["default", "desired", "required"] = "default"
    interfaces: list[str] = Field(default_factory=list, description="addresses or interface "
                                  "names smbd binds to; empty: all")
    sessions_poll_interval: float = Field(5.0, ge=0, description="seconds between smbstatus "
                                          "polls for client_connected/disconnected share events "
                                          "(0: off)")
    previous_versions_dir: str | None = Field(
        None, description="where the per-share folders of @GMT-... links to snapshots live; "
        "must be outside the private data dir (smbd reads them as the user). Default: "
        "/run/sigmavault-smb/<hash of the data dir>")
    log_level: int = Field(1, ge=0, le=10)
