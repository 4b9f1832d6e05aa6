"""Applying many SMB shares and NAS users through the API, and how soon a new share answers,
vs a hand-written smb.conf reloaded with ``smbcontrol … reload-config``.

The API has one call per object (``POST /shares/users``, ``POST /shares``); each call checks the
change (testparm on the would-be config), stores it and applies everything: Unix accounts, the
share folder's ACL, smb.conf rendered, checked by testparm and installed, smbd reloaded, Samba's
password database synced. So three figures are printed for SigmaVault:

- *bulk*: creating ``--users`` users and then ``--shares`` shares, one call each (total);
- *apply*: the last share's call, i.e. one complete apply of all the shares and users
  (testparm twice, reload, passdb sync, ACL) — what every later change costs;
- *restart*: a daemon started on that database, until smbd serves every share (reconciling
  accounts and shares from the database on start).

The anchor is the same shares written by hand into an smb.conf (same paths, same ``valid users``
and ``write list``) for a second smbd on another port: writing the file, ``testparm -s`` and
``smbcontrol <pid> reload-config``. Then one more share is added on each side (SigmaVault: one
``POST /shares``; anchor: the file, testparm and reload) and ``smbclient`` polls it until it
answers: the seconds from the API call's return (the reload's) to the first answer.

Targets (issue 21): applying the shares and users <= 3 s including testparm; a new share
reachable <= 2 s after the API call returns.

    .venv/bin/python bench/smb_apply.py                  # 200 shares, 100 users
    .venv/bin/python bench/smb_apply.py --quick          # 40 shares, 20 users
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from sigmavault.commands import Process, run

from smb_vs_samba import (PASSWORD, PREFIX, Api, free_port, missing_tools, nas_daemon,
                          smbclient, start_minimal, sweep_accounts, wait_port, write_minimal)

APPLY_TARGET, REACH_TARGET = 3.0, 2.0


def user_name(i: int) -> str:
    return f"{PREFIX}{i:03d}"


def share_body(i: int, users: int) -> dict[str, Any]:
    return {"name": f"s{i:03d}", "pool": "bench", "volume": "vol", "subfolder": f"s{i:03d}",
            "protocols": ["smb"], "description": f"bench share {i}", "access": [
                {"kind": "user", "name": user_name(i % users), "level": "write"},
                {"kind": "user", "name": user_name((i + 1) % users), "level": "read"}]}


def anchor_shares(shares: list[dict[str, Any]], folder: Path) -> str:
    """The hand-written stanzas of ``shares`` (each user its level, as SigmaVault renders)."""
    out = []
    for s in shares:
        write = [e["name"] for e in s["access"] if e["level"] == "write"]
        read = [e["name"] for e in s["access"] if e["level"] == "read"]
        out.append(f"\n[{s['name']}]\n\tpath = {folder / s['subfolder']}\n"
                   f"\tvalid users = {' '.join(sorted(read + write))}\n\tread only = yes\n"
                   f"\twrite list = {' '.join(sorted(write))}\n")
    return "".join(out)


async def until_reachable(port: int, share: str, user: str, timeout: float = 30) -> float:
    """Seconds until ``smbclient`` can list ``share`` (polled back to back)."""
    started = time.perf_counter()
    while True:
        ok, out = await smbclient(port, share, "ls", user=user, password=PASSWORD, timeout=30)
        if ok:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"share {share} on port {port} not reachable: {out.strip()[-300:]}")


async def timed_calls(n: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        times.append(time.perf_counter() - started)
    return times


def spread(times: list[float]) -> str:
    return (f"total {sum(times):.2f} s, per call median {statistics.median(times) * 1000:.0f} ms, "
            f"first {times[0] * 1000:.0f} ms, last {times[-1] * 1000:.0f} ms")


async def anchor_apply(conf: Path, smbd: Process, text: str) -> float:
    """Write the hand-written smb.conf, check it with testparm, reload smbd: seconds."""
    started = time.perf_counter()
    tmp = conf.with_suffix(".new")
    tmp.write_text(text)
    await run(["testparm", "-s", "--suppress-prompt", tmp], timeout=60)
    tmp.replace(conf)
    await run(["smbcontrol", f"--configfile={conf}", str(smbd.pid), "reload-config"], timeout=60)
    return time.perf_counter() - started


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shares", type=int, default=None, help="default 200 (--quick: 40)")
    ap.add_argument("--users", type=int, default=None, help="default 100 (--quick: 20)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_shares = args.shares or (40 if args.quick else 200)
    n_users = args.users or (20 if args.quick else 100)
    if missing_tools():
        print(f"{', '.join(missing_tools())} missing (apt-get install samba smbclient acl)")
        return 2
    if os.geteuid() != 0:
        print("needs root (smbd, NAS accounts, share ACLs)")
        return 2

    await sweep_accounts()
    root = Path(tempfile.mkdtemp(prefix="svbench-smbapply-"))
    os.chmod(root, 0o755)
    ours_port, anchor_port = free_port(), free_port()
    anchor: Process | None = None
    bodies = [share_body(i, n_users) for i in range(n_shares + 1)]
    extra = bodies.pop()  # the share added last, on both sides
    try:
        async with nas_daemon(root, ours_port) as (app, api):
            await api("POST", "/storage/pools", 201, json={"name": "bench", "backend": "dir"})
            await api("POST", "/storage/pools/bench/volumes", 201, json={"name": "vol"})
            users = await timed_calls(n_users, lambda i: api(
                "POST", "/shares/users", 201, json={"name": user_name(i), "password": PASSWORD}))
            print(f"SigmaVault: {n_users} users, one POST each: {spread(users)}", flush=True)
            folder: Path | None = None

            async def create(i: int) -> None:
                nonlocal folder
                out = await api("POST", "/shares", 201, json=bodies[i])
                folder = Path(out["path"]).parent

            shares = await timed_calls(n_shares, create)
            print(f"SigmaVault: {n_shares} shares, one POST each: {spread(shares)}", flush=True)
            apply_s = shares[-1]
            print(f"SigmaVault: one complete apply ({n_shares} shares, {n_users} users; the "
                  f"last share's call): {apply_s:.3f} s", flush=True)
            assert folder is not None

            started = time.perf_counter()
            await api("POST", "/shares", 201, json=extra)
            ours_call = time.perf_counter() - started
            ours_reach = await until_reachable(ours_port, extra["name"], user_name(0))
            print(f"SigmaVault: share {n_shares + 1}: API call {ours_call:.3f} s, reachable "
                  f"{ours_reach:.3f} s after it returned", flush=True)

            # the hand-written smb.conf: the same shares, a second smbd on another port
            conf = write_minimal(root / "anchor", anchor_port, {}, "")
            anchor = await start_minimal(conf, anchor_port, user_name(0), PASSWORD)
            head = conf.read_text()
            anchor_s = await anchor_apply(conf, anchor, head + anchor_shares(bodies, folder))
            print(f"hand-written smb.conf: {n_shares} shares, testparm + reload-config: "
                  f"{anchor_s:.3f} s", flush=True)
            started = time.perf_counter()
            anchor_call = await anchor_apply(conf, anchor,
                                             head + anchor_shares([*bodies, extra], folder))
            anchor_reach = await until_reachable(anchor_port, extra["name"], user_name(0))
            print(f"hand-written smb.conf: share {n_shares + 1}: testparm + reload "
                  f"{anchor_call:.3f} s, reachable {anchor_reach:.3f} s after it", flush=True)
            await anchor.stop(10)
            anchor = None
            status = await api("GET", "/smb/status", 200)
            if status["shares"] != n_shares + 1:
                raise SystemExit(f"smbd serves {status['shares']} shares, not {n_shares + 1}")

        # a daemon started on the same database applies everything again
        started = time.perf_counter()
        async with nas_daemon(root, ours_port) as (app, api):
            await wait_port(ours_port)
            restart = time.perf_counter() - started
            await until_reachable(ours_port, bodies[-1]["name"], user_name((n_shares - 1) % n_users))
            served = time.perf_counter() - started
            status = await api("GET", "/smb/status", 200)
        print(f"SigmaVault restart: smbd listening {restart:.3f} s after the daemon's start, "
              f"last share answering at {served:.3f} s ({status['shares']} shares)", flush=True)
    finally:
        if anchor is not None:
            await anchor.stop(10)
        shutil.rmtree(root, ignore_errors=True)
        await sweep_accounts()

    ratio = apply_s / anchor_s
    ok = apply_s <= APPLY_TARGET and ours_reach <= REACH_TARGET
    print(f"apply: SigmaVault {apply_s:.3f} s vs hand-written {anchor_s:.3f} s: {ratio:.2f}x the "
          f"time (target <= {APPLY_TARGET} s); bulk through the API "
          f"{sum(users) + sum(shares):.1f} s")
    print(f"new share reachable {ours_reach:.3f} s after the call (target <= {REACH_TARGET} s), "
          f"hand-written {anchor_reach:.3f} s")
    print(f"RESULT shares={n_shares} users={n_users} apply_s={apply_s:.3f} "
          f"anchor_apply_s={anchor_s:.3f} ratio={ratio:.3f} users_total_s={sum(users):.2f} "
          f"shares_total_s={sum(shares):.2f} new_share_call_s={ours_call:.3f} "
          f"reach_s={ours_reach:.3f} anchor_reach_s={anchor_reach:.3f} "
          f"restart_served_s={served:.3f} ok={int(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
