"""NFS throughput: a share exported by sigmavault-nfs vs the same folder exported by a minimal
hand-written ganesha.conf.

Both are NFS-Ganesha (the same binary, VFS FSAL, NFSv4 over TCP on loopback), so the comparison
is what SigmaVault's configuration costs or saves: its exports carry ``Manage_Gids`` (groups from
this server's accounts) and ``Attr_Expiration_Time = 0`` (changes made over SMB or locally show
at once), which the minimal config leaves at Ganesha's defaults (client's groups, 60 s attribute
cache). The minimal config has what any Ganesha here needs to start without rpcbind, a
Kerberos keytab or the system's state dirs (NFSv4 only, no NLM/RQUOTA/UDP, no krb5, its own
recovery dir), nothing else. The daemon runs in this process with only shares, storage and nfs enabled; the share is
on a dir pool, "everyone: write", squash none, the client runs as root.

Reads: the same file (random bytes, not sparse) copied with ``nfs-cp`` over NFSv4 from each
server to a file on ``/dev/shm`` (nfs-cp cannot write to /dev/null). Writes: a file on
``/dev/shm`` copied to a new name over NFSv3 (libnfs 4.0 cannot encode NFSv4 WRITEs beyond
~4 KiB), both ports named in the URL: ours serves NFSv3 here (it registers with rpcbind, which
is started for the run when none runs), the minimal config on a fixed MOUNT port (its rpcbind
registration fails, harmlessly). The servers take turns going first, each write's file is
deleted and the disk synced before the next, and the best of ``--repeat`` rounds is compared. A ratio is our throughput
divided by the minimal config's (>= 0.95 is the target).

    .venv/bin/python bench/nfs_vs_ganesha.py              # 1 GiB
    .venv/bin/python bench/nfs_vs_ganesha.py --size 256   # MiB
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path

from aiohttp import web
from sigmavault.app import SigmaVault
from sigmavault.commands import Process, run, start_process
from sigmavault.config import Config
from sigmavault_nfs.server import rpcbind_running

TARGET = 0.95
MINIMAL = """NFS_CORE_PARAM {{
  NFS_Port = {port}; MNT_Port = {mnt}; Bind_Addr = 127.0.0.1; Protocols = 3, 4;
  mount_path_pseudo = true;
  Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false;
}}
NFS_KRB5 {{ Active_krb5 = false; }}
NFSv4 {{ RecoveryBackend = fs; RecoveryRoot = "{work}/recovery"; Graceless = true; }}
EXPORT {{
  Export_Id = 1; Path = "{path}"; Pseudo = /data; Access_Type = RW; Squash = No_Root_Squash;
  SecType = sys; Protocols = 3, 4; Transports = TCP;
  FSAL {{ Name = VFS; }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def url(port: int, name: str) -> str:
    return f"nfs://127.0.0.1/data/{name}?version=4&nfsport={port}&uid=0&gid=0"


def url3(port: int, mnt: int, name: str) -> str:
    """NFSv3 with both ports named (libnfs 4.0's NFSv4 WRITE fails to encode beyond ~4 KiB:
    'ZDR error: Failed to encode COMPOUND4args'; its NFSv3 writes work)."""
    return (f"nfs://127.0.0.1/data/{name}?version=3&nfsport={port}&mountport={mnt}"
            "&uid=0&gid=0")


def mount_port(nfs_port: int, rpcinfo: str) -> int:
    """The MOUNT v3 TCP port registered with rpcbind (ours: Ganesha picks it)."""
    for line in rpcinfo.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == "100005" and f[1] == "3" and f[2] == "tcp":
            return int(f[3])
    raise SystemExit(f"no MOUNT v3 registered with rpcbind (NFS on {nfs_port}):\n{rpcinfo}")


async def copy(src: str, dst: str) -> float:
    started = time.perf_counter()
    res = await run(["nfs-cp", src, dst], timeout=3600, check=False)
    if res.returncode != 0:
        raise SystemExit(f"nfs-cp {src} {dst} failed: {(res.stdout + res.stderr).strip()}")
    return time.perf_counter() - started


async def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024, help="MiB (default 1024)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    for tool in ("ganesha.nfsd", "nfs-cp", "rpcbind", "rpcinfo"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing (apt-get install nfs-ganesha nfs-ganesha-vfs libnfs-utils)")
            return 2
    if os.geteuid() != 0:
        print("needs root (Ganesha, share ACLs)")
        return 2

    rpcbind: Process | None = None
    if not rpcbind_running():
        rpcbind = start_process(["rpcbind", "-f", "-w"], new_session=True, die_with_parent=True)
        for _ in range(100):
            if rpcbind_running():
                break
            await asyncio.sleep(0.05)
    root = Path(tempfile.mkdtemp(prefix="svbench-nfs-"))
    os.chmod(root, 0o755)
    ours_port, anchor_port = free_port(), free_port()
    keep = {"sigmavault-shares", "sigmavault-storage", "sigmavault-nfs"}
    others = sorted({ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist} - keep)
    app = await SigmaVault.create(Config.model_validate({
        "data_dir": root / "data", "plugins": {"disabled": others},
        "storage": {"pools_root": str(root / "pools"), "monitor_interval": 0},
        "nfs": {"port": ours_port, "bind_addr": "127.0.0.1", "grace_period": 0, "versions": [3, 4],
                "clients_poll_interval": 0}}))
    runner = web.AppRunner(app.web)
    await runner.setup()
    anchor: Process | None = None
    try:
        await app.call("storage.pool.create", body={"name": "bench", "backend": "dir"})
        await app.call("storage.volume.create", pool="bench", name="vol")
        share = await app.call("shares.create", body={
            "name": "data", "pool": "bench", "volume": "vol", "protocols": ["nfs"],
            "access": [{"kind": "everyone", "level": "write"}],
            "options": {"nfs": {"clients": [{"host": "127.0.0.1"}], "squash": "none"}}})
        folder = Path(share["path"])
        size = args.size << 20
        # local ends on tmpfs: the client's side of the copy costs memory bandwidth only
        source = Path(f"/dev/shm/svbench-nfs-{os.getpid()}.src")
        sink = Path(f"/dev/shm/svbench-nfs-{os.getpid()}.dst")
        with open(source, "wb") as f:
            left = size
            while left:
                chunk = min(left, 16 << 20)
                f.write(os.urandom(chunk))
                left -= chunk
        shutil.copyfile(source, folder / "big.bin")

        os.sync()  # the prepared file's writeback must not land in a measurement

        # the minimal Ganesha serves NFSv3 too, on fixed ports; ours registered with rpcbind
        # first, so the minimal one's registration fails (harmless) and clients name the ports
        work = root / "anchor"
        (work / "recovery").mkdir(parents=True)
        anchor_mnt = free_port()
        (work / "ganesha.conf").write_text(MINIMAL.format(
            port=anchor_port, mnt=anchor_mnt, work=work, path=folder))
        anchor = start_process(["ganesha.nfsd", "-F", "-f", work / "ganesha.conf", "-L",
                                work / "ganesha.log", "-p", work / "pid"], new_session=True,
                               die_with_parent=True)
        try:
            await wait_port(anchor_port)
        except OSError:
            lines = (work / "ganesha.log").read_text().splitlines()
            raise SystemExit("the minimal Ganesha did not start:\n" + "\n".join(
                ln for ln in lines if ":MAJ :" in ln or ":FATAL :" in ln or
                ":CRIT :" in ln and ":DBUS :" not in ln)) from None
        await wait_port(ours_port)
        ours_mnt = mount_port(ours_port, (await run(["rpcinfo", "-p", "127.0.0.1"],
                                                    timeout=30)).stdout)
        ports = {"ours": (ours_port, ours_mnt), "anchor": (anchor_port, anchor_mnt)}
        best = {("ours", "read"): 1e9, ("anchor", "read"): 1e9,
                ("ours", "write"): 1e9, ("anchor", "write"): 1e9}
        n = 0
        for rnd in range(args.repeat):
            order = ["ours", "anchor"] if rnd % 2 == 0 else ["anchor", "ours"]
            for who in order:  # reads over NFSv4
                t = await copy(url(ports[who][0], "big.bin"), str(sink))
                best[who, "read"] = min(best[who, "read"], t)
                if sink.stat().st_size != size:
                    print(f"read from {who} gave {sink.stat().st_size} bytes")
                    return 1
                sink.unlink()
            for who in order:  # writes over NFSv3 (see url3)
                n += 1
                name = f"up-{who}-{n}.bin"
                t = await copy(str(source), url3(*ports[who], name))
                best[who, "write"] = min(best[who, "write"], t)
                if (folder / name).stat().st_size != size:
                    print(f"write to {who} left {(folder / name).stat().st_size} bytes")
                    return 1
                (folder / name).unlink()
                os.sync()
        mib = size / (1 << 20)
        print(f"{'':28}{'seconds':>10}{'MiB/s':>10}")
        for (who, op), t in sorted(best.items()):
            name = "sigmavault-nfs" if who == "ours" else "minimal ganesha.conf"
            print(f"{name + ' ' + op:28}{t:10.3f}{mib / t:10.1f}")
        read_ratio = best["anchor", "read"] / best["ours", "read"]
        write_ratio = best["anchor", "write"] / best["ours", "write"]
        print(f"read:  sigmavault-nfs {read_ratio:.3f}x the minimal config "
              f"(minimal {1 / read_ratio:.3f}x ours)")
        print(f"write: sigmavault-nfs {write_ratio:.3f}x the minimal config "
              f"(minimal {1 / write_ratio:.3f}x ours)")
        ok = read_ratio >= TARGET and write_ratio >= TARGET
        print(f"RESULT size_mib={args.size} read_mib_s={mib / best['ours', 'read']:.1f} "
              f"anchor_read_mib_s={mib / best['anchor', 'read']:.1f} "
              f"write_mib_s={mib / best['ours', 'write']:.1f} "
              f"anchor_write_mib_s={mib / best['anchor', 'write']:.1f} "
              f"read_ratio={read_ratio:.3f} write_ratio={write_ratio:.3f} ok={int(ok)}")
        return 0 if ok else 1
    finally:
        if anchor is not None:
            await anchor.stop(10)
        await runner.cleanup()
        if rpcbind is not None:
            await rpcbind.stop(10)
        shutil.rmtree(root, ignore_errors=True)
        for p in (Path(f"/dev/shm/svbench-nfs-{os.getpid()}.src"),
                  Path(f"/dev/shm/svbench-nfs-{os.getpid()}.dst")):
            p.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
