"""smb.conf rendering: access lists as user lists, state kept under the data dir, features as
vfs modules; every rendered config is accepted by the real testparm, a broken one never lands."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigmavault.errors import APIError
from sigmavault.testing import require_tool
from sigmavault_smb.conf import (GlobalSettings, SmbShare, Snapshots, access_lines,
                                 make_state_dirs, render, write_config)


def params(text: str, section: str) -> dict[str, str]:
    out: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and " = " in line:
            key, value = line.split(" = ", 1)
            out[key] = value
    return out


def test_access_lines() -> None:
    levels = {"alice": "write", "bob": "read", "carol": "none"}
    assert access_lines(SmbShare("s", Path("/x"), levels)) == [
        ("valid users", "alice bob"), ("read only", "yes"), ("write list", "alice")]
    assert access_lines(SmbShare("s", Path("/x"), levels, everyone="read")) == [
        ("invalid users", "carol"), ("read only", "yes"), ("write list", "alice")]
    assert access_lines(SmbShare("s", Path("/x"), levels, everyone="write")) == [
        ("invalid users", "carol"), ("read only", "no"), ("read list", "bob")]
    assert access_lines(SmbShare("s", Path("/x"), levels, read_only=True)) == [
        ("valid users", "alice bob"), ("read only", "yes")]
    assert access_lines(SmbShare("s", Path("/x"), {"carol": "none"})) == [("available", "no")]


def test_render_keeps_state_under_data_dir(tmp_path: Path) -> None:
    text = render(GlobalSettings(data_dir=tmp_path, port=4455, interfaces=["127.0.0.1"]), [])
    g = params(text, "global")
    for key in ("lock directory", "state directory", "cache directory", "private dir",
                "pid directory", "ncalrpc dir", "usershare path"):
        assert g[key].startswith(str(tmp_path)), key
    assert g["passdb backend"] == f"tdbsam:{tmp_path}/private/passdb.tdb"
    assert g["smb ports"] == "4455" and g["bind interfaces only"] == "yes"
    assert g["server min protocol"] == "SMB2_10"


def test_render_refuses_bad_input(tmp_path: Path) -> None:
    s = GlobalSettings(data_dir=tmp_path)
    with pytest.raises(ValueError):
        render(s, [SmbShare("a", Path("/x"), {}), SmbShare("A", Path("/y"), {})])
    with pytest.raises(ValueError):
        render(s, [SmbShare("homes", Path("/x"), {})])
    with pytest.raises(ValueError):
        render(s, [SmbShare("a", Path("/x"), {}, comment="two\n[global]")])


async def test_full_config_passes_testparm(tmp_path: Path) -> None:
    require_tool("testparm")
    shares = [
        SmbShare("media", tmp_path / "media", {"alice": "write", "bob": "read"}, comment="Media",
                 hosts_allow=["127.0.0.1", "192.168.1.0/24"], hosts_deny=["ALL"],
                 encrypt="required", recycle=True),
        SmbShare("Time Machine", tmp_path / "tm", {"alice": "write"}, time_machine=True,
                 time_machine_max_size="500G"),
        SmbShare("docs", tmp_path / "pool" / "vol" / "docs", {}, everyone="read", guest_ok=True,
                 snapshots=Snapshots(snapdir=tmp_path / "pool/.snapshots/vol",
                                     basedir=tmp_path / "pool/vol", format="%Y%m%d-%H%M%S",
                                     prefix="^auto$")),
    ]
    target = tmp_path / "smb.conf"
    settings = GlobalSettings(data_dir=tmp_path)
    make_state_dirs(settings)  # testparm refuses a config whose state directories are missing
    assert await write_config(target, render(settings, shares)) == []
    text = target.read_text()
    tm = params(text, "Time Machine")
    assert tm["vfs objects"] == "catia fruit streams_xattr"
    assert tm["fruit:time machine max size"] == "500G"
    docs = params(text, "docs")
    assert docs["shadow:format"] == "-%Y%m%d-%H%M%S"  # Samba matches from the delimiter on
    assert docs["shadow:snapprefix"] == "^auto$" and docs["guest ok"] == "yes"
    media = params(text, "media")
    assert media["vfs objects"] == "catia fruit streams_xattr recycle" and media["smb encrypt"] == "required"


@pytest.mark.parametrize("extra", [{"read only": "maybe"}, {"no such parameter": "1"}])
async def test_refused_config_never_replaces_the_live_one(tmp_path: Path, extra) -> None:
    require_tool("testparm")
    target = tmp_path / "smb.conf"
    make_state_dirs(GlobalSettings(data_dir=tmp_path))
    good = render(GlobalSettings(data_dir=tmp_path), [SmbShare("a", tmp_path, {"x": "read"})])
    await write_config(target, good)
    bad = render(GlobalSettings(data_dir=tmp_path), [SmbShare("a", tmp_path, {}, extra=extra)])
    with pytest.raises(APIError) as err:
        await write_config(target, bad)
    assert err.value.status == 422 and err.value.code == "smb_config_invalid"
    assert target.read_text() == good
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["smb.conf"]  # no temporary
