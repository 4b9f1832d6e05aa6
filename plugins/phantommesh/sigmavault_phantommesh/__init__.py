"""PhantomMesh: a WireGuard mesh VPN between SigmaVault nodes.

Two drivers behind one interface: the Linux kernel module through pyroute2's WireGuard generic
netlink, and ``wireguard-go`` through the cross-platform userspace API (UAPI) socket.
"""

__version__ = "0.1.0"
