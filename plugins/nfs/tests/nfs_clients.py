"""libnfs's user-space clients (``nfs-cat``, ``nfs-cp``, ``nfs-ls``) as a given uid/gid: sec=sys
sends whatever uid the URL names (``?uid=&gid=``), NFSv4 straight to the port (``nfsport``), no
rpcbind. Each call answers whether the server allowed it."""


import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sigmavault.commands import run


@dataclass
class Nfs:
    port: int
    uid: int = 0
    gid: int = 0
    host: str = "127.0.0.1"
    version: int = 4
    netns: str | None = None  # run the client inside this network namespace

    def url(self, path: str) -> str:
        return (f"nfs://{self.host}/{quote(path.lstrip('/'))}?version={self.version}"
                f"&nfsport={self.port}&uid={self.uid}&gid={self.gid}")

    def _argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)

    async def read(self, path: str) -> str | None:
        """The file's text, or None when refused."""
        res = await run(self._argv("nfs-cat", self.url(path)), check=False, timeout=60)
        return res.stdout if res.returncode == 0 else None

    async def write(self, path: str, data: bytes, tmp: Path) -> bool:
        local = tmp / f"nfs-up-{os.getpid()}-{self.uid}"
        local.write_bytes(data)
        try:
            res = await run(self._argv("nfs-cp", str(local), self.url(path)), check=False,
                            timeout=60)
            return res.returncode == 0
        finally:
            local.unlink(missing_ok=True)

    async def get(self, path: str, local: Path) -> bool:
        res = await run(self._argv("nfs-cp", self.url(path), str(local)), check=False,
                        timeout=600)
        return res.returncode == 0

    async def put(self, local: Path, path: str) -> bool:
        res = await run(self._argv("nfs-cp", str(local), self.url(path)), check=False,
                        timeout=600)
        return res.returncode == 0

    async def ls(self, path: str) -> list | None:
        res = await run(self._argv("nfs-ls", self.url(path)), check=False, timeout=60)
        if res.returncode != 0:
            return None
        return sorted(line.split()[-1] for line in res.stdout.splitlines() if line.strip())
