"""Pytest fixtures for SigmaVault and its plugins (the root conftest loads this module).

Third-party plugin authors use them too: ``pytest_plugins = ["sigmavault.testing"]``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ..app import SigmaVault
from ..config import Config

IN_CI = os.environ.get("CI", "").lower() == "true"
ADMIN_PASSWORD = "admin-test-password"
VIEWER_PASSWORD = "viewer-test-password"


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI=true) unless ``condition`` holds: a real component is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI needs this real component: {reason}", pytrace=False)
    pytest.skip(reason)


def require_tool(*names: str) -> None:
    """Skip (locally) or fail (CI=true) unless every program in ``names`` is on PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    require(not missing, f"missing program(s): {', '.join(missing)}")


def require_root() -> None:
    """Skip (locally) or fail (CI=true) unless running as root."""
    require(os.geteuid() == 0, "needs root")


def load_module(path: Path, name: str | None = None) -> ModuleType:
    """The Python file at ``path`` as a module, without importing a package: how one plugin's
    tests use another's shared suite or helpers (test directories are not packages)."""
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compressible_text(size: int, seed: int = 0) -> bytes:
    """``size`` bytes of lines of words from a small vocabulary: text that compresses well."""
    rnd = random.Random(seed)
    words = [bytes(rnd.choice(b"abcdefghij") for _ in range(6)) for _ in range(400)]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rnd.choice(words) for _ in range(10)) + b"\n"
    return bytes(out[:size])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sv_config(overrides): configuration for the sv_app fixture")


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A folder under /tmp that other accounts can traverse (``tmp_path``'s parents are 0700):
    pools whose shares NAS users reach in a test. Removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="svt-public-"))
    os.chmod(root, 0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sv_config_overrides() -> dict[str, Any]:
    """Override to give ``sv_app`` more configuration (plugin sections as nested dicts)."""
    return {}


class Credentials:
    admin_key: str
    viewer_key: str


@pytest.fixture
async def sv_app(tmp_path: Path, request: pytest.FixtureRequest,
                 sv_config_overrides: dict[str, Any]) -> AsyncIterator[SigmaVault]:
    """A started in-process daemon with every installed plugin on a temporary data dir.

    Users ``admin`` and ``viewer`` (readonly) exist; ``app.test_keys`` holds their API keys.
    """
    marker = request.node.get_closest_marker("sv_config")
    raw = {"data_dir": tmp_path / "data", **sv_config_overrides, **(marker.args[0] if marker else {})}
    app = await SigmaVault.create(Config.model_validate(raw))
    app.auth.create_user("admin", ADMIN_PASSWORD, "admin")
    app.auth.create_user("viewer", VIEWER_PASSWORD, "readonly")
    keys = Credentials()
    keys.admin_key, _ = app.auth.create_key("admin", "tests")
    keys.viewer_key, _ = app.auth.create_key("viewer", "tests")
    app.test_keys = keys  # type: ignore[attr-defined]
    server = TestServer(app.web, host="127.0.0.1")
    await server.start_server()
    app.test_server = server  # type: ignore[attr-defined]
    try:
        yield app
    finally:
        await server.close()


async def _client(app: SigmaVault, key: str | None) -> TestClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    client = TestClient(app.test_server, headers=headers)  # type: ignore[attr-defined]
    await client.start_server()
    return client


@pytest.fixture
async def client(sv_app: SigmaVault) -> AsyncIterator[TestClient]:
    """HTTP client authenticated as ``admin`` with an API key."""
    c = await _client(sv_app, sv_app.test_keys.admin_key)  # type: ignore[attr-defined]
    yield c
    await c.session.close()


@pytest.fixture
async def readonly_client(sv_app: SigmaVault) -> AsyncIterator[TestClient]:
    """HTTP client authenticated as the readonly user ``viewer``."""
    c = await _client(sv_app, sv_app.test_keys.viewer_key)  # type: ignore[attr-defined]
    yield c
    await c.session.close()


@pytest.fixture
async def anon_client(sv_app: SigmaVault) -> AsyncIterator[TestClient]:
    """HTTP client without credentials."""
    c = await _client(sv_app, None)
    yield c
    await c.session.close()


async def api_call(client: Any, method: str, path: str, status: int | None = None,
                   **kw: Any) -> Any:
    """``method /api/v1<path>`` through a TestClient or a ``Daemon.session()``; the decoded body
    (None for 204), after checking the status when one is given."""
    async with client.request(method, f"/api/v1{path}", **kw) as resp:
        body = await resp.json() if resp.status != 204 else None
        if status is not None:
            assert resp.status == status, (method, path, resp.status, body)
        return body


async def wait_job(client: Any, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """Wait for a job to finish and return it (fails the test on timeout); ``client`` is a
    TestClient or a ``Daemon.session()``."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(0.0, deadline - time.monotonic())
        resp = await client.get(f"/api/v1/jobs/{job_id}/wait", params={"timeout": str(min(left, 30))})
        job = await resp.json()
        assert resp.status == 200, job
        if job["state"] in ("SUCCESS", "FAILED", "ABORTED"):
            return job
        if time.monotonic() >= deadline:
            pytest.fail(f"job {job_id} still {job['state']} after {timeout} s: {job['progress']}")


class Events:
    """Every event seen on a socket, so that waiting for one never loses another (``next_event``
    drops what does not match)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def wait(self, pred: Callable[[dict], bool], timeout: float = 15) -> dict[str, Any]:
        """The first event, seen before or arriving within ``timeout``, for which ``pred`` holds."""
        for e in self.seen:
            if pred(e):
                self.seen.remove(e)
                return e
        deadline = time.monotonic() + timeout
        while True:
            e = await asyncio.wait_for(self.ws.receive_json(), max(0.01, deadline - time.monotonic()))
            if pred(e):
                return e
            self.seen.append(e)


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 10.0,
                step: float = 0.1) -> Any:
    """Await ``check()`` every ``step`` seconds until it returns something true or ``timeout``
    seconds pass; its last result either way."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(step)


async def next_event(ws: aiohttp.ClientWebSocketResponse, event_type: str | Callable[[dict], bool],
                     timeout: float = 10) -> dict[str, Any]:
    """The next event envelope on ``ws`` whose type matches (or for which the predicate holds)."""
    match = event_type if callable(event_type) else (lambda e: e["type"] == event_type)
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), max(0.01, deadline - time.monotonic()))
        if match(msg):
            return msg


# --- loop devices on sparse files ------------------------------------------------------------------


def _sh(*argv: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=120)


class LoopDevices:
    """Make loop devices on sparse files under ``root``; :meth:`cleanup` unmounts what uses them
    (or anything mounted under ``root``), forgets them in btrfs, detaches them, deletes the files."""

    def __init__(self, root: Path):
        self.root = root
        self.files: list[Path] = []

    def __call__(self, n: int = 1, size: int = 256 << 20) -> list[str]:
        """``n`` new devices of ``size`` bytes (sparse): ``["/dev/loopN", ...]``."""
        devices = []
        for _ in range(n):
            image = self.root / f"loop{len(self.files)}.img"
            with open(image, "wb") as f:
                f.truncate(size)
            self.files.append(image)
            devices.append(_sh("losetup", "-f", "--show", str(image), check=True).stdout.strip())
        return devices

    @staticmethod
    def detach(device: str) -> None:
        _sh("losetup", "-d", device)

    def cleanup(self) -> None:
        devices = {d for f in self.files for d in _sh("losetup", "-j", str(f), "-n", "-O", "NAME").stdout.split()}
        mounts = set()
        with open("/proc/self/mountinfo") as info:
            for line in info:
                fields = line.split()
                point = fields[4].encode().decode("unicode_escape")
                if fields[fields.index("-") + 2] in devices or point.startswith(f"{self.root}/"):
                    mounts.add(point)
        for point in sorted(mounts, key=len, reverse=True):
            if _sh("umount", point).returncode:
                _sh("umount", "-l", point)
        for device in sorted(devices):
            if shutil.which("btrfs"):
                _sh("btrfs", "device", "scan", "--forget", device)
            if shutil.which("wipefs"):
                _sh("wipefs", "-a", "-q", device)
            _sh("losetup", "-d", device)
        for image in self.files:
            image.unlink(missing_ok=True)


@pytest.fixture
def loop_devices(tmp_path: Path) -> Iterator[LoopDevices]:
    """``loop_devices(n, size=256 MiB)`` → loop devices on sparse files in ``tmp_path``; all of
    them, and every mount on them or under ``tmp_path``, are torn down after the test."""
    require_root()
    require_tool("losetup")
    loops = LoopDevices(tmp_path)
    try:
        yield loops
    finally:
        loops.cleanup()


# --- a real daemon process -----------------------------------------------------------------------


class Daemon:
    """``sigmavault serve`` as a real process on a free port (restart and kill tests)."""

    def __init__(self, data_dir: Path, config: str = "", env: dict[str, str] | None = None,
                 netns: str | None = None, host: str = "127.0.0.1", scheme: str = "http",
                 python: str = sys.executable):
        self.python = python  # the interpreter whose sigmavault runs (another virtualenv's)
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = data_dir.parent / f"{data_dir.name}.toml"
        self.config_path.write_text(config)
        self.host = host
        self.scheme = scheme  # "https" when the config enables TLS (probed without verification)
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.netns = netns
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.admin_key = ""

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _cli(self, *args: str, input: str | None = None) -> str:
        return subprocess.run([self.python, "-m", "sigmavault.cli", *args, "--data-dir",
                               str(self.data_dir), "--config", str(self.config_path)],
                              input=input, capture_output=True, text=True, check=True,
                              env=self.env).stdout.strip()

    def provision(self) -> None:
        """Create the admin user and an API key before the first start."""
        self._cli("user", "create", "admin", "--role", "admin", "--password-stdin",
                  input=ADMIN_PASSWORD + "\n")
        self.admin_key = self._cli("apikey", "admin", "--name", "tests")

    def start(self, timeout: float = 15) -> "Daemon":
        if not self.admin_key:
            self.provision()
        argv = [self.python, "-m", "sigmavault.cli", "serve", "--host", self.host, "--port",
                str(self.port), "--data-dir", str(self.data_dir), "--config", str(self.config_path)]
        argv = self._in_netns(argv)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: {self.log()}")
            if self.healthy():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"daemon not healthy after {timeout} s: {self.log()}")

    def _in_netns(self, argv: list[str]) -> list[str]:
        # only the network namespace: `ip netns exec` would also give the process its own mount
        # namespace (remounting /sys), where it cannot see the mounts of a FUSE daemon (zfs-fuse)
        # outside, nor they its own
        if not self.netns:
            return argv
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--", *argv]

    def healthy(self) -> bool:
        argv = [sys.executable, "-c", "import ssl,sys,urllib.request;urllib.request.urlopen(sys.argv[1],"
                "timeout=1,context=ssl._create_unverified_context())", f"{self.url}/api/v1/health"]
        if self.netns:
            return subprocess.run(self._in_netns(argv), capture_output=True).returncode == 0
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                pass
        except OSError:
            return False
        import ssl
        import urllib.request
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2,
                                        context=ssl._create_unverified_context()) as r:
                return r.status == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(self.url, headers={"Authorization": f"Bearer {self.admin_key}"})


@pytest.fixture
def sv_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Factory: ``sv_daemon(config="...toml...", name="a")`` → a provisioned, started Daemon."""
    daemons: list[Daemon] = []

    def make(config: str = "", name: str = "daemon", start: bool = True, timeout: float = 60,
             **kw: Any) -> Daemon:
        d = Daemon(tmp_path / name, config, **kw)
        daemons.append(d)
        return d.start(timeout) if start else d

    yield make
    for d in daemons:
        d.kill()
