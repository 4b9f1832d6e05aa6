"""Who is connected to Ganesha, from what the machine can tell without Ganesha's DBus interface.

Ganesha reports clients over DBus only (``ganesha_mgr``/``org.ganesha.nfsd.clientmgr``), and
there is no system bus here (Ganesha logs ``dbus_bus_get failed``). Two sources stand in:

- the kernel's TCP table (``/proc/net/tcp`` and ``tcp6``): every ESTABLISHED connection to the
  NFS port is a connected client (address and port), NFSv3 and v4 alike, live;
- Ganesha's NFSv4 recovery records (``RecoveryBackend = fs``): one file per NFSv4 client that
  holds state, named ``<address>-(<len>:<client owner>)``, kept until the client's lease ends.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

ESTABLISHED = "01"
_RECORD = re.compile(r"^(?P<addr>.+?)-\((?P<len>\d+):(?P<owner>.*)\)$")


@dataclass(frozen=True)
class Connection:
    address: str
    port: int


@dataclass(frozen=True)
class V4Client:
    address: str
    owner: str  # the client's NFSv4 client owner string (e.g. "Linux NFSv4.2 host")


def _addr(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc/net/tcp6: four 32-bit words, each in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    ip = ipaddress.IPv6Address(words)
    return str(ip.ipv4_mapped or ip)


def parse_proc_tcp(text: str, port: int) -> list[Connection]:
    """ESTABLISHED connections whose local port is ``port`` in ``/proc/net/tcp{,6}`` text."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != ESTABLISHED:
            continue
        local, remote = fields[1], fields[2]
        if int(local.rsplit(":", 1)[1], 16) != port:
            continue
        raddr, rport = remote.rsplit(":", 1)
        out.append(Connection(_addr(raddr), int(rport, 16)))
    return out


def connections(port: int, proc: Path = Path("/proc/net")) -> list[Connection]:
    out: list[Connection] = []
    for name in ("tcp", "tcp6"):
        try:
            out += parse_proc_tcp((proc / name).read_text(), port)
        except OSError:
            continue
    return sorted(set(out), key=lambda c: (c.address, c.port))


def parse_record(name: str) -> V4Client | None:
    m = _RECORD.match(name)
    if m is None:
        return None
    addr = m["addr"]
    try:
        ip = ipaddress.ip_address(addr)
        addr = str(getattr(ip, "ipv4_mapped", None) or ip)
    except ValueError:
        pass
    return V4Client(addr, m["owner"])


def v4_clients(recovery_dir: Path) -> list[V4Client]:
    """The NFSv4 clients Ganesha keeps recovery records for (``<root>/v4recov/node*/``)."""
    out = []
    for node in sorted((recovery_dir / "v4recov").glob("node*")):
        try:
            names = sorted(p.name for p in node.iterdir())
        except OSError:
            continue
        for n in names:
            rec = parse_record(n)
            if rec is not None:
                out.append(rec)
    return out
