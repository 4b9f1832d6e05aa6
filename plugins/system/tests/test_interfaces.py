"""Interfaces over netlink, checked against iproute2 (`ip -j addr`) and a veth pair we create."""

from __future__ import annotations

import json

import pytest

from sigmavault import commands
from sigmavault.errors import APIError
from sigmavault_system.interfaces import list_interfaces


async def _ip_addr(netns: str | None = None) -> dict[str, dict]:
    argv = ["ip", "-j"] + (["-n", netns] if netns else []) + ["-d", "addr", "show"]
    return {i["ifname"]: i for i in json.loads((await commands.run(argv, timeout=15)).stdout)}


def _check_against_ip(ours: dict, theirs: dict) -> None:
    assert ours["index"] == theirs["ifindex"]
    assert ours["mtu"] == theirs["mtu"]
    assert ours["mac"] == theirs.get("address")
    assert ours["state"] == theirs["operstate"].lower()
    assert ours["admin_up"] == ("UP" in theirs["flags"])
    kind = theirs.get("linkinfo", {}).get("info_kind")
    if kind:
        assert ours["kind"] == kind
    assert sorted((a["address"], a["prefixlen"]) for a in ours["addresses"]) == sorted(
        (a["local"], a["prefixlen"]) for a in theirs.get("addr_info", []))


async def test_host_interfaces_match_ip_addr():
    ours = {i["name"]: i for i in await list_interfaces()}
    theirs = await _ip_addr()
    assert "lo" in ours and ours["lo"]["kind"] == "loopback"
    assert {"address": "127.0.0.1", "prefixlen": 8} in [
        {"address": a["address"], "prefixlen": a["prefixlen"]} for a in ours["lo"]["addresses"]]
    # Other engineers' tests add and remove links concurrently: compare those present in both.
    common = set(ours) & set(theirs)
    assert "lo" in common
    for name in common:
        _check_against_ip(ours[name], theirs[name])


async def test_veth_pair_in_a_namespace_is_listed(veth_netns):
    ours = {i["name"]: i for i in await list_interfaces(veth_netns)}
    assert {"lo", "svtest0", "svtest1"} <= set(ours)
    a, b = ours["svtest0"], ours["svtest1"]
    assert a["kind"] == b["kind"] == "veth"
    assert a["peer_index"] == b["index"] and b["peer_index"] == a["index"]
    assert a["mtu"] == 1400
    assert a["admin_up"] and a["state"] == "up" and a["carrier"]
    assert [(x["family"], x["address"], x["prefixlen"], x["scope"]) for x in a["addresses"]
            if x["family"] == "inet"] == [("inet", "10.77.0.1", 24, "global")]
    theirs = await _ip_addr(veth_netns)
    for name in ("svtest0", "svtest1", "lo"):
        _check_against_ip(ours[name], theirs[name])
    assert "svtest0" not in {i["name"] for i in await list_interfaces()}  # not in the host namespace


async def test_unknown_namespace_is_a_404():
    with pytest.raises(APIError) as exc:
        await list_interfaces("svsys-does-not-exist")
    assert exc.value.status == 404


async def test_bridge_and_its_port(veth_netns):
    await commands.run(["ip", "-n", veth_netns, "link", "add", "svbr0", "type", "bridge"], timeout=15)
    await commands.run(["ip", "-n", veth_netns, "link", "set", "svtest1", "master", "svbr0"],
                       timeout=15)
    ours = {i["name"]: i for i in await list_interfaces(veth_netns)}
    assert ours["svbr0"]["kind"] == "bridge"
    assert ours["svtest1"]["master"] == "svbr0" and ours["svtest0"]["master"] is None
    theirs = await _ip_addr(veth_netns)
    assert theirs["svtest1"]["master"] == "svbr0"
