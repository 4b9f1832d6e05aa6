"""PhantomMesh network drivers: kernel WireGuard (pyroute2 netlink) and wireguard-go (UAPI)."""

from .base import DeviceState, DriverError, NetworkDriver, PeerConfig, PeerState
from .kernel import KernelDriver
from .select import select_driver
from .userspace import UserspaceDriver

__all__ = ["DeviceState", "DriverError", "NetworkDriver", "PeerConfig", "PeerState",
           "KernelDriver", "UserspaceDriver", "select_driver"]
