"""SMB throughput: a share served by sigmavault-smb vs the same folder served by a minimal
hand-written smb.conf on the same smbd binary.

Both are this machine's ``smbd`` on loopback ports, so the comparison is what SigmaVault's
configuration adds to the data path: its share carries a POSIX ACL with default entries (the
access list) and ``inherit acls = yes``, its global section what any SigmaVault smbd has
(state dirs, signing and encryption at Samba's defaults, ``vfs_fruit`` settings unused here). The
minimal config has what a second smbd needs to run beside ours (its own port, state dirs and
passdb) and one share, ``read only = no``, for the same user. The daemon runs in this process
with only shares, storage and smb enabled; its NAS user and share are created through the REST
API.

Reads: ``smbclient … -c 'get big.bin /dev/null'`` of the same file (random bytes). Writes:
``put`` of a file on ``/dev/shm`` to a new name, deleted (and the disk synced) after each. The
servers take turns going first and the best of ``--repeat`` rounds is compared. A ratio is our
throughput divided by the minimal config's (>= 0.95 is the target). The CPU time smbd spent
serving each transfer (the main smbd's reaped children, ``cutime + cstime``) is compared too:
it varies less with what else runs on the machine than the seconds on the clock. The ratio of
the rounds' medians is printed as well; the verdict is on the best rounds.

The pool is a ``dir`` pool on ``/dev/shm`` by default (tmpfs, with POSIX ACLs): the disk is the
same for both servers, and on a shared machine its write-back made single 1 GiB writes vary by
2x and more, hiding what the configuration costs. ``--pools-root /var/tmp`` puts it on disk.

    .venv/bin/python bench/smb_vs_samba.py              # 1 GiB
    .venv/bin/python bench/smb_vs_samba.py --quick      # 128 MiB, 5 rounds
    .venv/bin/python bench/smb_vs_samba.py --size 256 --pools-root /var/tmp
"""

from __future__ import annotations

import argparse
import asyncio
import grp
import os
import pwd
import shutil
import socket
import statistics
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
from aiohttp.test_utils import TestServer
from sigmavault.app import SigmaVault
from sigmavault.commands import Process, run, start_process
from sigmavault.config import Config

TARGET = 0.95
TOOLS = ("smbd", "smbclient", "smbcontrol", "smbpasswd", "pdbedit", "testparm", "setfacl")
# NAS accounts of the SMB benchmarks: names "svb…", ids in this range (tests use 3900-3999)
FIRST_ID, LAST_ID = 3600, 3799
PREFIX = "svb"
USER, PASSWORD = "svbalice", "bench-Pw-4242"
STATE_DIRS = ("lock", "state", "cache", "private", "pid", "ncalrpc", "log")
MINIMAL = """[global]
\tsmb ports = {port}
\tinterfaces = 127.0.0.1
\tbind interfaces only = yes
\tdisable netbios = yes
\tpassdb backend = tdbsam:{work}/private/passdb.tdb
\tlock directory = {work}/lock
\tstate directory = {work}/state
\tcache directory = {work}/cache
\tprivate dir = {work}/private
\tpid directory = {work}/pid
\tncalrpc dir = {work}/ncalrpc
\tlog file = {work}/log/smbd.log
\tload printers = no
\tprinting = bsd
\tprintcap name = /dev/null
\tdisable spoolss = yes
{shares}"""
SHARE = """
[{name}]
\tpath = {path}
\tread only = no
\tvalid users = {user}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


async def sweep_accounts() -> None:
    """Remove every benchmark account left behind (names svb…, ids in the benchmark range)."""
    for p in pwd.getpwall():
        if FIRST_ID <= p.pw_uid <= LAST_ID and p.pw_name.startswith(PREFIX):
            await run(["userdel", p.pw_name], check=False, timeout=60)
    for g in grp.getgrall():
        if FIRST_ID <= g.gr_gid <= LAST_ID and g.gr_name.startswith(PREFIX):
            await run(["groupdel", g.gr_name], check=False, timeout=60)


class Api:
    """The daemon's REST API over HTTP, as the admin."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __call__(self, method: str, path: str, status: int, **kw: Any) -> Any:
        async with self.session.request(method, f"/api/v1{path}", **kw) as resp:
            body = await resp.json() if resp.status != 204 else None
            if resp.status != status:
                raise SystemExit(f"{method} {path}: {resp.status} {body}")
            return body


