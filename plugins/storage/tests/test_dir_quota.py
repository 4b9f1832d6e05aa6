"""Project quotas of the ``dir`` backend on real filesystems: XFS and ext4 on sparse loop devices,
mounted with and without ``prjquota``, driven through the HTTP API."""

from __future__ import annotations

import errno
import os
import re
import subprocess
from pathlib import Path

import pytest

from sigmavault.testing import api_call, require_root, require_tool

API = "/storage"
MiB = 1 << 20
MKFS = {"xfs": ["mkfs.xfs", "-q", "-f"], "ext4": ["mkfs.ext4", "-q", "-F", "-O", "quota,project"]}
TOOLS = {"xfs": ("mkfs.xfs", "xfs_quota", "xfs_io"), "ext4": ("mkfs.ext4", "setquota", "repquota",
                                                            "lsattr")}


def _sh(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120)


def make_fs(loop_devices, where: Path, fstype: str, prjquota: bool) -> Path:
    """A fresh ``fstype`` on a 320 MiB sparse loop device mounted at ``where``."""
    require_root()
    require_tool("mount", *TOOLS[fstype])
    [dev] = loop_devices(1, size=320 * MiB)
    made = _sh(*MKFS[fstype], dev)
    assert made.returncode == 0, made.stderr
    where.mkdir(parents=True)
    mounted = _sh("mount", *(["-o", "prjquota"] if prjquota else []), dev, str(where))
    if mounted.returncode:
        name = f"({os.path.basename(dev)})"   # the kernel's own words about this device
        kernel = [line for line in _sh("dmesg").stdout.splitlines()[-50:] if name in line]
        if prjquota and any("quota" in line.lower() for line in kernel):
            # e.g. "XFS: quota support not available in this kernel" (CONFIG_XFS_QUOTA unset),
            # "EXT4-fs: The kernel was not built with CONFIG_QUOTA and CONFIG_QFMT_V2"
            # not a missing package: this machine's kernel cannot enforce quotas, so no set-up
            # can provide them here (skipped in CI too, named in the closing note)
            pytest.skip(f"this kernel cannot mount {fstype} with prjquota: {kernel[-1].strip()}")
        pytest.fail(f"mount {fstype} failed: {mounted.stderr} {kernel}")
    return where


def project_of(path: Path, fstype: str) -> int:
    """The project id of ``path`` as the filesystem's own tool reads it."""
    if fstype == "xfs":
        out = _sh("xfs_io", "-r", "-c", "lsproj", str(path)).stdout
        return int(re.search(r"projid = (\d+)", out).group(1))
    return int(_sh("lsattr", "-p", "-d", str(path)).stdout.split()[0])


def limits_of(mount: Path, fstype: str) -> dict[int, int]:
    """{project id: hard block limit in KiB} as the filesystem's quota tool reports it."""
    if fstype == "xfs":
        out = _sh("xfs_quota", "-x", "-c", "report -p -b -N -n", str(mount)).stdout
        rows = [line.split() for line in out.splitlines() if line.startswith("#")]
        return {int(r[0][1:]): int(r[3]) for r in rows}
    out = _sh("repquota", "-P", "-n", str(mount)).stdout
    rows = [line.split() for line in out.splitlines() if line.startswith("#")]
    return {int(r[0][1:]): int(r[4]) for r in rows}


def write_until(path: Path, total: int) -> tuple[int, OSError | None]:
    """Append up to ``total`` bytes in 1 MiB writes; (bytes written, the error that stopped it)."""
    chunk = b"\xa5" * MiB
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    written = os.fstat(fd).st_size
    try:
        while written < total:
            written += os.write(fd, chunk[: min(MiB, total - written)])
        os.fsync(fd)
        return written, None
    except OSError as exc:
        return written, exc
    finally:
        os.close(fd)


async def volume(client, pool: str, name: str) -> dict:
    return await api_call(client, "GET", f"{API}/pools/{pool}/volumes/{name}", 200)


