"""``sigmavault service install|uninstall``: run the daemon at boot as a systemd service.

``install`` writes ``/etc/systemd/system/sigmavault.service``, a starting
``/etc/sigmavault/config.toml`` (kept when it exists) and ``/var/lib/sigmavault`` (0700), all
under ``--root`` (default ``/``; tests and packagers stage into a directory). With the real root
it then runs ``systemctl daemon-reload`` and ``enable --now`` unless told not to.

Hardening. The daemon runs as root and mounts file systems (BTRFS, ZFS through zfs-fuse and
/dev/fuse), attaches loop devices, reads SMART data through SG_IO, creates WireGuard interfaces
over netlink, adds the Unix accounts behind NAS users (``useradd`` writes ``/etc/passwd``) and
supervises smbd. So it keeps root's file system view and devices, and gets only the hardening
that leaves those working:

- ``NoNewPrivileges``, ``RestrictSUIDSGID``, ``LockPersonality``, ``RestrictRealtime``,
  ``SystemCallArchitectures=native``: no privilege gain through exec, no new set-uid files, no
  personality or real-time scheduling tricks; nothing the tools need.
- ``CapabilityBoundingSet`` without the capabilities no part uses (reboot, clock, kernel audit
  and MAC policy, syslog, process accounting, wake alarms, suspend blocking). CAP_LEASE stays
  (Samba's kernel oplocks), CAP_SYS_ADMIN/CAP_SYS_RAWIO/CAP_NET_ADMIN/CAP_MKNOD stay (mount,
  SMART, WireGuard, loop devices).
- ``RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK``: HTTP, SMB, WireGuard, and
  netlink for interfaces and udev; no raw packet sockets.
- ``SystemCallFilter`` denies only ``@clock @cpu-emulation @debug @obsolete @reboot @swap``.
- ``UMask=0077``: state files are private (the daemon sets it too).

Left out on purpose, with the reason:

- ``ProtectSystem``, ``ProtectHome``, ``PrivateTmp``, ``ReadOnlyPaths``, ``ProtectKernelTunables``,
  ``ProtectKernelModules``, ``ProtectKernelLogs``, ``ProtectControlGroups``, ``ProtectProc``,
  ``ProtectHostname``, ``PrivateDevices``: each gives the service its own mount namespace, and
  mounts made in it do not propagate to the host — pools mounted by the daemon would be invisible
  to the rest of the machine (an administrator's shell, backups, a system NFS server). Besides:
  ``ProtectSystem`` makes ``/etc`` read-only (NAS accounts need ``useradd``), ``PrivateDevices``
  hides the disks and loop devices, ``ProtectKernelModules`` blocks loading btrfs/wireguard.
- ``ProtectClock`` and ``DeviceAllow``: a device allow-list would deny loop and disk devices.
- ``MemoryDenyWriteExecute``: libffi closures (cffi callbacks) need writable-executable memory.
- ``RestrictNamespaces``: network namespaces are how the mesh is tested and may be how it runs.
- ``PrivateNetwork``/``IPAddressDeny``: it is a network server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import __version__

UNIT_NAME = "sigmavault.service"
UNIT_DIR = Path("etc/systemd/system")
CONFIG_DIR = Path("etc/sigmavault")
DATA_DIR = Path("var/lib/sigmavault")

UNIT = """\
# SigmaVault {version} — written by `sigmavault service install`; `sigmavault service uninstall`
# removes it. Why these hardening settings and not others: docs/operations.md.
[Unit]
Description=SigmaVault NAS management daemon
Documentation=https://github.com/sigmavault/sigmavault/blob/main/docs/operations.md
After=network-online.target local-fs.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={exec_start} serve --config {config} --data-dir {data_dir}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5
TimeoutStopSec=30
LimitNOFILE=65536
UMask=0077