@asynccontextmanager
async def nas_daemon(root: Path, smb_port: int, pools: Path | None = None
                     ) -> AsyncIterator[tuple[SigmaVault, Api]]:
    """A started in-process daemon (shares, storage, smb only) with its HTTP API on a loopback
    port; its smbd listens on ``smb_port`` once a share lists smb. ``pools``: the dir backend's
    pools root (default ``root/pools``)."""
    keep = {"sigmavault-shares", "sigmavault-storage", "sigmavault-smb"}
    others = sorted({ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist} - keep)
    app = await SigmaVault.create(Config.model_validate({
        "data_dir": root / "data", "plugins": {"disabled": others},
        "storage": {"pools_root": str(pools or root / "pools"), "monitor_interval": 0},
        "shares": {"first_id": FIRST_ID, "last_id": LAST_ID},
        "smb": {"port": smb_port, "interfaces": ["127.0.0.1"], "sessions_poll_interval": 0,
                "previous_versions_dir": str(root / "previous-versions")}}))
    if not app.db.one("SELECT 1 FROM users WHERE username = 'admin'"):  # a restart: it exists
        app.auth.create_user("admin", "bench-Admin-Pw-1", "admin")
    key, _ = app.auth.create_key("admin", "bench")
    server = TestServer(app.web, host="127.0.0.1")
    await server.start_server()
    session = aiohttp.ClientSession(str(server.make_url("/")),
                                    headers={"Authorization": f"Bearer {key}"})
    try:
        yield app, Api(session)
    finally:
        await session.close()
        await server.close()


def write_minimal(work: Path, port: int, shares: dict[str, Path], user: str) -> Path:
    """The hand-written smb.conf (its state dirs made); its path."""
    for d in STATE_DIRS:
        (work / d).mkdir(parents=True, exist_ok=True)
    os.chmod(work / "private", 0o700)
    conf = work / "smb.conf"
    conf.write_text(MINIMAL.format(port=port, work=work, shares="".join(
        SHARE.format(name=n, path=p, user=user) for n, p in shares.items())))
    return conf


async def start_minimal(conf: Path, port: int, user: str, password: str) -> Process:
    """The hand-written smbd with ``user`` in its passdb, listening."""
    await run(["smbpasswd", "-c", conf, "-s", "-a", user],
              input=f"{password}\n{password}\n".encode(), timeout=30)
    proc = start_process(["smbd", "--foreground", "--no-process-group", f"--configfile={conf}",
                          f"--log-basename={conf.parent / 'log'}"], new_session=True,
                         die_with_parent=True, log_path=conf.parent / "log" / "smbd.out")
    await wait_port(port)
    return proc


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


async def smbclient(port: int, share: str, command: str, user: str = USER,
                    password: str = PASSWORD, timeout: float = 3600) -> tuple[bool, str]:
    """``smbclient //127.0.0.1/<share> -c <command>`` (the password through ``PASSWD``)."""
    res = await run(["smbclient", f"//127.0.0.1/{share}", "-p", str(port), "-U", user,
                     "-c", command], env={"PASSWD": password}, timeout=timeout, check=False)
    out = res.stdout + res.stderr
    return res.returncode == 0 and "NT_STATUS_" not in out, out