class TestEnforcedProjectQuota:
    @pytest.fixture(params=["xfs", "ext4"])
    def fs(self, request, loop_devices, tmp_path):
        fstype = request.param
        return fstype, make_fs(loop_devices, tmp_path / f"dq-{fstype}", fstype, prjquota=True)

    @pytest.fixture
    def sv_config_overrides(self, fs):
        return {"storage": {"monitor_interval": 0, "pools_root": str(fs[1])}}

    async def test_quota_stops_writes_is_raised_and_removed(self, client, fs, loop_devices):
        fstype, root = fs
        [dirb] = [b for b in await api_call(client, "GET", f"{API}/backends", 200)
                  if b["name"] == "dir"]
        assert dirb["capabilities"]["quotas"] is True
        pool = await api_call(client, "POST", f"{API}/pools", 201, json={"name": "dqpool"})
        assert pool["properties"]["quotas"] is True
        assert pool["properties"]["quotas_unavailable"] is None

        vol = await api_call(client, "POST", f"{API}/pools/dqpool/volumes", 201,
                             json={"name": "v", "quota": 8 * MiB})
        assert vol["quota"] == 8 * MiB and vol["used"] < MiB
        pid = vol["properties"]["project_id"]
        path = Path(vol["path"])
        assert project_of(path, fstype) == pid
        assert limits_of(root, fstype)[pid] == 8 * 1024

        data = path / "sub" / "big.bin"   # a new directory inherits the project
        data.parent.mkdir()
        written, err = write_until(data, 16 * MiB)
        assert err is not None and err.errno == errno.EDQUOT, (written, err)
        assert 6 * MiB <= written <= 8 * MiB, written
        assert project_of(data, fstype) == pid
        got = await volume(client, "dqpool", "v")
        assert got["quota"] == 8 * MiB
        assert written - 64 * 1024 <= got["used"] <= 8 * MiB, (written, got)

        raised = await api_call(client, "PATCH", f"{API}/pools/dqpool/volumes/v", 200,
                                json={"quota": 32 * MiB})
        assert raised["quota"] == 32 * MiB and limits_of(root, fstype)[pid] == 32 * 1024
        written, err = write_until(data, 16 * MiB)
        assert err is None and written == 16 * MiB
        assert (await volume(client, "dqpool", "v"))["used"] >= 16 * MiB

        removed = await api_call(client, "PATCH", f"{API}/pools/dqpool/volumes/v", 200,
                                 json={"quota": None})
        assert removed["quota"] is None and limits_of(root, fstype).get(pid, 0) == 0
        written, err = write_until(data, 40 * MiB)   # past the old 32 MiB limit
        assert err is None and written == 40 * MiB
        listed = await api_call(client, "GET", f"{API}/pools/dqpool/volumes", 200)
        assert [(v["name"], v["quota"]) for v in listed] == [("v", None)]

        # a second volume gets its own project; deleting it clears its limit
        w = await api_call(client, "POST", f"{API}/pools/dqpool/volumes", 201,
                           json={"name": "w", "quota": 4 * MiB})
        wid = w["properties"]["project_id"]
        assert wid != pid and limits_of(root, fstype)[wid] == 4 * 1024
        await api_call(client, "DELETE", f"{API}/pools/dqpool/volumes/w", 204)
        assert limits_of(root, fstype).get(wid, 0) == 0

        # a clone of a snapshot is a new volume with a new project
        await api_call(client, "POST", f"{API}/pools/dqpool/volumes/v/snapshots", 201,
                       json={"name": "s"})
        clone = await api_call(client, "POST",
                               f"{API}/pools/dqpool/volumes/v/snapshots/s/clone", 201,
                               json={"target": "c"})
        cid = clone["properties"]["project_id"]
        assert cid not in (pid, wid) and project_of(Path(clone["path"]) / "sub" / "big.bin",
                                                   fstype) == cid

        # a rollback to a snapshot bigger than the quota is refused and changes nothing
        await api_call(client, "PATCH", f"{API}/pools/dqpool/volumes/v", 200,
                       json={"quota": 16 * MiB})
        data.unlink()
        err = await api_call(client, "POST", f"{API}/pools/dqpool/volumes/v/snapshots/s/rollback",
                             409, json={})
        assert err["error"]["code"] == "quota_exceeded", err
        assert not data.exists() and not any((Path(pool["mountpoint"]) / ".trash").iterdir())
        await api_call(client, "PATCH", f"{API}/pools/dqpool/volumes/v", 200,
                       json={"quota": 64 * MiB})
        await api_call(client, "POST", f"{API}/pools/dqpool/volumes/v/snapshots/s/rollback",
                       200, json={})
        assert data.stat().st_size == 40 * MiB and project_of(data, fstype) == pid
        assert (await volume(client, "dqpool", "v"))["used"] >= 40 * MiB

        # a pool directory that is a filesystem without prjquota: quotas off, with the reason
        plain = make_fs(loop_devices, root / "plain", fstype, prjquota=False)
        imported = await api_call(client, "POST", f"{API}/pools/import", 201,
                                  json={"name": "plain", "backend": "dir"})
        reason = f"the filesystem at {plain} ({fstype}) is not mounted with prjquota"
        assert imported["properties"]["quotas"] is False
        assert imported["properties"]["quotas_unavailable"] == reason
        err = await api_call(client, "POST", f"{API}/pools/plain/volumes", 400,
                             json={"name": "q", "quota": 8 * MiB})
        assert err["error"]["code"] == "not_supported" and reason in err["error"]["message"]
        assert await api_call(client, "GET", f"{API}/pools/plain/volumes", 200) == []
        await api_call(client, "POST", f"{API}/pools/plain/export", 204)


