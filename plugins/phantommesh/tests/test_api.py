"""The PhantomMesh API in-process: state, IPAM, peers, exports, invites, validation and auth.

These tests never bring an interface up (``enabled`` stays false, the default): the device is exercised by the
namespace tests.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from pm_support import UNNEEDED_PLUGINS
from sigmavault.testing import require_tool, wait_job
from sigmavault_phantommesh import invites, keys

BASE = "/api/v1/network/phantommesh"


@pytest.fixture
def sv_config_overrides():
    return {"plugins": {"disabled": UNNEEDED_PLUGINS},
            "phantommesh": {"interface": "pmunit0", "node_name": "unit",
                            "mesh_cidr": "10.231.200.0/29", "endpoint_host": "192.0.2.10",
                            "ipam_quarantine_seconds": 3600}}


# enabled, but with a driver that cannot run here: nothing may create an interface in the host's
# namespace from these in-process tests
ENABLED = {"phantommesh": {"enabled": True, "autostart": False, "interface": "pmunit0",
                           "driver": "kernel", "mesh_cidr": "10.231.200.0/29"}}


@pytest.fixture(autouse=True)
def _no_kernel_module():
    from sigmavault_phantommesh.drivers import KernelDriver

    if KernelDriver().available()[0]:
        pytest.skip("the kernel module is loaded: these tests would create a host interface")


async def _ok(resp, status=200):
    body = await resp.json() if resp.content_type == "application/json" else await resp.text()
    assert resp.status == status, body
    return body


async def test_status_shape_and_drivers(client):
    st = await _ok(await client.get(BASE))
    assert st["node_name"] == "unit" and st["interface"] == "pmunit0"
    assert st["running"] is False and st["driver"] is None and st["peers"] == []
    assert keys.is_valid(st["public_key"])
    assert st["address"] == "10.231.200.1/29" and st["listen_port"] == 51820
    assert set(st["drivers"]) >= {"kernel", "userspace"}
    assert st["drivers"]["kernel"] == "unavailable: no wireguard kernel module"
    # the key pair persists: the same identity on every read
    assert (await _ok(await client.get(BASE)))["public_key"] == st["public_key"]


async def test_peers_ipam_without_reuse_and_export(client, tmp_path):
    a = await _ok(await client.post(BASE + "/peers", json={"name": "laptop", "generate_psk": True}), 201)
    assert a["address"] == "10.231.200.2" and a["allowed_ips"] == ["10.231.200.2/32"]
    assert a["preshared_key"] is True and a["psk_mode"] == "static" and a["up"] is False
    assert a["last_handshake_age"] is None and a["node"] is False
    b = await _ok(await client.post(BASE + "/peers", json={
        "name": "phone", "public_key": keys.generate().public_key, "endpoint": "192.0.2.7:51820",
        "keepalive": 0}), 201)
    assert b["address"] == "10.231.200.3" and b["endpoint"] == "192.0.2.7:51820"

    exp = await _ok(await client.get(BASE + "/peers/laptop/config"))
    text = exp["config"]
    own = (await _ok(await client.get(BASE)))["public_key"]
    assert f"PublicKey = {own}" in text and "Address = 10.231.200.2/29" in text
    assert "PrivateKey = " in text and "PresharedKey = " in text
    assert "Endpoint = 192.0.2.10:51820" in text and "AllowedIPs = 10.231.200.0/29" in text
    require_tool("wg-quick")
    conf = tmp_path / exp["filename"]
    conf.write_text(text)
    from sigmavault.commands import run
    stripped = (await run(["wg-quick", "strip", str(conf)])).stdout
    assert f"PublicKey = {own}" in stripped and "Address" not in stripped

    # removed addresses are not handed out again while fresh ones remain
    assert (await client.delete(BASE + "/peers/laptop")).status == 204
    c = await _ok(await client.post(BASE + "/peers", json={"name": "tablet"}), 201)
    assert c["address"] == "10.231.200.4"
    await _ok(await client.post(BASE + "/peers", json={"name": "tv"}), 201)            # .5
    await _ok(await client.post(BASE + "/peers", json={"name": "watch"}), 201)         # .6
    full = await client.post(BASE + "/peers", json={"name": "fridge"})
    assert full.status == 409 and (await full.json())["error"]["code"] == "mesh_full"
    # explicit address already held by someone else
    taken = await client.post(BASE + "/peers", json={"name": "dup", "address": "10.231.200.3"})
    assert taken.status == 409
    assert (await _ok(await client.get(BASE + "/peers/phone")))["address"] == "10.231.200.3"


async def test_peer_validation_is_4xx_and_changes_nothing(client):
    before = await _ok(await client.get(BASE + "/peers"))
    for body in ({"name": "../x"}, {"name": "-x"}, {"name": "ok", "public_key": "not-a-key"},
                 {"name": "ok", "endpoint": "example.com:51820"},
                 {"name": "ok", "endpoint": "192.0.2.1:99999"},
                 {"name": "ok", "allowed_ips": ["10.0.0.0/33"]}):
        resp = await client.post(BASE + "/peers", json=body)
        assert resp.status == 422, (body, await resp.text())
    resp = await client.post(BASE + "/peers", json={"name": "ok", "address": "192.0.2.1"})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "address_outside_mesh"
    own = (await _ok(await client.get(BASE)))["public_key"]
    resp = await client.post(BASE + "/peers", json={"name": "me", "public_key": own})
    assert resp.status == 400
    await _ok(await client.post(BASE + "/peers", json={"name": "one"}), 201)
    assert (await client.post(BASE + "/peers", json={"name": "one"})).status == 409
    assert (await client.get(BASE + "/peers/nope")).status == 404
    assert (await client.delete(BASE + "/peers/nope")).status == 404
    after = await _ok(await client.get(BASE + "/peers"))
    assert [p["name"] for p in after] == [p["name"] for p in before] + ["one"]
    upd = await _ok(await client.patch(BASE + "/peers/one", json={"keepalive": 7, "endpoint": "[2001:db8::1]:51820"}))
    assert upd["keepalive"] == 7 and upd["endpoint"] == "[2001:db8::1]:51820"


@pytest.mark.sv_config(ENABLED)
async def test_invites_and_redeem_errors(client, anon_client):
    inv = await _ok(await client.post(BASE + "/invites", json={"name": "node-b", "ttl_seconds": 600}), 201)
    parsed = invites.parse(inv["invite"])
    st = await _ok(await client.get(BASE))
    assert parsed.public_key == st["public_key"] and parsed.name == "node-b"
    assert parsed.mesh_cidr == "10.231.200.0/29"
    listed = await _ok(await client.get(BASE + "/invites"))
    assert listed[0]["id"] == inv["id"] and listed[0]["redeemed_at"] is None
    assert "invite" not in listed[0] and parsed.secret not in str(listed)

    body = {"token": "x" * 32, "public_key": keys.generate().public_key, "node_name": "b",
            "listen_port": 51820, "api_url": "http://192.0.2.2:12080", "api_key": "svk_" + "k" * 20}
    resp = await anon_client.post(BASE + "/invites/redeem", json=body)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "invalid_token"
    resp = await anon_client.post(BASE + "/invites/redeem", json={**body, "public_key": "zz"})
    assert resp.status == 422
    resp = await anon_client.post(BASE + "/invites/redeem", json={**body, "api_url": "file:///etc/passwd"})
    assert resp.status == 422
    # a revoked invite cannot be redeemed
    assert (await client.delete(BASE + f"/invites/{inv['id']}")).status == 204
    resp = await anon_client.post(BASE + "/invites/redeem", json={**body, "token": parsed.secret})
    assert resp.status == 403
    # joining with a broken invite
    for bad in ("hello world", "pm1.!!!!", invites.PREFIX + "e30"):
        resp = await client.post(BASE + "/join", json={"invite": bad})
        assert resp.status in (400, 422), await resp.text()
    # an invite for a name already taken is refused up front
    await _ok(await client.post(BASE + "/peers", json={"name": "taken"}), 201)
    assert (await client.post(BASE + "/invites", json={"name": "taken"})).status == 409


async def test_disabled_mesh_never_creates_an_interface(client):
    for path, body in (("/up", None), ("/join", {"invite": invites.Invite(
            api_url="http://127.0.0.1:9", public_key=keys.generate().public_key, secret="s" * 32,
            name="x", expires_at=4e9, mesh_cidr="10.231.200.0/29").encode()})):
        resp = await client.post(BASE + path, json=body)
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "mesh_disabled"
    resp = await client.post(BASE + "/invites", json={"name": "x"})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "mesh_disabled"
    await _ok(await client.post(BASE + "/peers", json={"name": "stored"}), 201)
    st = await _ok(await client.get(BASE))
    assert st["enabled"] is False and st["running"] is False and st["peers"][0]["name"] == "stored"


@pytest.mark.sv_config(ENABLED)
async def test_join_refuses_other_mesh_and_unreachable_issuer(client):
    other = invites.Invite(api_url="http://127.0.0.1:9", public_key=keys.generate().public_key,
                           secret="s" * 32, name="x", expires_at=4e9, mesh_cidr="10.231.201.0/24")
    resp = await client.post(BASE + "/join", json={"invite": other.encode()})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "mesh_cidr_mismatch"
    # a node whose driver cannot run fails before contacting the issuer (the token stays valid)
    same = invites.Invite(api_url="http://127.0.0.1:9", public_key=keys.generate().public_key,
                          secret="s" * 32, name="x", expires_at=4e9, mesh_cidr="10.231.200.0/29")
    resp = await client.post(BASE + "/join", json={"invite": same.encode()})
    assert resp.status == 503 and (await resp.json())["error"]["code"] == "mesh_unavailable"
    assert "no wireguard kernel module" in (await resp.json())["error"]["message"]
    expired = invites.Invite(api_url="http://127.0.0.1:9", public_key=keys.generate().public_key,
                             secret="s" * 32, name="x", expires_at=1.0, mesh_cidr="10.231.200.0/29")
    assert (await client.post(BASE + "/join", json={"invite": expired.encode()})).status == 410
    assert (await _ok(await client.get(BASE)))["peers"] == []


async def test_node_endpoints_need_a_key_and_a_signature(anon_client, readonly_client):
    calls = (("POST", "/node/peer-key", {"new_public_key": keys.generate().public_key}),
             ("POST", "/node/pq-exchange", {"encapsulation_key": "AA=="}), ("POST", "/node/pq-rotate", None),
             ("POST", "/node/leave", None), ("GET", "/node/status", None))
    for method, path, body in calls:
        resp = await anon_client.request(method, BASE + path, json=body)
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthenticated"
        # a readonly key alone is not enough: the peer's HMAC signature names and binds the call
        resp = await readonly_client.request(method, BASE + path, json=body)
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "unsigned", path


async def test_roles(readonly_client, anon_client):
    assert (await anon_client.get(BASE)).status == 401
    assert (await readonly_client.get(BASE)).status == 200
    assert (await readonly_client.post(BASE + "/invites", json={"name": "x"})).status == 403
    assert (await readonly_client.post(BASE + "/peers", json={"name": "x"})).status == 403


async def test_network_event_declared_and_openapi(client):
    events = await _ok(await client.get("/api/v1/events"))
    names = [e["name"] if isinstance(e, dict) else e for e in (events.get("items", events)
                                                                if isinstance(events, dict) else events)]
    assert "network.event" in str(names)
    spec = await _ok(await client.get("/api/v1/openapi.json"))
    assert "/api/v1/network/phantommesh" in spec["paths"]
    assert spec["paths"]["/api/v1/network/phantommesh/invites/redeem"]["post"]["x-role"] == "public"


async def test_agents_registered_and_mesh_agent_runs(sv_app, client):
    assert {"CRYPTO", "MESH", "HELIX"} <= set(sv_app.registries["agents"])
    await _ok(await client.post(BASE + "/peers", json={"name": "far"}), 201)
    agent = sv_app.registries["agents"]["MESH"]
    job = sv_app.jobs.submit("test.mesh", lambda ctx: agent.run(ctx, agent.params_model()))
    done = await wait_job(client, job.id)
    assert done["state"] == "SUCCESS", done
    assert done["result"]["unreachable"] == ["far"] and done["result"]["healthy"] is False
    helix = sv_app.registries["agents"]["HELIX"]
    job = sv_app.jobs.submit("test.helix", lambda ctx: helix.run(ctx, helix.params_model()))
    done = await wait_job(client, job.id)
    assert done["state"] == "SUCCESS" and done["result"]["total"] == 0  # plain peers are not nodes
    await _ok(await client.get("/api/v1/agents/MESH"))
    task = await _ok(await client.post("/api/v1/agents/MESH/task", json={"params": {}}), 202)
    done = await wait_job(client, task["job_id"])
    assert done["state"] == "SUCCESS" and done["result"]["peers"][0]["peer"] == "far"
    bad = await client.post("/api/v1/agents/CRYPTO/task", json={"params": {"what": "everything"}})
    assert bad.status == 422


class RecordedDevice:
    """Replays device states whose handshake ages take minutes to occur for real (180 s): the
    only stand-in in these tests, for the clock, not for WireGuard (the namespace tests run it)."""

    name = "recorded"

    def __init__(self) -> None:
        self.state = None

    def available(self):
        return True, "recorded"

    async def show(self, ifname):
        return self.state

    async def exists(self, ifname):
        return True

    async def configure(self, ifname, **kw):
        return None

    async def down(self, ifname):
        return None


async def test_monitor_publishes_up_and_down_on_transitions(sv_app, client):
    from sigmavault.testing import next_event
    from sigmavault_phantommesh.drivers.base import DeviceState, PeerState

    peer = await _ok(await client.post(BASE + "/peers", json={"name": "far"}), 201)
    from sigmavault_phantommesh.service import MeshService

    svc = sv_app.services[MeshService]
    device = RecordedDevice()
    svc.driver, svc.running = device, True
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["network.*"]})
    await asyncio.sleep(0.2)
    try:
        for age, kind in ((5, "peer.up"), (200, "peer.down"), (1, "peer.up")):
            device.state = DeviceState(ifname="pmunit0", peers=[PeerState(
                public_key=peer["public_key"], last_handshake=time.time() - age, rx_bytes=1, tx_bytes=2)])
            report = await svc.check_health()
            assert report["peers"][0]["up"] is (kind == "peer.up")
            ev = await next_event(ws, lambda e: e["type"] == "network.event"
                                  and e["data"]["kind"] in ("peer.up", "peer.down"), timeout=5)
            assert ev["data"]["kind"] == kind and ev["data"]["peer"] == "far"
            # no transition, no event
            await svc.check_health()
        st = await _ok(await client.get(BASE))
        assert st["peers"][0]["up"] and st["peers"][0]["last_handshake_age"] < 5
    finally:
        await ws.close()


async def test_security_check_reports_a_readable_key_store(sv_app):
    db = sv_app.data_dir / "sigmavault.db"

    async def findings():
        return [f for batch in await sv_app.plugins.acall("security_checks", app=sv_app)
                for f in batch if f["id"].startswith("phantommesh.")]

    assert await findings() == []
    mode = db.stat().st_mode
    db.chmod(0o644)
    try:
        (f,) = await findings()
        assert f["id"] == "phantommesh.key_file_mode" and f["severity"] == "high"
    finally:
        db.chmod(mode & 0o777)


async def test_operations_are_named_methods_too(sv_app, client):
    """Other plugins reach the same operations by name (app.call), with models back as dicts."""
    from sigmavault_phantommesh.membership import InviteService
    from sigmavault_phantommesh.rotation import RotationService
    from sigmavault_phantommesh.service import MeshService

    assert sv_app.services[InviteService].mesh is sv_app.services[MeshService]
    assert sv_app.services[RotationService].mesh is sv_app.services[MeshService]
    peer = await sv_app.call("mesh.peers.create", body={"name": "laptop"})
    assert peer["name"] == "laptop" and keys.is_valid(peer["public_key"]) and not peer["node"]
    assert [p["name"] for p in await sv_app.call("mesh.peers.list")] == ["laptop"]
    export = await sv_app.call("mesh.peers.config", name="laptop")
    assert export["filename"] == "pmunit0.conf" and "Endpoint = 192.0.2.10:51820" in export["config"]
    st = await sv_app.call("mesh.status")
    assert st["peers"][0]["name"] == "laptop" and st["running"] is False
    await sv_app.call("mesh.peers.delete", name="laptop")
    assert (await _ok(await client.get(BASE + "/peers"))) == []
    assert sv_app.has_method("mesh.rotate") and not sv_app.has_method("mesh.invites.redeem")
