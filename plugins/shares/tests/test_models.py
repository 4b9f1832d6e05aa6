"""Validation of NAS accounts and shares."""

from __future__ import annotations

import subprocess

import pytest
from pydantic import ValidationError

from sigmavault.testing import require_root
from sigmavault_shares.models import AccessEntry, Group, Share, User, check_password, next_id


def share(**kw) -> Share:
    return Share.model_validate({"name": "media", "pool": "tank", "volume": "data", **kw})


@pytest.mark.parametrize("name", ["alice", "a", "bob-2", "x_y", "a" * 32])
def test_good_account_names(name: str) -> None:
    assert User(name=name, uid=3000).name == name


@pytest.mark.parametrize("name", ["", "Alice", "1bob", "-x", "a b", "a" * 33, "a:b", "ü"])
def test_bad_account_names(name: str) -> None:
    with pytest.raises(ValidationError):
        User(name=name, uid=3000)


def test_uid_range_and_full_name() -> None:
    with pytest.raises(ValidationError):
        User(name="alice", uid=1000)
    with pytest.raises(ValidationError):
        User(name="alice", uid=3000, full_name="Alice, Admin")
    assert User(name="alice", uid=3000, full_name="Alice Liddell").enabled


def test_system_accounts_are_refused_on_create_only() -> None:
    with pytest.raises(ValidationError, match="already exists on this system"):
        User.model_validate({"name": "root", "uid": 3000}, context={"managed": set()})
    with pytest.raises(ValidationError, match="already exists on this system"):
        Group.model_validate({"name": "users", "gid": 3000}, context={"managed": set()})
    # a name SigmaVault manages is fine, and reading back without context looks nothing up
    User.model_validate({"name": "root", "uid": 3000}, context={"managed": {"root"}})
    User.model_validate({"name": "root", "uid": 3000})


def test_id_held_by_a_system_group() -> None:
    require_root()
    subprocess.run(["groupadd", "--gid", "3950", "svtforeign"], check=True)
    try:
        with pytest.raises(ValidationError, match="id 3950 already belongs to the system group"):
            Group.model_validate({"name": "svtnew", "gid": 3950}, context={"managed": set()})
        Group.model_validate({"name": "svtnew", "gid": 3950}, context={"managed": {"svtforeign"}})
    finally:
        subprocess.run(["groupdel", "svtforeign"], check=True)


def test_next_id_skips_taken() -> None:
    first = next_id(set())
    assert next_id({first}) > first


@pytest.mark.parametrize("password,problem", [
    ("short", "at least 8"), ("alice-secret", "user name"), ("ALICE123x", "user name"),
    ("aaaaaaaaaa", "three different"), ("good pass\nword", "line breaks")])
def test_weak_passwords(password: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_password("alice", password)


def test_acceptable_password() -> None:
    check_password("alice", "tulip-lamp-7")


@pytest.mark.parametrize("name", ["media", "Time Machine", "a" * 80, "ipc", "home"])
def test_good_share_names(name: str) -> None:
    assert share(name=name).name == name


@pytest.mark.parametrize("name", ["global", "HOMES", "Printers", "IPC$", "a" * 81, "a/b",
                                  "x[1]", "a:b", "a|b", "a<b", "a+b", "a=b", "a;b", "a,b",
                                  "a*", "a?", 'a"b', "a\\b", "", " lead", "trail ", ".dot"])
def test_bad_share_names(name: str) -> None:
    with pytest.raises(ValidationError):
        share(name=name)


def test_share_fields() -> None:
    s = share(subfolder="photos/2024", hosts_allow=["192.168.1.0/24", "nas.local"],
              access=[{"kind": "user", "name": "alice", "level": "write"},
                      {"kind": "everyone", "level": "read"}])
    assert s.access[1].name is None and s.protocols == ["smb"]
    for bad in ({"subfolder": "../etc"}, {"subfolder": "/abs"}, {"subfolder": "a//b"},
                {"hosts_allow": ["1.2.3.4 5.6.7.8"]}, {"description": "two\nlines"},
                {"access": [{"kind": "everyone", "name": "x", "level": "read"}]},
                {"access": [{"kind": "user", "level": "read"}]},
                {"access": [{"kind": "user", "name": "a", "level": "admin"}]},
                {"access": [{"kind": "user", "name": "a", "level": "read"},
                            {"kind": "user", "name": "a", "level": "write"}]}):
        with pytest.raises(ValidationError):
            share(**bad)
    assert AccessEntry(kind="group", name="staff", level="full").level == "full"
