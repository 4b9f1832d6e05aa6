"""Snapshot listings read from the root tree: changes made outside the API (read-only flips,
snapshots made, renamed or deleted with btrfs-progs) show up in the next listing, unrelated
writes keep the cached one, and every listed field matches ``btrfs subvolume show``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sigmavault_btrfs import parsers, subvols

pytestmark = pytest.mark.root
API = "/api/v1/storage"
SNAPS = f"{API}/pools/lst/volumes/v/snapshots"


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0, "include_loop_devices": True}}


def btrfs(*args: str) -> str:
    return subprocess.run(["btrfs", *args], check=True, capture_output=True, text=True,
                          timeout=60).stdout


async def ok(resp, status=200):
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


@pytest.fixture
async def volume(client, loop_devices):
    """Pool ``lst`` (one loop device) with volume ``v``; yields the mount point."""
    [dev] = loop_devices(1)
    pool = await ok(await client.post(f"{API}/pools", json={
        "name": "lst", "backend": "btrfs", "topology": {"layout": "single"}, "devices": [dev]}),
        201)
    try:
        await ok(await client.post(f"{API}/pools/lst/volumes", json={"name": "v"}), 201)
        yield Path(pool["mountpoint"])
    finally:
        resp = await client.delete(f"{API}/pools/lst", params={"confirm": "lst"})
        assert resp.status in (204, 404), await resp.text()


async def listing(client, **params) -> dict[str, dict]:
    page = await ok(await client.get(SNAPS, params={"limit": "1000", **params}))
    assert page["total"] == len(page["items"])
    return {s["name"]: s for s in page["items"]}


async def test_read_only_flips_made_outside_the_api_show_up(client, volume):
    for name in ("s1", "s2"):
        await ok(await client.post(SNAPS, json={"name": name}), 201)
    await ok(await client.post(SNAPS, json={"name": "w", "writable": True}), 201)
    before = await listing(client)
    assert {n: s["writable"] for n, s in before.items()} == {"s1": False, "s2": False, "w": True}
    assert await listing(client) == before   # served from the cache

    btrfs("property", "set", before["s1"]["path"], "ro", "false")
    btrfs("property", "set", before["w"]["path"], "ro", "true")
    after = await listing(client)
    assert {n: s["writable"] for n, s in after.items()} == {"s1": True, "s2": False, "w": False}
    btrfs("property", "set", before["s1"]["path"], "ro", "true")
    assert (await listing(client))["s1"]["writable"] is False
    one = await ok(await client.get(f"{SNAPS}/w"))
    assert one["writable"] is False


async def test_unrelated_writes_keep_the_cached_listing(client, sv_app, volume):
    backend = sv_app.registries["storage_backends"]["btrfs"]
    for name in ("a", "b"):
        await ok(await client.post(SNAPS, json={"name": name}), 201)
    first = await listing(client)
    token = await backend.snapshot_list_token(pool="lst", volume="v")
    uuid = (await ok(await client.get(f"{API}/pools/lst")))["properties"]["uuid"]
    generation = Path(f"/sys/fs/btrfs/{uuid}/generation")
    for i in range(3):
        subprocess.run(["sync"], check=True, timeout=60)   # no transaction left open
        gen = generation.read_text()
        (volume / "v" / f"file-{i}").write_bytes(b"x" * 100_000)
        await ok(await client.post(f"{API}/pools/lst/volumes", json={"name": f"other{i}"}), 201)
        subprocess.run(["sync"], check=True, timeout=60)
        assert generation.read_text() != gen
        assert await backend.snapshot_list_token(pool="lst", volume="v") == token
        assert await listing(client) == first

    # a change right after a cached listing, made with btrfs-progs, is seen at once
    btrfs("subvolume", "snapshot", "-r", str(volume / "v"), str(volume / ".snapshots/v/c"))
    assert sorted(await listing(client)) == ["a", "b", "c"]
    assert await backend.snapshot_list_token(pool="lst", volume="v") != token
    (volume / ".snapshots/v/c").rename(volume / ".snapshots/v/d")
    assert sorted(await listing(client)) == ["a", "b", "d"]
    btrfs("subvolume", "delete", str(volume / ".snapshots/v/a"))
    assert sorted(await listing(client)) == ["b", "d"]
    # a writable snapshot made elsewhere and moved in
    btrfs("subvolume", "snapshot", str(volume / "v"), str(volume / "moved"))
    (volume / "moved").rename(volume / ".snapshots/v/moved")
    got = await listing(client)
    assert sorted(got) == ["b", "d", "moved"] and got["moved"]["writable"] is True
    # a plain file in the snapshot directory changes its stat but not the listing
    token = await backend.snapshot_list_token(pool="lst", volume="v")
    (volume / ".snapshots/v/notes.txt").write_text("not a snapshot")
    assert await backend.snapshot_list_token(pool="lst", volume="v") == token
    assert await listing(client) == got


async def test_only_snapshots_and_read_only_subvolumes_of_the_directory_are_listed(client, volume):
    snapdir = volume / ".snapshots" / "v"
    await ok(await client.post(SNAPS, json={"name": "w", "writable": True}), 201)
    # what a full-stream receive leaves: a plain subvolume, writable until the stream ends
    btrfs("subvolume", "create", str(snapdir / "incoming"))
    btrfs("subvolume", "create", str(snapdir / "w" / "nested"))   # not in the directory itself
    (snapdir / "plain-dir").mkdir()
    assert sorted(await listing(client)) == ["w"]
    btrfs("property", "set", str(snapdir / "incoming"), "ro", "true")
    got = await listing(client)
    assert sorted(got) == ["incoming", "w"] and got["incoming"]["writable"] is False
    btrfs("subvolume", "delete", str(snapdir / "w" / "nested"))


async def test_unusual_names_and_fields_match_subvolume_show(client, volume):
    snapdir = volume / ".snapshots" / "v"
    api_names = ["0-digit-first", "a:b.c-d_e", "Z" * 64, "dots.in.the.middle"]
    for name in api_names:
        await ok(await client.post(SNAPS, json={"name": name}), 201)
    # names only btrfs-progs can make: spaces, " path " (a column name of 'subvolume list'),
    # non-ASCII, a newline
    odd = ["with space", "x path y", "ünïcødé-快照", "two\nlines"]
    for name in odd:
        btrfs("subvolume", "snapshot", "-r", str(volume / "v"), str(snapdir / name))
    got = await listing(client, sort="name", order="asc")
    assert sorted(got) == sorted(api_names + odd)
    page = await ok(await client.get(SNAPS, params={"sort": "name", "order": "asc"}))
    assert [s["name"] for s in page["items"]] == sorted(api_names + odd)
    for order in ("desc", "asc"):   # ties within one second: by name, in the same direction
        page = await ok(await client.get(SNAPS, params={"order": order}))
        want = sorted(got.values(), key=lambda s: (s["created"], s["name"]),
                      reverse=order == "desc")
        assert [s["name"] for s in page["items"]] == [s["name"] for s in want]
    qgroups = parsers.parse_qgroup_show(btrfs("qgroup", "show", "--raw", "-re", str(volume)))
    for name, snap in got.items():
        assert snap["path"] == str(snapdir / name) and Path(snap["path"]).is_dir()
        show = parsers.parse_subvolume_show(btrfs("subvolume", "show", snap["path"]))
        assert snap["properties"]["subvolume_id"] == show["id"]
        assert snap["created"] == show["created"]
        assert snap["writable"] is (not show["readonly"]) is False
        assert snap["pool"] == "lst" and snap["volume"] == "v"
        assert snap["used"] == qgroups[show["id"]]["exclusive"]   # quotas are on in new pools
        assert snap["properties"]["referenced"] == qgroups[show["id"]]["referenced"]
    one = await ok(await client.get(f"{SNAPS}/a:b.c-d_e"))
    assert one["created"] == got["a:b.c-d_e"]["created"]


@pytest.mark.parametrize("buf_size", [600, 1000])
async def test_items_split_between_search_buffers(client, volume, monkeypatch, buf_size):
    """Search buffers of one subvolume (600 bytes) or one and a half (1000: a root item at the
    end of one result, its backref at the start of the next): the full read and both kinds of
    update still find every snapshot, with its id, name and read-only flag."""
    snapdir = volume / ".snapshots" / "v"
    snapdir.mkdir(parents=True, exist_ok=True)
    for i in range(12):
        btrfs("subvolume", "snapshot", "-r", str(volume / "v"), str(snapdir / f"s{i:02d}"))
    btrfs("subvolume", "create", str(volume / "other"))   # another subvolume's items in between
    btrfs("property", "set", str(snapdir / "s05"), "ro", "false")

    def truth() -> dict[str, int]:
        rows = parsers.parse_subvolume_list(btrfs("subvolume", "list", "-s", str(volume)))
        return {r["path"].rsplit("/", 1)[1]: r["id"] for r in rows
                if r["path"].startswith(".snapshots/v/")}

    fd = os.open(snapdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        whole = subvols.children(fd, subvols.locate(fd))
        monkeypatch.setattr(subvols, "BUF_SIZE", buf_size)
        split = subvols.children(fd, subvols.locate(fd))
    finally:
        os.close(fd)
    assert split == whole
    assert {c.name.decode(): c.id for c in split.values()} == truth()
    assert [c.name for c in split.values() if not c.readonly] == [b"s05"]

    def ids(got: dict[str, dict]) -> dict[str, int]:
        return {name: s["properties"]["subvolume_id"] for name, s in got.items()}

    got = await listing(client)
    assert ids(got) == truth() and [n for n, s in got.items() if s["writable"]] == ["s05"]
    btrfs("property", "set", str(snapdir / "s05"), "ro", "true")           # a root item changed
    assert not any(s["writable"] for s in (await listing(client)).values())
    btrfs("subvolume", "delete", str(snapdir / "s03"))                     # the directory changed
    btrfs("subvolume", "snapshot", "-r", str(volume / "v"), str(snapdir / "late"))
    got = await listing(client)
    assert ids(got) == truth() and "late" in got and "s03" not in got
