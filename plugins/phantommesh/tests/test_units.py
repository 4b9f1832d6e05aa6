"""Pure pieces: keys, UAPI wire format, IPAM, ML-KEM PSKs, signing, invites, driver selection."""

from __future__ import annotations

import base64
import time

import pytest

from sigmavault.db import Database
from sigmavault.errors import APIError
from sigmavault_phantommesh import invites, keys, peerauth, pqpsk
from sigmavault_phantommesh.drivers import KernelDriver, UserspaceDriver, select_driver
from sigmavault_phantommesh.drivers.base import DriverError, PeerConfig
from sigmavault_phantommesh.drivers.kernel import netlink_peer
from sigmavault_phantommesh.ipam import IPAM
from sigmavault_phantommesh.store import ALL_MIGRATIONS
from sigmavault_phantommesh.uapi import UAPIError, parse_get, serialize_set


async def test_keys_match_wg_tool():
    from sigmavault.commands import run
    from sigmavault.testing import require_tool

    pair = keys.generate()
    assert keys.public_from_private(pair.private_key) == pair.public_key
    assert keys.from_hex(keys.to_hex(pair.public_key)) == pair.public_key
    require_tool("wg")
    res = await run(["wg", "pubkey"], input=pair.private_key.encode())
    assert res.stdout.strip() == pair.public_key
    with pytest.raises(ValueError):
        keys.decode("AAAA")
    with pytest.raises(ValueError):
        keys.decode("not base64!")


def test_uapi_serialize_and_parse():
    a, b = keys.generate(), keys.generate()
    psk = keys.generate_psk()
    text = serialize_set(private_key=a.private_key, listen_port=51820, replace_peers=True, peers=[
        PeerConfig(public_key=b.public_key, endpoint="192.0.2.1:51821", allowed_ips=["10.1.0.2/32"],
                   keepalive=25, preshared_key=psk),
        PeerConfig(public_key=keys.generate().public_key, remove=True)])
    lines = text.splitlines()
    assert lines[:4] == ["set=1", f"private_key={keys.to_hex(a.private_key)}", "listen_port=51820",
                         "replace_peers=true"]
    assert f"preshared_key={keys.to_hex(psk)}" in lines and "remove=true" in lines
    assert "allowed_ip=10.1.0.2/32" in lines and "replace_allowed_ips=true" in lines
    with pytest.raises(UAPIError):
        serialize_set(peers=[PeerConfig(public_key=b.public_key, endpoint="1.2.3.4:1\nprivate_key=00")])

    reply = "\n".join([
        f"private_key={keys.to_hex(a.private_key)}", "listen_port=51820",
        f"public_key={keys.to_hex(b.public_key)}", f"preshared_key={'0' * 64}",
        "protocol_version=1", "endpoint=192.0.2.1:51821", "last_handshake_time_sec=1700000000",
        "last_handshake_time_nsec=500000000", "tx_bytes=100", "rx_bytes=200",
        "persistent_keepalive_interval=25", "allowed_ip=10.1.0.2/32", "allowed_ip=10.9.0.0/16",
        "errno=0", "", ""])
    dev = parse_get(reply, "wg0")
    assert dev.public_key == a.public_key and dev.listen_port == 51820
    (p,) = dev.peers
    assert p.public_key == b.public_key and not p.has_preshared_key
    assert p.last_handshake == 1700000000.5 and p.rx_bytes == 200 and p.tx_bytes == 100
    assert p.allowed_ips == ["10.1.0.2/32", "10.9.0.0/16"] and p.keepalive == 25
    assert p.is_up(now=1700000000.5 + 179) and not p.is_up(now=1700000000.5 + 181)
    with pytest.raises(UAPIError):
        parse_get("errno=1\n\n")


def _ipam(tmp_path, cidr="10.1.0.0/29", quarantine=3600.0) -> IPAM:
    db = Database(tmp_path / "state.db")
    db.migrate("phantommesh", ALL_MIGRATIONS)
    return IPAM(db, cidr, quarantine)


def test_ipam_no_reuse_until_exhausted_and_quarantined(tmp_path):
    ipam = _ipam(tmp_path)
    got = [ipam.allocate(n) for n in "abcdef"]
    assert got == [f"10.1.0.{i}" for i in range(1, 7)]
    assert ipam.allocate("a") == "10.1.0.1"  # idempotent per owner
    with pytest.raises(APIError) as err:
        ipam.allocate("g")
    assert err.value.status == 409
    assert ipam.release("b") == "10.1.0.2"
    with pytest.raises(APIError):  # released but still quarantined
        ipam.allocate("g")
    ipam.quarantine = 0
    assert ipam.allocate("g") == "10.1.0.2"
    with pytest.raises(APIError) as err:
        ipam.reserve("10.1.0.3", "h")
    assert err.value.code == "address_in_use"
    with pytest.raises(APIError) as err:
        ipam.reserve("10.1.0.7", "h")  # broadcast
    assert err.value.code == "address_outside_mesh"
    # moving an owner releases its old address
    ipam.release("c")
    assert ipam.reserve("10.1.0.3", "a") == "10.1.0.3"
    assert ipam.owner_of("10.1.0.1") is None and ipam.address_of("a") == "10.1.0.3"


