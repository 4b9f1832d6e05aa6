"""The file agents' work functions on real files in a temp dir."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sigmavault_agents import census, cold, copier, dupes, erase, name_index, perms, spacetree, throughput


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_velocity_measures_and_cleans_up(tmp_path: Path) -> None:
    r = throughput.throughput(tmp_path, 4, block_kib=256)
    assert r["bytes"] == 4 * 1024 * 1024
    assert r["write_mb_s"] > 0 and r["read_mb_s"] > 0
    assert list(tmp_path.iterdir()) == []


def test_census_counts_by_extension_and_magic(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", b"hello world\n" * 10)
    write(tmp_path / "sub/b.txt", b"x" * 50)
    write(tmp_path / "fake.txt", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)  # a PNG named .txt
    write(tmp_path / "big.bin", os.urandom(5000))
    old = write(tmp_path / "old.log", b"old\n")
    os.utime(old, (time.time() - 400 * 86400,) * 2)
    r = census.census(tmp_path, top=2)
    assert r["files"] == 5 and r["bytes"] == 120 + 50 + 108 + 5000 + 4
    ext = {e["extension"]: e for e in r["by_extension"]}
    assert ext[".txt"]["files"] == 3 and ext[".txt"]["bytes"] == 278
    mime = {m["mime"]: m for m in r["by_type"]}
    assert mime["image/png"]["files"] == 1
    assert mime["text/plain"]["files"] == 3
    ages = {a["max_age"]: a["files"] for a in r["age_histogram"]}
    assert ages["1d"] == 4 and ages["older"] == 1
    assert [x["path"] for x in r["largest"]] == [str(tmp_path / "big.bin"), str(tmp_path / "a.txt")]


def test_wave_finds_planted_duplicates_with_exact_bytes(tmp_path: Path) -> None:
    blob = os.urandom(200_000)
    small = b"same small content"
    write(tmp_path / "a/one.bin", blob)
    write(tmp_path / "b/two.bin", blob)
    write(tmp_path / "c/three.bin", blob)
    # same size, same head, different tail: not a duplicate
    write(tmp_path / "near.bin", blob[:-1] + bytes([blob[-1] ^ 1]))
    write(tmp_path / "s1.txt", small)
    write(tmp_path / "s2.txt", small)
    os.link(tmp_path / "s1.txt", tmp_path / "s1-hardlink.txt")  # same inode: reclaims nothing
    write(tmp_path / "unique.txt", b"unique")
    r = dupes.find_duplicates([tmp_path])
    assert r["reclaimable_bytes"] == 2 * 200_000 + len(small)
    assert r["duplicate_files"] == 3
    big = r["groups"][0]
    assert big["size"] == 200_000 and len(big["paths"]) == 3
    assert str(tmp_path / "near.bin") not in big["paths"]


def test_nexus_cold_report(tmp_path: Path) -> None:
    now = time.time()
    for i in range(3):
        f = write(tmp_path / "archive" / f"{i}.dat", b"x" * 1000)
        os.utime(f, (now - 100 * 86400, now - 100 * 86400))
    write(tmp_path / "work/hot.dat", b"y" * 500)
    r = cold.cold_report(tmp_path, days=30)
    assert r["cold_files"] == 3 and r["cold_bytes"] == 3000 and r["bytes"] == 3500
    folders = {f["folder"]: f for f in r["by_folder"]}
    assert folders["archive"]["cold_bytes"] == 3000 and folders["work"]["cold_bytes"] == 0
    assert r["oldest"][0]["idle_days"] >= 99.9


def test_vertex_space_tree(tmp_path: Path) -> None:
    write(tmp_path / "big/deep/x.bin", b"a" * 100_000)
    write(tmp_path / "big/y.bin", b"b" * 50_000)
    write(tmp_path / "small/z.bin", b"c" * 1000)
    os.link(tmp_path / "big/y.bin", tmp_path / "small/y-link.bin")
    r = spacetree.space_tree(tmp_path)
    assert r["root"]["apparent_bytes"] == 151_000
    assert r["children"][0]["path"] == str(tmp_path / "big")
    assert r["children"][0]["apparent_bytes"] == 150_000
    heavy = {h["path"]: h for h in r["heaviest"]}
    assert heavy[str(tmp_path / "big/deep")]["apparent_bytes"] == 100_000
    assert heavy[str(tmp_path / "big/deep")]["allocated_bytes"] >= 100_000


def test_guardian_permission_audit(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok.txt", b"x")
    ww = write(tmp_path / "open.txt", b"x")
    ww.chmod(0o666)
    suid = write(tmp_path / "bin/tool", b"#!/bin/sh\n")
    suid.chmod(0o4755)
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    odd = write(tmp_path / "odd.txt", b"x")
    if os.geteuid() == 0:
        os.chown(odd, 4242, 4242)
    r = perms.permission_audit(tmp_path)
    kinds = {(f["path"], f["kind"]) for f in r["findings"]}
    assert (str(ww), "world_writable") in kinds
    assert (str(suid), "setuid") in kinds
    assert not any(p == str(sticky) for p, _ in kinds)
    assert not any(p == str(ok) for p, _ in kinds)
    if os.geteuid() == 0:
        assert (str(odd), "unexpected_owner") in kinds


def test_phantom_dry_run_then_erase(tmp_path: Path) -> None:
    victim = tmp_path / "secret"
    write(victim / "a.txt", b"top secret " * 100)
    write(victim / "sub/b.txt", b"more")
    os.symlink("/etc/passwd", victim / "link")
    dry = erase.secure_erase([victim])
    assert dry["dry_run"] and dry["files"] == 2 and dry["bytes"] == 1104
    assert (victim / "a.txt").read_bytes().startswith(b"top secret")
    assert any(r["path"].endswith("link") for r in dry["refused"])
    # watch the overwrite: keep a second fd open to read the overwritten inode after unlink
    fd = os.open(victim / "a.txt", os.O_RDONLY)
    try:
        done = erase.secure_erase([victim], dry_run=False, passes=2)
        assert done["erased_files"] == 2
        assert os.fstat(fd).st_size == 0  # truncated after overwrite
    finally:
        os.close(fd)
    assert not (victim / "a.txt").exists() and not (victim / "sub").exists()
    assert (victim / "link").is_symlink()  # refused, left alone
    assert os.path.exists("/etc/passwd")


def test_photon_copy_verify_resume_and_move(tmp_path: Path) -> None:
    src = tmp_path / "src"
    data = os.urandom(3 * 1024 * 1024 + 17)
    write(src / "big.bin", data)
    write(src / "d/small.txt", b"small")
    dst = tmp_path / "dst"
    dst.mkdir()
    # an interrupted earlier run left a correct prefix
    write(dst / "src/.big.bin.photon-part", data[: 1024 * 1024])
    r = copier.transfer(src, dst)
    assert r["files"] == 2 and r["resumed"] == 1 and r["copied"] == 1
    assert (dst / "src/big.bin").read_bytes() == data
    assert not (dst / "src/.big.bin.photon-part").exists()
    again = copier.transfer(src, dst)
    assert again["skipped"] == 2
    # a corrupt part file is not trusted
    (dst / "src/big.bin").unlink()
    write(dst / "src/.big.bin.photon-part", b"garbage" * 100)
    assert copier.transfer(src, dst)["copied"] == 1
    assert (dst / "src/big.bin").read_bytes() == data
    other = tmp_path / "other"
    other.mkdir()
    moved = copier.transfer(src, other, move=True)
    assert moved["files"] == 2 and not src.exists()
    assert (other / "src/d/small.txt").read_bytes() == b"small"
    with pytest.raises(ValueError):
        copier.transfer(other, other / "src")


def test_atlas_index_and_search(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    write(root / "Photos/holiday-2024.jpg", b"j")
    write(root / "docs/Invoice_March.pdf", b"p")
    write(root / "docs/notes.txt", b"t")
    db = tmp_path / "atlas.sqlite"
    r = name_index.build_index(db, root)
    assert r["entries"] == 5
    hits = name_index.search(db, "invoice")
    assert [h["name"] for h in hits["matches"]] == ["Invoice_March.pdf"]
    assert hits["matches"][0]["path"] == str(root / "docs/Invoice_March.pdf")
    assert name_index.search(db, "day-20")["total"] == 1
    assert name_index.search(db, "zz")["total"] == 0
    assert name_index.search(db, 'a"b')["total"] == 0
    (root / "docs/notes.txt").unlink()
    name_index.build_index(db, root)
    assert name_index.search(db, "notes")["total"] == 0
