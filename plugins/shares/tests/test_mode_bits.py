"""Access lists on a file system without POSIX ACLs: the mode bits :func:`mode_plan` chooses give
every account what the access list gives it (as the explainer resolves it), and a list they
cannot express is refused with the reason. The real zfs-fuse case (smbclient, the explainer, the
422 through HTTP) is in plugins/smb/tests/test_previous_versions.py."""

from __future__ import annotations

import pytest

from sigmavault_shares.acl import NoPosixAcls, bits_level, mode_plan
from sigmavault_shares.explain import list_level
from sigmavault_shares.models import AccessEntry, Share

# user → the groups it is in
PEOPLE = {"alice": set(), "bob": {"readers"}, "carol": set(), "dave": {"readers", "staff"}}


def entries(*spec: tuple[str, str | None, str]) -> list[AccessEntry]:
    return [AccessEntry.model_validate({"kind": k, "level": lv, **({"name": n} if n else {})})
            for k, n, lv in spec]


def share(access: list[AccessEntry]) -> Share:
    return Share.model_validate({"name": "s", "pool": "p", "volume": "v",
                                 "access": [e.model_dump(exclude_none=True) for e in access]})


EXPRESSIBLE = [
    entries(("user", "alice", "write"), ("group", "readers", "read")),
    entries(("user", "alice", "full"), ("group", "readers", "write"), ("everyone", None, "read")),
    entries(("user", "alice", "read"), ("everyone", None, "read")),
    entries(("group", "readers", "write")),
    entries(("group", "readers", "read"), ("everyone", None, "write")),
    entries(("everyone", None, "write")),
    entries(("user", "alice", "write"), ("user", "carol", "none")),
    entries(),
]


@pytest.mark.parametrize("access", EXPRESSIBLE)
def test_mode_bits_give_what_the_list_gives(access: list[AccessEntry]) -> None:
    plan = mode_plan(access)
    for user, groups in PEOPLE.items():
        if user == plan.owner:
            bits = plan.owner_bits
        elif plan.group is not None and plan.group in groups:
            bits = plan.group_bits
        else:
            bits = plan.other_bits
        assert bits_level(bits) == list_level(share(access), user, groups)[0], (user, plan)
    folder = plan.mode(directory=True)
    assert bool(folder & 0o2000) == (plan.group is not None)
    assert plan.mode(directory=False) & 0o7111 == 0  # files: no x, no setgid
    assert plan.mode(directory=False, executable=True) == folder & 0o777  # x kept, like X


def test_a_reader_never_owns_the_folder() -> None:
    assert mode_plan(entries(("user", "alice", "read"), ("everyone", None, "read"))).owner is None


def test_the_example_folder_is_2750_alice_readers() -> None:
    plan = mode_plan(EXPRESSIBLE[0])
    assert (plan.owner, plan.group, oct(plan.mode(True)), oct(plan.mode(False))) == \
        ("alice", "readers", "0o2750", "0o640")


@pytest.mark.parametrize("access,why", [
    (entries(("user", "alice", "write"), ("user", "carol", "write")), "alice: write, carol: write"),
    (entries(("user", "alice", "read"), ("user", "bob", "read")), "alice: read, bob: read"),
    (entries(("group", "readers", "read"), ("group", "staff", "write")), "groups readers, staff"),
    (entries(("user", "carol", "none"), ("everyone", None, "read")), "user entry 'none' (carol)"),
    (entries(("user", "bob", "read")), "one with read only (bob) would own the folder"),
    (entries(("user", "bob", "read"), ("group", "staff", "write")), "read only (bob)"),
])
def test_refused_with_the_reason(access: list[AccessEntry], why: str) -> None:
    with pytest.raises(NoPosixAcls) as err:
        mode_plan(access, "zfs-fuse")
    assert str(err.value).startswith("this volume's file system (zfs-fuse) has no POSIX ACLs: an "
                                      "access list on it can name at most one user and one group")
    assert why in str(err.value)
