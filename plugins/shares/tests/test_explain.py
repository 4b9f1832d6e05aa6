"""The explainer and the ACL reader: pure functions, on recorded getfacl output."""

from __future__ import annotations

from pathlib import Path

from sigmavault_shares.acl import AclEntry, effective_level, parse_getfacl
from sigmavault.hookspecs import AccessStep
from sigmavault_shares.explain import combine, explain, explain_other, list_level, whose
from sigmavault_shares.models import Group, Share, User

DATA = Path(__file__).parent / "data"
ALICE = User(name="alice", uid=3001)
BOB = User(name="bob", uid=3002, groups=["staff"])
CAROL = User(name="carol", uid=3003)
GROUPS = [Group(name="staff", gid=3100), Group(name="readers", gid=3101, members=["bob", "carol"])]


def share(*access: dict, **kw) -> Share:
    return Share.model_validate({"name": "s", "pool": "p", "volume": "v", "access": list(access),
                                 **kw})


def user(name: str, level: str) -> dict:
    return {"kind": "user", "name": name, "level": level}


def group(name: str, level: str) -> dict:
    return {"kind": "group", "name": name, "level": level}


def everyone(level: str) -> dict:
    return {"kind": "everyone", "level": level}


def test_user_entry_decides_alone() -> None:
    s = share(user("bob", "read"), group("staff", "write"), everyone("write"))
    assert explain(s, BOB, GROUPS) == {"access": "read", "reasons": ["entry for user bob: read"]}
    s = share(user("bob", "none"), everyone("write"))
    assert explain(s, BOB, GROUPS)["access"] == "none"


def test_groups_give_the_highest_and_hide_everyone() -> None:
    s = share(group("staff", "read"), group("readers", "write"), everyone("none"))
    result = explain(s, BOB, GROUPS)
    assert result == {"access": "write", "reasons": ["via group readers: write (also in staff)"]}
    s = share(group("readers", "none"), everyone("write"))
    assert explain(s, CAROL, GROUPS) == {"access": "none",
                                         "reasons": ["via group readers: none"]}
    assert explain(share(group("readers", "full")), CAROL, GROUPS)["access"] == "write"


def test_everyone_and_nothing() -> None:
    assert explain(share(everyone("read")), ALICE, GROUPS)["access"] == "read"
    assert explain(share(), ALICE, GROUPS) == {
        "access": "none", "reasons": ["no entry for alice, their groups or everyone"]}


def test_read_only_disabled_and_guest() -> None:
    s = share(user("alice", "write"), everyone("read"), read_only=True)
    assert explain(s, ALICE) == {"access": "read", "reasons": [
        "entry for user alice: write", "share is read-only"]}
    off = ALICE.model_copy(update={"enabled": False})
    assert explain(s, off) == {"access": "none", "reasons": [
        "entry for user alice: write", "account alice is disabled"]}
    assert explain(s, None)["access"] == "none"  # guest_ok is off
    assert explain(s.model_copy(update={"guest_ok": True}), None) == {
        "access": "read", "reasons": ["guest: everyone has read"]}
    assert list_level(share(guest_ok=True), None, set())[0] == "none"
    assert explain(share(user("alice", "write"), enabled=False), ALICE)["access"] == "none"


def test_parse_recorded_getfacl() -> None:
    top, sub, f = parse_getfacl((DATA / "getfacl-2.3.1-share.txt").read_text())
    assert (top.path, top.owner, top.group) == ("share", "root", "root")
    assert top.access == [
        AclEntry("user", None, "rwx"), AclEntry("user", "svtalice", "rwx"),
        AclEntry("user", "svtdave", "---"), AclEntry("group", None, "---"),
        AclEntry("group", "svtreaders", "r-x"), AclEntry("mask", None, "rwx"),
        AclEntry("other", None, "r-x")]
    assert top.default == top.access == sub.access
    assert f.path == "share/f.txt" and f.default == []
    assert [e.perms for e in f.access] == ["rw-", "rw-", "---", "---", "r--", "rw-", "r--"]
    assert effective_level(top, "svtalice", set()) == "write"
    assert effective_level(top, "svtdave", {"svtreaders"}) == "none"  # user entry wins
    assert effective_level(top, "svtbob", {"svtreaders"}) == "read"
    assert effective_level(top, "svtcarol", set()) == "read"  # other
    assert effective_level(top, "root", set()) == "write"  # owner
    assert effective_level(top, "svtcarol", {"root"}) == "none"  # owning group: ---


def test_mask_caps_named_entries_and_explain_says_so() -> None:
    (reading,) = parse_getfacl((DATA / "getfacl-2.3.1-mask-r-x.txt").read_text())
    assert next(e for e in reading.access if e.qualifier == "svtalice").perms == "rwx"
    assert effective_level(reading, "svtalice", set()) == "read"
    alice = User(name="svtalice", uid=3901)
    result = explain(share(user("svtalice", "write")), alice, [], reading)
    assert result == {"access": "read", "reasons": [
        "entry for user svtalice: write", "filesystem ACL on the folder allows only read"]}


def test_protocol_steps_cap_and_wrap_the_chain() -> None:
    chain = explain(share(user("alice", "write")), ALICE)
    steps = [AccessStep("client rule ro", cap="read"), AccessStep("mode bits", after=True)]
    assert combine(steps, chain) == {"access": "read", "reasons": [
        "client rule ro", "entry for user alice: write", "mode bits"]}
    assert combine([AccessStep("no client rule", cap="none")], chain) == {
        "access": "none", "reasons": ["no client rule"]}  # refused before the list: it ends
    assert combine([AccessStep("root", superuser=True)], None) == {
        "access": "write", "reasons": ["root"]}
    squash = [AccessStep("squash root", as_other=True), AccessStep("info")]
    assert whose(squash) is squash[0] and whose(steps) is None
    # somebody with no NAS account gets "everyone", whatever guest_ok says
    assert explain_other(share(everyone("write"))) == {
        "access": "write", "reasons": ["no NAS account: everyone has write"]}
    assert explain_other(share(everyone("write"), read_only=True))["access"] == "read"
    assert explain_other(share(user("alice", "write")))["access"] == "none"
