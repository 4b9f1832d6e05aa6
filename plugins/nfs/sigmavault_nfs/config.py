"""The ``[nfs]`` configuration section."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class NfsConfig(BaseModel):
    enabled: bool = Field(True, description="serve shares that list 'nfs' (Ganesha runs only "
                          "while there is at least one)")
    port: int = Field(2049, ge=1, le=65535, description="NFS port (NFSv4 clients need no "
                      "rpcbind; NFSv3 clients find MOUNT and NLM through rpcbind)")
    bind_addr: str = Field("0.0.0.0", description="address Ganesha listens on")
    versions: list[Literal[3, 4]] = Field([4], min_length=1, description="NFS versions served; "
                                           "3 needs rpcbind (started when not running)")
    grace_period: int = Field(90, ge=0, le=3600, description="seconds after a (re)start in which "
                              "NFSv4 clients reclaim their locks and no new state is granted; "
                              "0: no grace period")
    lease_lifetime: int = Field(60, ge=1, le=180)
    attr_expiration: int = Field(0, ge=-1, le=3600, description="seconds Ganesha trusts cached "
                                 "attributes and directory contents; 0 shows changes made over "
                                 "SMB or locally at once")
    manage_gids: bool = Field(True, description="take a user's groups from this server's "
                              "accounts (NAS groups) instead of the client's list of at most 16")
    per_user_access: Literal["refuse", "mode_bits"] = Field(
        "refuse", description="NFS-Ganesha's VFS FSAL checks a file's mode bits, not its POSIX "
        "ACL, and every NAS user is in the primary group that the ACL mask applies to. 'refuse': "
        "export only shares where every NAS user has the same level (or squash all maps every "
        "request to one NAS user), capped read-only where that level is read. 'mode_bits': "
        "export anyway (NAS users then get the mask's rights on files of the primary group)")
    log_level: Literal["FATAL", "MAJ", "CRIT", "WARN", "EVENT", "INFO", "DEBUG"] = "EVENT"
    check_config: bool = Field(True, description="try every new configuration on a throwaway "
                               "Ganesha on a free loopback port before it goes live")
    clients_poll_interval: float = Field(5.0, ge=0, description="seconds between looks at the "
                                         "connected clients for share events (0: off)")

    @field_validator("bind_addr")
    @classmethod
    def _address(cls, value: str) -> str:
        return str(ipaddress.ip_address(value))
