"""The ``[phantommesh]`` configuration section."""

from __future__ import annotations

import socket
from typing import Literal

from pydantic import BaseModel, Field

from sigmavault.validation import Name

from .models import CIDR, HttpURL, IfName


class MeshConfig(BaseModel):
    """``[phantommesh]`` configuration."""

    enabled: bool = Field(False, description="allow the WireGuard interface to come up: creating "
                          "an interface and opening a UDP port is the admin's decision (opt-in)")
    interface: IfName = "phantom0"
    driver: Literal["auto", "kernel", "userspace"] = "auto"
    listen_port: int = Field(51820, ge=1, le=65535)
    mesh_cidr: CIDR = "10.77.0.0/16"
    node_name: Name = Field(default_factory=lambda: (socket.gethostname().split(".")[0] or "node")[:64])
    endpoint_host: str | None = Field(None, description="host/IP peers use to reach this node's "
                                      "WireGuard port; default: the address they see us from")
    api_url: HttpURL | None = Field(None, description="URL of this node's API for node-to-node calls")
    keepalive: int = Field(25, ge=0, le=3600)
    mtu: int = Field(1420, ge=1280, le=9000)
    post_quantum: bool = True
    pq_rotate_seconds: float = Field(3600.0, ge=5)
    monitor_seconds: float = Field(10.0, ge=0.5)
    invite_ttl_seconds: int = Field(3600, ge=60, le=7 * 86400)
    autostart: bool = Field(True, description="bring the interface up at start when peers exist")
    ipam_quarantine_seconds: float = Field(86400.0, ge=0)