class TestWithoutPrjquota:
    """XFS mounted without quota options: ids are kept (XFS always stores them), limits are not."""

    @pytest.fixture
    def root(self, loop_devices, tmp_path):
        return make_fs(loop_devices, tmp_path / "dq-plain", "xfs", prjquota=False)

    @pytest.fixture
    def sv_config_overrides(self, root):
        return {"storage": {"monitor_interval": 0, "pools_root": str(root)}}

    async def test_quotas_off_with_the_reason_and_projects_still_assigned(self, client, root):
        [dirb] = [b for b in await api_call(client, "GET", f"{API}/backends", 200)
                  if b["name"] == "dir"]
        reason = f"the filesystem at {root} (xfs) is not mounted with prjquota"
        assert dirb["capabilities"]["quotas"] is False
        assert dirb["capabilities"]["quotas_unavailable"] == reason
        pool = await api_call(client, "POST", f"{API}/pools", 201, json={"name": "dqa"})
        assert pool["properties"]["quotas"] is False
        assert pool["properties"]["quotas_unavailable"] == reason
        err = await api_call(client, "POST", f"{API}/pools/dqa/volumes", 400,
                             json={"name": "q", "quota": 8 * MiB})
        assert err["error"]["code"] == "not_supported" and reason in err["error"]["message"]
        assert err["error"]["details"]["reason"] == reason
        assert await api_call(client, "GET", f"{API}/pools/dqa/volumes", 200) == []

        vol = await api_call(client, "POST", f"{API}/pools/dqa/volumes", 201, json={"name": "v"})
        assert vol["quota"] is None
        await api_call(client, "PATCH", f"{API}/pools/dqa/volumes/v", 400,
                       json={"quota": 8 * MiB})
        same = await api_call(client, "PATCH", f"{API}/pools/dqa/volumes/v", 200,
                              json={"quota": None})
        assert same["quota"] is None

        # project ids are assigned anyway, so enabling prjquota later accounts existing data
        pid = vol["properties"]["project_id"]
        path = Path(vol["path"])
        assert isinstance(pid, int) and project_of(path, "xfs") == pid
        (path / "d").mkdir()
        (path / "d" / "f.txt").write_text("one")
        assert project_of(path / "d" / "f.txt", "xfs") == pid
        other = await api_call(client, "POST", f"{API}/pools", 201, json={"name": "dqb"})
        ovol = await api_call(client, "POST", f"{API}/pools/dqb/volumes", 201, json={"name": "v"})
        assert ovol["properties"]["project_id"] not in (None, pid)   # unique across pools
        assert other["properties"]["quotas"] is False

        # a rollback's fresh copy carries the volume's project again; a clone gets a new one
        await api_call(client, "POST", f"{API}/pools/dqa/volumes/v/snapshots", 201,
                       json={"name": "s"})
        (path / "d" / "f.txt").write_text("two")
        await api_call(client, "POST", f"{API}/pools/dqa/volumes/v/snapshots/s/rollback", 200,
                       json={})
        assert (path / "d" / "f.txt").read_text() == "one"
        assert project_of(path, "xfs") == pid and project_of(path / "d" / "f.txt", "xfs") == pid
        clone = await api_call(client, "POST", f"{API}/pools/dqa/volumes/v/snapshots/s/clone",
                               201, json={"target": "c"})
        cid = clone["properties"]["project_id"]
        assert cid not in (pid, ovol["properties"]["project_id"])
        assert project_of(Path(clone["path"]) / "d" / "f.txt", "xfs") == cid
        # the snapshot itself belongs to no volume's project
        snap = await api_call(client, "GET", f"{API}/pools/dqa/volumes/v/snapshots/s", 200)
        assert project_of(Path(snap["path"]) / "d" / "f.txt", "xfs") == 0