NoNewPrivileges=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictRealtime=yes
SystemCallArchitectures=native
SystemCallFilter=~@clock @cpu-emulation @debug @obsolete @reboot @swap
SystemCallErrorNumber=EPERM
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
CapabilityBoundingSet=~CAP_SYS_BOOT CAP_SYS_TIME CAP_WAKE_ALARM CAP_SYS_PACCT CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_SYSLOG CAP_BLOCK_SUSPEND

[Install]
WantedBy=multi-user.target
"""

CONFIG = """\
# SigmaVault configuration (docs/configuration.md lists every key). Written once by
# `sigmavault service install`; edit it and `systemctl restart sigmavault`.
host = "127.0.0.1"   # "0.0.0.0" to serve the LAN (then enable TLS below)
port = 12080
data_dir = "{data_dir}"
log_format = "human"  # "json" for log collectors
log_level = "INFO"    # "DEBUG" also shows every external command line
# tls_self_signed = true
# tls_cert = "/etc/sigmavault/tls.crt"
# tls_key = "/etc/sigmavault/tls.key"
"""


def console_script() -> str:
    """The installed ``sigmavault`` console script beside this interpreter (a virtualenv's or the
    system's), else ``python -m sigmavault.cli``."""
    beside = Path(sys.executable).parent / "sigmavault"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("sigmavault")
    if found:
        return str(Path(found).resolve() if Path(found).is_symlink() else found)
    return f"{sys.executable} -m sigmavault.cli"


def render_unit(exec_start: str | None = None, config: str = "/etc/sigmavault/config.toml",
                data_dir: str = "/var/lib/sigmavault") -> str:
    return UNIT.format(version=__version__, exec_start=exec_start or console_script(),
                       config=config, data_dir=data_dir)


def _systemctl(*args: str) -> None:
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"systemctl {' '.join(args)} failed: {result.stderr.strip()}")


def install(root: Path = Path("/"), *, enable: bool = True, exec_start: str | None = None) -> list[str]:
    """Write the unit, config and data dir under ``root``; lines saying what was done."""
    done = []
    unit = root / UNIT_DIR / UNIT_NAME
    config = root / CONFIG_DIR / "config.toml"
    data = root / DATA_DIR
    unit.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    unit.write_text(render_unit(exec_start, f"/{CONFIG_DIR}/config.toml", f"/{DATA_DIR}"))
    unit.chmod(0o644)
    done.append(f"wrote {unit}")
    config.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    config.parent.chmod(0o700)
    if config.exists():
        done.append(f"kept {config}")
    else:
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(CONFIG.format(data_dir=f"/{DATA_DIR}"))
        done.append(f"wrote {config}")
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    data.chmod(0o700)
    done.append(f"data dir {data} (0700)")
    if root.resolve() == Path("/") and enable:
        _systemctl("daemon-reload")
        _systemctl("enable", "--now", UNIT_NAME)
        done.append(f"enabled and started {UNIT_NAME}; the first start prints the admin password "
                    "to the journal: journalctl -u sigmavault")
    elif root.resolve() == Path("/"):
        _systemctl("daemon-reload")
        done.append(f"start it with: systemctl enable --now {UNIT_NAME}")
    return done


def uninstall(root: Path = Path("/")) -> list[str]:
    """Stop and remove the unit; the config and the data dir are kept."""
    done = []
    unit = root / UNIT_DIR / UNIT_NAME
    if root.resolve() == Path("/") and unit.exists():
        try:
            _systemctl("disable", "--now", UNIT_NAME)
            done.append(f"stopped and disabled {UNIT_NAME}")
        except RuntimeError as exc:
            done.append(f"warning: {exc}")
    if unit.exists():
        unit.unlink()
        done.append(f"removed {unit}")
    else:
        done.append(f"{unit} was not installed")
    if root.resolve() == Path("/"):
        try:
            _systemctl("daemon-reload")
        except RuntimeError:
            pass
    done.append(f"kept {root / CONFIG_DIR} and {root / DATA_DIR} (configuration and state; "
                "remove them yourself if you mean to)")
    return done
