"""Parsers of Samba's output, on recorded real output (see data/README.md)."""

from __future__ import annotations

from pathlib import Path

from sigmavault_smb.server import parse_pdbedit_w
from sigmavault_smb.status import parse_smbstatus

DATA = Path(__file__).parent / "data"


def test_smbstatus_sessions_and_open_files() -> None:
    status = parse_smbstatus((DATA / "smbstatus-4.17.12-two-sessions-open-file.json").read_text())
    assert [(s.session_id, s.pid, s.username, s.group, s.uid) for s in status.sessions] == [
        ("1358670339", 18846, "svtrec", "users", 3990),
        ("4012556541", 18849, "svtrec", "users", 3990)]
    first = status.sessions[0]
    assert (first.remote, first.dialect, first.encryption, first.signing, first.shares) == (
        "ipv4:127.0.0.1:42790", "SMB3_11", "AES-128-GCM", "AES-128-GMAC", ("media",))
    (f,) = status.open_files
    assert (f.path, f.share_path, f.name, f.pid, f.uid, f.access) == (
        "/tmp/rec/share/hello.txt", "/tmp/rec/share", "hello.txt", 18846, 3990, "R")
    assert f.opened_at.startswith("2026-12-06T18:13:23")


def test_smbstatus_nobody_connected() -> None:
    status = parse_smbstatus('{"timestamp": "x", "version": "4.17.12-Debian", "smb_conf": "/x",'
                             ' "sessions": {}, "tcons": {}, "open_files": {}}')
    assert status.sessions == [] and status.open_files == []


def test_pdbedit_disabled_flag() -> None:
    assert parse_pdbedit_w((DATA / "pdbedit-L-w-4.17.12-disabled.txt").read_text()) == {
        "svtrec": False}
    assert parse_pdbedit_w("alice:3001:X:Y:[U          ]:LCT-6B15A5C3:\n") == {"alice": True}


def test_modules_dir_and_missing_vfs_modules(tmp_path: Path) -> None:
    from sigmavault_smb.modules import missing, parse_modules_dir, vfs_objects
    text = (DATA / "smbd-b-4.17.12.txt").read_text()
    assert parse_modules_dir(text) == Path("/usr/lib/x86_64-linux-gnu/samba")
    conf = "[a]\n\tvfs objects = catia fruit streams_xattr\n[b]\n\tvfs objects = shadow_copy2\n"
    assert vfs_objects(conf) == {"catia", "fruit", "streams_xattr", "shadow_copy2"}
    (tmp_path / "vfs").mkdir()
    for m in ("catia", "fruit", "streams_xattr"):
        (tmp_path / "vfs" / f"{m}.so").touch()
    assert missing(conf, tmp_path) == ["shadow_copy2"]