def children_cpu(pid: int) -> float:
    """CPU seconds of the finished children ``pid`` has reaped (``cutime + cstime``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


async def timed(port: int, smbd: int, command: str) -> tuple[float, float]:
    """Seconds ``smbclient -c command`` took, and the CPU seconds of the smbd child that served
    it (the main smbd ``smbd`` reaps it when the client disconnects)."""
    cpu = children_cpu(smbd)
    started = time.perf_counter()
    ok, out = await smbclient(port, "data", command)
    took = time.perf_counter() - started
    if not ok:
        raise SystemExit(f"smbclient -p {port} -c {command!r} failed: {out.strip()[-500:]}")
    for _ in range(100):
        await asyncio.sleep(0.05)
        if children_cpu(smbd) > cpu:
            break
    return took, children_cpu(smbd) - cpu


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=None, help="MiB (default 1024; --quick: 128)")
    ap.add_argument("--repeat", type=int, default=None, help="rounds (default 7; --quick: 5)")
    ap.add_argument("--quick", action="store_true", help="a smaller file, fewer rounds")
    ap.add_argument("--pools-root", type=Path, default=Path("/dev/shm"),
                    help="where the shared folder lives (default /dev/shm)")
    args = ap.parse_args()
    size_mib = args.size or (128 if args.quick else 1024)
    repeat = args.repeat or (5 if args.quick else 7)
    if missing_tools():
        print(f"{', '.join(missing_tools())} missing (apt-get install samba smbclient acl)")
        return 2
    if os.geteuid() != 0:
        print("needs root (smbd, NAS accounts, share ACLs)")
        return 2

    await sweep_accounts()
    root = Path(tempfile.mkdtemp(prefix="svbench-smb-"))
    os.chmod(root, 0o755)
    pools = Path(tempfile.mkdtemp(prefix="svbench-smb-pools-", dir=args.pools_root))
    os.chmod(pools, 0o755)
    source = Path(f"/dev/shm/svbench-smb-{os.getpid()}.src")
    ours_port, anchor_port = free_port(), free_port()
    anchor: Process | None = None
    try:
        async with nas_daemon(root, ours_port, pools) as (app, api):
            await api("POST", "/shares/users", 201, json={"name": USER, "password": PASSWORD})
            await api("POST", "/storage/pools", 201, json={"name": "bench", "backend": "dir"})
            await api("POST", "/storage/pools/bench/volumes", 201, json={"name": "vol"})
            share = await api("POST", "/shares", 201, json={
                "name": "data", "pool": "bench", "volume": "vol", "protocols": ["smb"],
                "access": [{"kind": "user", "name": USER, "level": "write"}]})
            folder = Path(share["path"])
            size = size_mib << 20
            with open(source, "wb") as f:
                left = size
                while left:
                    chunk = min(left, 16 << 20)
                    f.write(os.urandom(chunk))
                    left -= chunk
            shutil.copyfile(source, folder / "big.bin")
            os.sync()  # the prepared file's writeback must not land in a measurement

            conf = write_minimal(root / "anchor", anchor_port, {"data": folder}, USER)
            anchor = await start_minimal(conf, anchor_port, USER, PASSWORD)
            await wait_port(ours_port)
            ports = {"ours": ours_port, "anchor": anchor_port}
            pids = {"ours": (await api("GET", "/smb/status", 200))["pid"], "anchor": anchor.pid}
            best = {(w, op): 1e9 for w in ports for op in ("read", "write")}
            cpu = dict(best)
            times: dict[tuple[str, str], list[float]] = {k: [] for k in best}
            n = 0
            for rnd in range(repeat):
                order = ["ours", "anchor"] if rnd % 2 == 0 else ["anchor", "ours"]
                for who in order:
                    t, c = await timed(ports[who], pids[who], "get big.bin /dev/null")
                    print(f"round {rnd + 1}: {who:6} read  {t:.3f} s, smbd CPU {c:.2f} s",
                          flush=True)
                    best[who, "read"] = min(best[who, "read"], t)
                    times[who, "read"].append(t)
                    cpu[who, "read"] = min(cpu[who, "read"], c)
                for who in order:
                    n += 1
                    name = f"up-{who}-{n}.bin"
                    t, c = await timed(ports[who], pids[who], f"put {source} {name}")
                    print(f"round {rnd + 1}: {who:6} write {t:.3f} s, smbd CPU {c:.2f} s",
                          flush=True)
                    best[who, "write"] = min(best[who, "write"], t)
                    times[who, "write"].append(t)
                    cpu[who, "write"] = min(cpu[who, "write"], c)
                    if (folder / name).stat().st_size != size:
                        print(f"write to {who} left {(folder / name).stat().st_size} bytes")
                        return 1
                    (folder / name).unlink()
                    os.sync()
    finally:
        if anchor is not None:
            await anchor.stop(10)
        source.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(pools, ignore_errors=True)
        await sweep_accounts()

    mib = size / (1 << 20)
    print(f"{'':28}{'seconds':>10}{'MiB/s':>10}{'smbd CPU s':>12}")
    for (who, op), t in sorted(best.items()):
        label = "sigmavault-smb" if who == "ours" else "minimal smb.conf"
        print(f"{label + ' ' + op:28}{t:10.3f}{mib / t:10.1f}{cpu[who, op]:12.2f}")
    read_ratio = best["anchor", "read"] / best["ours", "read"]
    write_ratio = best["anchor", "write"] / best["ours", "write"]
    cpu_read = cpu["anchor", "read"] / cpu["ours", "read"]
    cpu_write = cpu["anchor", "write"] / cpu["ours", "write"]
    print(f"read:  sigmavault-smb {read_ratio:.3f}x the minimal config's throughput, "
          f"{cpu_read:.3f}x its CPU efficiency")
    print(f"write: sigmavault-smb {write_ratio:.3f}x the minimal config's throughput, "
          f"{cpu_write:.3f}x its CPU efficiency")
    med = {op: statistics.median(times["anchor", op]) / statistics.median(times["ours", op])
           for op in ("read", "write")}
    print(f"median of the rounds: read {med['read']:.3f}x, write {med['write']:.3f}x")
    ok = read_ratio >= TARGET and write_ratio >= TARGET
    print(f"shared folder on {args.pools_root}")
    print(f"RESULT size_mib={size_mib} rounds={repeat} read_mib_s={mib / best['ours', 'read']:.1f} "
          f"anchor_read_mib_s={mib / best['anchor', 'read']:.1f} "
          f"write_mib_s={mib / best['ours', 'write']:.1f} "
          f"anchor_write_mib_s={mib / best['anchor', 'write']:.1f} "
          f"read_ratio={read_ratio:.3f} write_ratio={write_ratio:.3f} "
          f"cpu_read_ratio={cpu_read:.3f} cpu_write_ratio={cpu_write:.3f} "
          f"median_read_ratio={med['read']:.3f} median_write_ratio={med['write']:.3f} ok={int(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
