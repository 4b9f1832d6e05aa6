"""The two real SMB clients, one operation at a time: ``smbclient`` (Samba's CLI) and PyPI
``smbprotocol``. Each call answers whether the server allowed it."""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import smbclient as smbprotocol_client  # the high-level API of PyPI smbprotocol

from sigmavault.commands import run


@dataclass
class Cli:
    """Samba's ``smbclient``; ``user=None``: a guest (``-N``). The password goes through the
    ``PASSWD`` environment variable, not argv."""
    port: int
    user: str | None
    password: str = ""

    async def run(self, share: str, command: str) -> tuple[bool, str]:
        auth = ["-U", self.user] if self.user else ["-N"]
        res = await run(["smbclient", f"//127.0.0.1/{share}", "-p", str(self.port), *auth,
                         "-c", command], env={"PASSWD": self.password}, check=False, timeout=60)
        out = res.stdout + res.stderr
        return res.returncode == 0 and "NT_STATUS_" not in out, out

    async def ok(self, share: str, command: str) -> bool:
        return (await self.run(share, command))[0]


@dataclass
class Proto:
    """PyPI ``smbprotocol`` with its own connection cache (one session per object)."""
    port: int
    user: str
    password: str
    cache: dict[str, Any] = field(default_factory=dict)

    def _path(self, share: str, name: str = "") -> str:
        return rf"\\127.0.0.1\{share}" + (rf"\{name}" if name else "")

    def _kw(self) -> dict[str, Any]:
        return {"username": self.user, "password": self.password, "port": self.port,
                "connection_cache": self.cache}

    async def _try(self, fn, *args: Any, **kw: Any) -> bool:
        try:
            await asyncio.to_thread(fn, *args, **kw, **self._kw())
            return True
        except Exception:  # access denied, logon failure, bad share: all "not allowed"
            return False

    async def read(self, share: str, name: str) -> bytes | None:
        def get(**kw: Any) -> bytes:
            with smbprotocol_client.open_file(self._path(share, name), mode="rb", **kw) as f:
                return f.read()
        try:
            return await asyncio.to_thread(get, **self._kw())
        except Exception:
            return None

    async def write(self, share: str, name: str, data: bytes) -> bool:
        def put(**kw: Any) -> None:
            with smbprotocol_client.open_file(self._path(share, name), mode="wb", **kw) as f:
                f.write(data)
        return await self._try(put)

    async def listdir(self, share: str) -> bool:
        return await self._try(smbprotocol_client.listdir, self._path(share))

    async def mkdir(self, share: str, name: str) -> bool:
        return await self._try(smbprotocol_client.mkdir, self._path(share, name))

    async def rename(self, share: str, old: str, new: str) -> bool:
        return await self._try(smbprotocol_client.rename, self._path(share, old),
                               self._path(share, new))

    async def remove(self, share: str, name: str) -> bool:
        return await self._try(smbprotocol_client.remove, self._path(share, name))

    def close(self) -> None:
        smbprotocol_client.reset_connection_cache(connection_cache=self.cache)


async def cli_abilities(cli: Cli, share: str, tag: str, local: Path) -> dict[str, bool]:
    """What ``smbclient`` may do on ``share``: list, read, then put/mkdir/rename/del its own."""
    got = local.parent / f"got-{tag}"
    return {
        "list": await cli.ok(share, "ls"),
        "read": await cli.ok(share, f"get existing.txt {got}"),
        "put": await cli.ok(share, f"put {local} cli-{tag}.txt"),
        "mkdir": await cli.ok(share, f"mkdir cli-dir-{tag}"),
        "rename": await cli.ok(share, f"rename cli-{tag}.txt cli-{tag}-renamed.txt"),
        "del": await cli.ok(share, f"del cli-{tag}-renamed.txt"),
    }


async def proto_abilities(proto: Proto, share: str, tag: str) -> dict[str, bool]:
    return {
        "list": await proto.listdir(share),
        "read": await proto.read(share, "existing.txt") == b"existing\n",
        "put": await proto.write(share, f"proto-{tag}.txt", b"hello\n"),
        "mkdir": await proto.mkdir(share, f"proto-dir-{tag}"),
        "rename": await proto.rename(share, f"proto-{tag}.txt", f"proto-{tag}-renamed.txt"),
        "del": await proto.remove(share, f"proto-{tag}-renamed.txt"),
    }


def expected_abilities(access: str) -> dict[str, bool]:
    read, write = access in ("read", "write"), access == "write"
    return {"list": read, "read": read, "put": write, "mkdir": write, "rename": write,
            "del": write}

