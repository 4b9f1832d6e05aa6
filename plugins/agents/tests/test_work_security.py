"""SHIELD and SENTINEL work functions on real files."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

from sigmavault_agents import manifest, ransomware


def populate(root: Path, n: int = 12) -> None:
    for i in range(n):
        (root / f"dir{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"dir{i % 3}" / f"doc{i}.txt").write_text(f"document {i}\n" + "lorem ipsum dolor sit amet\n" * 200)


def test_shield_detects_one_flipped_byte(tmp_path: Path) -> None:
    populate(tmp_path)
    m = manifest.build_manifest(tmp_path)
    assert len(m["files"]) == 12
    assert manifest.verify_manifest(tmp_path, m)["ok"]
    victim = tmp_path / "dir1" / "doc4.txt"
    data = bytearray(victim.read_bytes())
    data[1000] ^= 0x01
    st = victim.stat()
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only content differs
    r = manifest.verify_manifest(tmp_path, m)
    assert not r["ok"]
    assert [x["path"] for x in r["modified"]] == ["dir1/doc4.txt"]
    assert r["missing"] == [] and r["added"] == []
    (tmp_path / "dir0" / "doc0.txt").unlink()
    (tmp_path / "new.txt").write_text("new")
    r = manifest.verify_manifest(tmp_path, m)
    assert r["missing"] == ["dir0/doc0.txt"] and r["added"] == ["new.txt"]


def test_entropy_bounds() -> None:
    assert ransomware.entropy(b"") == 0.0
    assert ransomware.entropy(b"aaaa") == 0.0
    assert ransomware.entropy(bytes(range(256)) * 4) == 8.0
    assert ransomware.entropy(os.urandom(65536)) > 7.9


def test_sentinel_quiet_on_normal_edits(tmp_path: Path) -> None:
    populate(tmp_path)
    base = ransomware.take_baseline(tmp_path)
    time.sleep(0.01)
    for i in range(10):
        with open(tmp_path / f"dir{i % 3}" / f"doc{i}.txt", "a") as f:
            f.write("an ordinary edit\n")
    (tmp_path / "dir2" / "doc11.txt").rename(tmp_path / "dir2" / "doc11-renamed.txt")
    # a new compressed archive is high entropy but has a signature: not suspicious
    with zipfile.ZipFile(tmp_path / "backup.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("random.bin", os.urandom(100_000))
    r = ransomware.scan(tmp_path, base)
    assert r["changed"] == 10 and r["added"] == 2 and r["deleted"] == 1
    assert r["suspicious_count"] == 0
    assert r["alert"] is False


def test_sentinel_fires_on_encrypted_rewrites_and_renames(tmp_path: Path) -> None:
    populate(tmp_path)
    base = ransomware.take_baseline(tmp_path)
    for i in range(6):  # rewrite in place with ciphertext-like bytes
        p = tmp_path / f"dir{i % 3}" / f"doc{i}.txt"
        p.write_bytes(os.urandom(p.stat().st_size + 16))
    for i in range(6, 10):  # encrypt to a new name, delete the original
        p = tmp_path / f"dir{i % 3}" / f"doc{i}.txt"
        Path(str(p) + ".locked").write_bytes(os.urandom(p.stat().st_size))
        p.unlink()
    r = ransomware.scan(tmp_path, base)
    kinds = sorted(s["kind"] for s in r["suspicious"])
    assert kinds == ["rename"] * 4 + ["rewrite"] * 6
    assert r["burst"] == 10
    assert r["alert"] is True


def test_sentinel_needs_a_burst(tmp_path: Path) -> None:
    populate(tmp_path)
    base = ransomware.take_baseline(tmp_path)
    now = time.time()
    for i in range(6):  # the same rewrites, but spread over days
        p = tmp_path / f"dir{i % 3}" / f"doc{i}.txt"
        p.write_bytes(os.urandom(2000))
        os.utime(p, (now - i * 86400, now - i * 86400))
    r = ransomware.scan(tmp_path, base, window_seconds=600)
    assert r["suspicious_count"] == 6 and r["burst"] == 1
    assert r["alert"] is False
