"""Running SigmaVault as a service (issue 26): the systemd unit, configuration backup and restore
through the CLI and the API on real daemons, and the doctor."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import aiohttp
import pyrage
import pytest

from sigmavault.testing import ADMIN_PASSWORD, Daemon, require_tool

PASSPHRASE = "correct horse battery staple"
OPERATOR_PASSWORD = "operator-password-42"


def cli(*args: str, input: str | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sigmavault.cli", *args], input=input,
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          cwd=cwd, timeout=120)


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its content (what "nothing changed" compares)."""
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


async def call(d: Daemon, method: str, path: str, status: int | None = None, **kw: Any) -> Any:
    async with d.session() as s, s.request(method, f"/api/v1{path}", **kw) as resp:
        body = await resp.read()
        if status is not None:
            assert resp.status == status, (method, path, resp.status, body[:500])
        if resp.content_type == "application/json":
            return json.loads(body) if body else None
        return body


async def login(d: Daemon, username: str, password: str) -> int:
    async with aiohttp.ClientSession(d.url) as s, s.post(
            "/api/v1/auth/login", json={"username": username, "password": password}) as resp:
        return resp.status


# --- service ---------------------------------------------------------------------------------------


def test_service_install_writes_a_unit_that_verifies_and_uninstall_keeps_the_state(tmp_path):
    require_tool("systemd-analyze")
    root = tmp_path / "root"
    out = cli("service", "install", "--root", str(root))
    assert out.returncode == 0, out.stderr
    unit = root / "etc/systemd/system/sigmavault.service"
    config = root / "etc/sigmavault/config.toml"
    data = root / "var/lib/sigmavault"
    assert (unit.stat().st_mode & 0o777, config.stat().st_mode & 0o777,
            data.stat().st_mode & 0o777) == (0o644, 0o600, 0o700)
    text = unit.read_text()
    # the installed console script of this environment, with the system paths (not the staging root)
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    script = exec_start.split("=", 1)[1].split()[0]
    assert Path(script).parent == Path(sys.executable).parent and os.access(script, os.X_OK)
    assert exec_start.endswith("serve --config /etc/sigmavault/config.toml --data-dir /var/lib/sigmavault")
    for directive in ("NoNewPrivileges=yes", "RestrictSUIDSGID=yes", "LockPersonality=yes"):
        assert directive in text
    # no setting that would put the daemon's mounts into a namespace of its own
    for absent in ("ProtectSystem", "PrivateTmp", "ProtectHome", "PrivateDevices"):
        assert f"\n{absent}=" not in text
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0 and verify.stderr.strip() == "" and verify.stdout.strip() == "", verify
    # the starting config is valid for this version
    check = cli("config", "check", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert check.returncode == 0, check.stderr

    config.write_text(config.read_text() + "# edited\n")
    assert cli("service", "install", "--root", str(root)).returncode == 0
    assert config.read_text().endswith("# edited\n")  # a second install keeps the config

    out = cli("service", "uninstall", "--root", str(root))
    assert out.returncode == 0, out.stderr
    assert not unit.exists() and config.exists() and data.is_dir()


# --- doctor ----------------------------------------------------------------------------------------


def test_doctor_names_a_missing_tool_and_what_it_disables(tmp_path):
    require_tool("smartctl", "btrfs")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("btrfs", "lsblk", "openssl"):  # a PATH with these but no smartctl
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    out = cli("doctor", "--json", "--data-dir", str(data), env={"PATH": str(bin_dir)})
    report = json.loads(out.stdout)
    found = {f["id"]: f for f in report["findings"]}
    assert found["tool.smartctl"]["status"] == "warning"
    assert found["tool.smartctl"]["disables"] == "disk health (SMART) cannot be read"
    assert found["tool.btrfs"]["status"] == "ok" and "btrfs-progs" in found["tool.btrfs"]["title"]
    assert found["data_dir.mode"]["status"] == "ok" and found["port"]["status"] == "ok"
    assert out.returncode == 0, out.stderr  # warnings only

    human = cli("doctor", "--data-dir", str(data), env={"PATH": str(bin_dir)})
    assert "WARN  smartctl: not found on PATH" in human.stdout
    assert "disables: disk health (SMART) cannot be read" in human.stdout


def test_doctor_fails_on_an_open_data_dir_and_a_foreign_port(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    (data / "audit.key").write_bytes(b"k")
    (data / "audit.key").chmod(0o644)
    import socket
    with socket.socket() as busy:  # a port held by something that is not SigmaVault
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "c.toml"
        config.write_text(f"port = {port}\n")
        out = cli("doctor", "--json", "--data-dir", str(data), "--config", str(config))
    report = json.loads(out.stdout)
    found = {f["id"]: f for f in report["findings"]}
    assert out.returncode == 1 and report["status"] == "critical"
    assert found["data_dir.mode"]["status"] == "critical"
    assert found["data_dir.files"]["status"] == "critical" and "audit.key (0644)" in found["data_dir.files"]["detail"]
    assert found["port"]["status"] == "critical" and "another program" in found["port"]["title"]


async def test_doctor_over_the_api_is_for_admins(client, readonly_client):
    resp = await client.get("/api/v1/system/doctor")
    report = await resp.json()
    assert resp.status == 200, report
    found = {f["id"]: f for f in report["findings"]}
    assert found["port"]["title"].endswith("served by this daemon")
    assert found["data_dir.mode"]["status"] == "ok" and found["data_dir.files"]["status"] == "ok"
    assert (await readonly_client.get("/api/v1/system/doctor")).status == 403


# --- backup and restore ----------------------------------------------------------------------------


def _plugins(d: Daemon) -> set[str]:
    return {p["name"] for p in asyncio.run(call(d, "GET", "/plugins", 200)) if p["status"] == "loaded"}


def _populate(d: Daemon, loaded: set[str]) -> dict[str, Any]:
    """What the restored daemon must have again."""
    state: dict[str, Any] = {}

    async def go() -> None:
        await call(d, "POST", "/auth/users", 201, json={"username": "operator", "role": "admin",
                                                         "password": OPERATOR_PASSWORD})
        created = await call(d, "POST", "/auth/keys", 201, json={"name": "script"})
        state["script_key"] = created["secret"] if "secret" in created else created["key"]
        if "sigmavault-storage" in loaded:
            await call(d, "POST", "/storage/pools", 201, json={"name": "tank", "backend": "dir"})
            await call(d, "POST", "/storage/pools/tank/volumes", 201, json={"name": "docs"})
        if "sigmavault-agents" in loaded and "sigmavault-storage" in loaded:
            s = await call(d, "POST", "/agents/schedules", 201, json={
                "agent": "PRISM", "cron": "0 3 * * *", "name": "nightly census",
                "params": {"pool": "tank", "volume": "docs"}})
            state["schedule"] = s["id"]
        if "sigmavault-encryption" in loaded:
            k = await call(d, "POST", "/encryption/keys", 201, json={
                "name": "archive", "kind": "x25519", "passphrase": "key-passphrase-1"})
            state["key"] = k["id"]
        if "sigmavault-phantommesh" in loaded:
            state["mesh_public_key"] = (await call(d, "GET", "/network/phantommesh", 200))["public_key"]
        if "sigmavault-shares" in loaded:
            state["shares"] = await call(d, "GET", "/shares", 200)
    asyncio.run(go())
    return state


def _check_restored(d: Daemon, loaded: set[str], state: dict[str, Any]) -> None:
    async def go() -> None:
        assert await login(d, "operator", OPERATOR_PASSWORD) == 200
        assert await login(d, "admin", ADMIN_PASSWORD) == 200
        async with aiohttp.ClientSession(d.url, headers={
                "Authorization": f"Bearer {state['script_key']}"}) as s, s.get("/api/v1/auth/me") as r:
            assert r.status == 200
        verify = await call(d, "GET", "/audit/verify", 200)
        assert verify.get("ok", verify.get("valid", True)) is True, verify
        if "schedule" in state:
            names = [s["name"] for s in await call(d, "GET", "/agents/schedules", 200)]
            assert "nightly census" in names
        if "key" in state:  # the key is listed, and its sealed identity (the keystore) opens
            await call(d, "POST", f"/encryption/keys/{state['key']}/unlock", 200,
                       json={"passphrase": "key-passphrase-1"})
        if "mesh_public_key" in state:
            mesh = await call(d, "GET", "/network/phantommesh", 200)
            assert mesh["public_key"] == state["mesh_public_key"]
        if "shares" in state:
            assert await call(d, "GET", "/shares", 200) == state["shares"]
    asyncio.run(go())


@pytest.fixture
def source(sv_daemon, tmp_path):
    """A daemon with users, keys and state, and an API backup of it."""
    d = sv_daemon(config=f'[storage]\npools_root = "{tmp_path / "pools"}"\n', name="source")
    loaded = _plugins(d)
    state = _populate(d, loaded)
    archive = asyncio.run(call(d, "POST", "/system/backup", 200, json={"passphrase": PASSPHRASE}))
    return d, loaded, state, archive


def test_backup_restores_into_a_fresh_data_dir_with_users_keys_and_state(source, sv_daemon, tmp_path):
    d, loaded, state, archive = source
    assert archive[:21] == b"age-encryption.org/v1"
    # the archive: a manifest naming every namespace's schema version and the version
    plain = pyrage.passphrase.decrypt(archive, PASSPHRASE)
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert {"manifest.json", "database/sigmavault.db", "data/audit.key", "data/audit.head",
            "config/config.toml"} <= set(names)
    assert manifest["sigmavault_version"] and manifest["schema_versions"]["core.auth"] >= 1
    assert not any("pools" in n for n in names)  # configuration, not pool data
    d.stop()

    path = tmp_path / "backup.age"
    path.write_bytes(archive)
    fresh = sv_daemon(name="restored", start=False)
    out = cli("backup", "restore", str(path), "--passphrase-stdin", "--data-dir",
              str(fresh.data_dir), "--config", str(fresh.config_path), input=PASSPHRASE + "\n")
    assert out.returncode == 0, out.stderr
    assert (fresh.data_dir / "sigmavault.db").stat().st_mode & 0o777 == 0o600
    assert "pools_root" in fresh.config_path.read_text()  # the source's config file came back
    fresh.admin_key = d.admin_key  # no provisioning: the restored admin's API key must work
    fresh.start(timeout=60)
    _check_restored(fresh, loaded, state)
    # the daemon's console says what happens, not every command it runs
    assert "command finished" not in d.log()


def test_an_upload_through_the_api_is_restored_at_the_next_start(source, sv_daemon, tmp_path):
    d, loaded, state, archive = source
    target = sv_daemon(name="target")
    form = aiohttp.FormData()
    form.add_field("archive", archive, filename="b.age", content_type="application/octet-stream")
    form.add_field("passphrase", "not the passphrase")
    asyncio.run(call(target, "POST", "/system/backup/restore", 400, data=form))
    form = aiohttp.FormData()
    form.add_field("archive", archive, filename="b.age", content_type="application/octet-stream")
    form.add_field("passphrase", PASSPHRASE)
    staged = asyncio.run(call(target, "POST", "/system/backup/restore", 202, data=form))
    assert staged["restart_required"] is True and "restart" in staged["message"]
    assert asyncio.run(login(target, "operator", OPERATOR_PASSWORD)) == 401  # not before a restart
    d.stop()
    assert target.stop() == 0
    target.admin_key = d.admin_key
    target.start(timeout=60)
    _check_restored(target, loaded, state)
    assert not (target.data_dir / "restore-pending.tar").exists()


def _repack(archive: bytes, change: Any) -> bytes:
    plain = pyrage.passphrase.decrypt(archive, PASSPHRASE)
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as src, \
            tarfile.open(fileobj=out, mode="w:gz") as dst:
        for info in src:
            data = src.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == "manifest.json":
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return pyrage.passphrase.encrypt(out.getvalue(), PASSPHRASE)


def test_a_changed_cut_or_newer_archive_is_refused_and_changes_nothing(source, tmp_path):
    d, _, _, archive = source
    d.stop()
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    (target / "keep.txt").write_text("untouched")
    config = tmp_path / "target.toml"
    config.write_text("port = 12999\n")
    before = tree(target), config.read_text()

    def restore(data: bytes, *extra: str) -> subprocess.CompletedProcess:
        path = tmp_path / "candidate.age"
        path.write_bytes(data)
        return cli("backup", "restore", str(path), "--passphrase-stdin", "--data-dir", str(target),
                   "--config", str(config), *extra, input=PASSPHRASE + "\n")

    flipped = bytearray(archive)
    flipped[len(flipped) // 2] ^= 0x01
    for bad in (bytes(flipped), archive[:-100], archive[: len(archive) // 2]):
        out = restore(bad)
        assert out.returncode == 1 and "does not decrypt" in out.stderr, out.stderr
        assert (tree(target), config.read_text()) == before

    def newer(manifest: dict) -> None:
        manifest["schema_versions"]["core.auth"] += 5
    out = restore(_repack(archive, newer))
    assert out.returncode == 1 and "newer SigmaVault" in out.stderr and "core.auth" in out.stderr, out.stderr
    assert (tree(target), config.read_text()) == before

    out = restore(archive)  # the intact archive is accepted
    assert out.returncode == 0, out.stderr
    assert (target / "sigmavault.db").exists() and (target / "keep.txt").read_text() == "untouched"
    # a data dir in use is not replaced unless asked
    out = restore(archive)
    assert out.returncode == 1 and "--force" in out.stderr
    assert restore(archive, "--force").returncode == 0


def test_cli_backup_to_an_age_recipient(tmp_path, sv_daemon):
    require_tool("age-keygen", "age")
    d = sv_daemon(name="cli")
    keyfile = tmp_path / "id.txt"
    subprocess.run(["age-keygen", "-o", str(keyfile)], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in keyfile.read_text().splitlines()
                     if line.startswith("# public key:"))
    out_path = tmp_path / "b.age"
    out = cli("backup", "create", "-r", recipient, "-o", str(out_path), "--data-dir",
              str(d.data_dir), "--config", str(d.config_path))
    assert out.returncode == 0, out.stderr
    assert out_path.stat().st_mode & 0o777 == 0o600
    # the age CLI opens it: a standard archive, not a private format
    listing = subprocess.run(f"age -d -i {keyfile} {out_path} | tar -tz", shell=True,
                             capture_output=True, text=True)
    assert "database/sigmavault.db" in listing.stdout.split(), listing.stderr
    fresh = tmp_path / "fresh"
    out = cli("backup", "restore", str(out_path), "-i", str(keyfile), "--data-dir", str(fresh))
    assert out.returncode == 0, out.stderr
    assert (fresh / "config.restored.toml").exists()  # no --config: kept beside the data
