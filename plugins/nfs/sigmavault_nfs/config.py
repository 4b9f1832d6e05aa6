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
        "ACL. A share served over NFS gets its access list as mode bits (one user with write or "
        "full owns its files, one group, everyone), which then decide per user. 'refuse': a list "
        "mode bits cannot express is refused (409 nfs_per_user_access), unless squash all maps "
        "every request to one NAS user. 'mode_bits': such a list keeps its ACL and is exported "
        "anyway (NAS users then get the ACL mask's rights on files of their primary group)")
    log_level: Literal["FATAL", "MAJ", "CRIT", "WARN", "EVENT", "INFO", "DEBUG"] = "EVENT"
    check_config: bool = Field(True, description="try every new configuration on a throwaway "
                               "Ganesha on a free loopback port before it goes live")
    clients_poll_interval: float = Field(5.0, ge=0, description="seconds between looks at the "
                                         "connected clients for share events (0: off)")

    @field_validator("bind_addr")
    @classmethod
    def _address(cls, value: str) -> str:
        return str(ipaddress.ip_address(value))