def test_ipam_ipv6(tmp_path):
    ipam = _ipam(tmp_path, "fd42:1::/64")
    assert ipam.allocate("x") == "fd42:1::1" and ipam.interface("fd42:1::1") == "fd42:1::1/64"
    with pytest.raises(APIError):
        IPAM(ipam.db, "not-a-cidr")


def test_mlkem_psk_exchange_agrees_and_binds_keys():
    a, b = keys.generate(), keys.generate()
    init = pqpsk.Initiator.start()
    assert len(base64.b64decode(init.encapsulation_key)) == pqpsk.EK_BYTES
    ct, psk_b = pqpsk.respond(init.encapsulation_key, b.public_key, a.public_key)
    psk_a = init.finish(ct, a.public_key, b.public_key)
    assert psk_a == psk_b and keys.is_valid(psk_a)
    # another pair of WireGuard keys derives another PSK from the same exchange
    init2 = pqpsk.Initiator.start()
    ct2, _ = pqpsk.respond(init2.encapsulation_key, b.public_key, a.public_key)
    assert init2.finish(ct2, a.public_key, keys.generate().public_key) != psk_a
    with pytest.raises(ValueError):
        pqpsk.respond("AAAA", b.public_key, a.public_key)
    with pytest.raises(ValueError):
        init.finish(base64.b64encode(b"x" * 10).decode(), a.public_key, b.public_key)


def test_peerauth_signs_verifies_and_rejects_replays():
    secret = "ab" * 32
    sender = keys.generate().public_key
    body = b'{"x":1}'
    headers = peerauth.sign(secret, sender, "POST", "/p", body)
    v = peerauth.Verifier()
    assert v.verify(headers, "POST", "/p", body, lambda k: secret if k == sender else None) == sender
    for hdrs, path, payload, code in (
        (headers, "/p", body, "replayed"),
        (peerauth.sign(secret, sender, "POST", "/p", body), "/q", body, "bad_signature"),
        (peerauth.sign(secret, sender, "POST", "/p", body), "/p", b"{}", "bad_signature"),
        (peerauth.sign("cd" * 32, sender, "POST", "/p", body), "/p", body, "bad_signature"),
        (peerauth.sign(secret, keys.generate().public_key, "POST", "/p", body), "/p", body, "unknown_peer"),
        ({}, "/p", body, "unsigned"),
        ({**peerauth.sign(secret, sender, "POST", "/p", body), peerauth.H_TIME: str(time.time() - 600)},
         "/p", body, "stale_request"),
    ):
        with pytest.raises(APIError) as err:
            v.verify(hdrs, "POST", path, payload, lambda k: secret if k == sender else None)
        assert err.value.status == 401 and err.value.code == code


def test_invite_roundtrip():
    inv = invites.Invite(api_url="http://192.0.2.1:12080", public_key=keys.generate().public_key,
                         secret=invites.new_secret(), name="b", expires_at=time.time() + 60,
                         mesh_cidr="10.1.0.0/24")
    assert invites.parse(inv.encode()) == invites.Invite(**{**inv.__dict__, "expires_at": int(inv.expires_at)})
    bad_url = invites.Invite(**{**inv.__dict__, "api_url": "file:///etc/passwd"})
    with pytest.raises(APIError):
        invites.parse(bad_url.encode())
    with pytest.raises(APIError):
        invites.parse(inv.encode()[:-5])


class FakeDriver:
    def __init__(self, name, ok):
        self.name, self.ok = name, ok

    def available(self):
        return self.ok, "ok" if self.ok else f"{self.name} missing"


def test_driver_selection_prefers_kernel_then_userspace():
    k_yes, k_no = KernelDriver(module_probe=lambda: True), KernelDriver(module_probe=lambda: False)
    user = UserspaceDriver()
    user_missing = UserspaceDriver(binary="/nonexistent/wireguard-go")
    assert select_driver({"kernel": k_yes, "userspace": user}).name == "kernel"
    assert select_driver({"kernel": k_no, "userspace": user}).name == "userspace"
    assert select_driver({"kernel": k_yes, "userspace": user}, "userspace").name == "userspace"
    with pytest.raises(DriverError, match="kernel.*no wireguard kernel module"):
        select_driver({"kernel": k_no, "userspace": user}, "kernel")
    with pytest.raises(DriverError, match="no network driver can run here"):
        select_driver({"kernel": k_no, "userspace": user_missing})
    with pytest.raises(DriverError, match="not registered"):
        select_driver({}, "kernel")
    assert select_driver({"kernel": k_no, "other": FakeDriver("other", True)}).name == "other"
    # a probe that blows up is a reason, not a crash
    boom = KernelDriver(module_probe=lambda: 1 / 0)
    assert boom.available()[0] is False and "probe failed" in boom.available()[1]
    # the real probe agrees with the kernel: sysfs and the generic netlink family
    from sigmavault_phantommesh.drivers.kernel import SYSFS_MODULE, _genl_family_present
    present = SYSFS_MODULE.exists() or _genl_family_present()
    assert KernelDriver().available() == ((True, "wireguard kernel module loaded") if present
                                          else (False, "no wireguard kernel module"))


def test_kernel_peer_mapping():
    pk = keys.generate().public_key
    psk = keys.generate_psk()
    out = netlink_peer(PeerConfig(public_key=pk, endpoint="[2001:db8::1]:51820", allowed_ips=["10.1.0.2/32"],
                                  keepalive=25, preshared_key=psk))
    assert out == {"public_key": pk, "endpoint_addr": "2001:db8::1", "endpoint_port": 51820,
                   "preshared_key": psk, "persistent_keepalive": 25, "replace_allowed_ips": True,
                   "allowed_ips": ["10.1.0.2/32"]}
    assert netlink_peer(PeerConfig(public_key=pk, remove=True)) == {"public_key": pk, "remove": True}
    cleared = netlink_peer(PeerConfig(public_key=pk, preshared_key=""))
    assert base64.b64decode(cleared["preshared_key"]) == bytes(32)


def test_kernel_info_parsing_from_real_netlink_messages():
    """Encode a WG_CMD_GET_DEVICE reply with pyroute2's own message class, decode it as the kernel's
    answer would be, and read it back (the kernel driver cannot run on a machine without the
    module, its parsing can)."""
    from socket import AF_INET, AF_INET6, inet_pton

    from pyroute2.netlink.generic.wireguard import wgmsg

    from sigmavault_phantommesh.drivers.kernel import parse_info

    a, b, psk = keys.generate(), keys.generate(), keys.generate_psk()
    msg = wgmsg()
    msg["cmd"], msg["version"] = 0, 1
    msg["attrs"] = [
        ["WGDEVICE_A_IFNAME", "wg0"], ["WGDEVICE_A_PUBLIC_KEY", a.public_key],
        ["WGDEVICE_A_LISTEN_PORT", 51820],
        ["WGDEVICE_A_PEERS", [{"attrs": [
            ["WGPEER_A_PUBLIC_KEY", b.public_key], ["WGPEER_A_PRESHARED_KEY", psk],
            ["WGPEER_A_ENDPOINT", {"addr": "192.0.2.1", "port": 51821}],
            ["WGPEER_A_LAST_HANDSHAKE_TIME", {"tv_sec": 1700000000, "tv_nsec": 250000000}],
            ["WGPEER_A_RX_BYTES", 10], ["WGPEER_A_TX_BYTES", 20],
            ["WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL", 25],
            ["WGPEER_A_ALLOWEDIPS", [
                {"attrs": [["WGALLOWEDIP_A_FAMILY", AF_INET], ["WGALLOWEDIP_A_IPADDR", inet_pton(AF_INET, "10.1.0.2")],
                           ["WGALLOWEDIP_A_CIDR_MASK", 32]]},
                {"attrs": [["WGALLOWEDIP_A_FAMILY", AF_INET6],
                           ["WGALLOWEDIP_A_IPADDR", inet_pton(AF_INET6, "fd00::2")],
                           ["WGALLOWEDIP_A_CIDR_MASK", 128]]}]]]}]]]
    msg.encode()
    reply = wgmsg(msg.data)
    reply.decode()
    dev = parse_info("wg0", [reply])
    assert dev.public_key == a.public_key and dev.listen_port == 51820
    (p,) = dev.peers
    assert p.public_key == b.public_key and p.endpoint == "192.0.2.1:51821" and p.has_preshared_key
    assert p.allowed_ips == ["10.1.0.2/32", "fd00::2/128"]
    assert p.last_handshake == 1700000000.25 and p.rx_bytes == 10 and p.tx_bytes == 20
    assert p.keepalive == 25
