"""Done-when test: two real `sigmavault serve` daemons, each in its own network namespace, join
through an invite over the API, handshake, carry traffic, rotate keys and PSKs, and clean up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import aiohttp
from pyroute2 import AsyncIPRoute

from pm_support import UNNEEDED_PLUGINS
from sigmavault_phantommesh.netns_harness import (Node, forward, namespace_pair, namespaces, node_config,
                                                  require_netns, spoke)
from sigmavault.testing import next_event, require_tool, wait_job
from sigmavault_phantommesh import invites, keys
from sigmavault_phantommesh.drivers import KernelDriver

MESH = "10.231.100.0/24"


def _config(node: Node, name: str, ifname: str, port: int) -> str:
    disabled = ", ".join(f'"{p}"' for p in UNNEEDED_PLUGINS)
    return node_config(node, name, ifname, port, MESH,
                       extra=f"pq_rotate_seconds = 6\n\n[plugins]\ndisabled = [{disabled}]\n")


async def _json(resp: aiohttp.ClientResponse, status: int):
    body = await resp.json() if resp.content_type == "application/json" else await resp.text()
    assert resp.status == status, body
    return body


async def _wait(session: aiohttp.ClientSession, pred, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        st = await _json(await session.get("/api/v1/network/phantommesh"), 200)
        if pred(st):
            return st
        assert time.monotonic() < deadline, f"condition not met: {st}"
        await asyncio.sleep(0.5)


async def _job(session: aiohttp.ClientSession, job: dict, timeout: float = 60.0) -> dict:
    done = await wait_job(session, job["id"], timeout)
    assert done["state"] == "SUCCESS", done
    return done


async def _longest_outage(node, address: str, seconds: float = 25) -> float:
    """Ping ``address`` from ``node`` every 0.5 s for ``seconds``; the longest run without replies."""
    longest, down_since = 0.0, None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sent = time.monotonic()
        if await node.ping(address, count=1, deadline=0.5):
            down_since = None
        else:
            down_since = sent if down_since is None else down_since
            longest = max(longest, time.monotonic() - down_since)
        await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - sent)))
    return longest


def _fresh() -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(force_close=True)  # a restarted daemon leaves no stale connection


async def _routes(ns: str) -> list[tuple]:
    async with AsyncIPRoute(netns=ns) as ipr:
        names = {link["index"]: link.get("ifname") async for link in await ipr.link("dump")}
        return [(r.get("dst"), r["dst_len"], names.get(r.get("oif")))
                async for r in await ipr.route("dump")]


async def _links(ns: str) -> list[str]:
    async with AsyncIPRoute(netns=ns) as ipr:
        return [link.get("ifname") async for link in await ipr.link("dump")]


async def test_two_nodes_join_handshake_traffic_rotation(sv_daemon):
    require_netns()
    before = set(namespaces())
    async with namespace_pair("10.231.8") as pair:
        tag = pair.a.ns[-6:]
        nodes = {}
        for name, node, ifname in (("alpha", pair.a, f"pma{tag}"), ("beta", pair.b, f"pmb{tag}")):
            d = sv_daemon(name=name, start=False, netns=node.ns, host="0.0.0.0")
            d.config_path.write_text(_config(node, name, ifname, d.port))
            await asyncio.to_thread(d.start, 30)
            nodes[name] = (d, node, ifname)
        (da, na, if_a), (db, nb, if_b) = nodes["alpha"], nodes["beta"]
        async with forward(na.ns, da.port) as url_a, forward(nb.ns, db.port) as url_b:
            hdr_a = {"Authorization": f"Bearer {da.admin_key}"}
            hdr_b = {"Authorization": f"Bearer {db.admin_key}"}
            async with aiohttp.ClientSession(url_a, headers=hdr_a, connector=_fresh()) as a, \
                    aiohttp.ClientSession(url_b, headers=hdr_b, connector=_fresh()) as b:
                st_a = await _json(await a.get("/api/v1/network/phantommesh"), 200)
                assert st_a["running"] is False and st_a["peers"] == []
                assert st_a["drivers"]["userspace"].startswith("available")
                kernel_ok, why = KernelDriver().available()
                assert st_a["drivers"]["kernel"] == f"{'available' if kernel_ok else 'unavailable'}: {why}"
                assert st_a["address"] == "10.231.100.1/24"
                ws = await a.ws_connect("/api/v1/ws")
                await ws.send_json({"type": "client.subscribe", "events": ["network.*"]})

                # alpha invites, beta redeems through its own API (beta's daemon calls alpha's)
                inv = await _json(await a.post("/api/v1/network/phantommesh/invites",
                                               json={"name": "beta"}), 201)
                joined = await _json(await b.post("/api/v1/network/phantommesh/join",
                                                  json={"invite": inv["invite"]}), 201)
                assert joined["name"] == "alpha" and joined["psk_mode"] == "pq"
                assert joined["address"] == "10.231.100.1"
                users = await _json(await a.get("/api/v1/auth/users"), 200)
                assert [u["role"] for u in users if u["username"].startswith("phantommesh-")] == ["readonly"]
                # an issuer that does not answer is a 502 on the joiner, nothing is recorded
                dead = invites.Invite(api_url=f"http://{na.ip}:9", public_key=keys.generate().public_key,
                                      secret="s" * 32, name="x", expires_at=4e9, mesh_cidr=MESH)
                resp = await b.post("/api/v1/network/phantommesh/join", json={"invite": dead.encode()})
                assert resp.status == 502 and (await resp.json())["error"]["code"] == "peer_unreachable"
                # the token is one-time
                again = await b.post("/api/v1/network/phantommesh/join", json={"invite": inv["invite"]})
                assert again.status == 409

                st_b = await _wait(b, lambda s: s["peers"] and s["peers"][0]["up"])
                assert st_b["running"] and st_b["driver"] == "userspace"
                assert st_b["address"] == "10.231.100.2/24"
                assert st_b["interface"] == if_b and st_b["listen_port"] == 51820
                st_a = await _wait(a, lambda s: s["peers"] and s["peers"][0]["up"])
                pa = st_a["peers"][0]
                assert pa["name"] == "beta" and pa["allowed_ips"] == ["10.231.100.2/32"]
                assert pa["endpoint"] == f"{nb.ip}:51820" and pa["preshared_key"]
                assert pa["last_handshake_age"] < 30
                ev = await next_event(ws, lambda e: e["type"] == "network.event"
                                      and e["data"]["kind"] == "peer.up", timeout=15)
                assert ev["data"]["peer"] == "beta"

                # real traffic through the tunnel: ping across mesh addresses, counters rise
                rx0, tx0 = pa["rx_bytes"], pa["tx_bytes"]
                assert await nb.ping("10.231.100.1", count=5)
                assert await na.ping("10.231.100.2", count=5)
                pa = (await _json(await a.get("/api/v1/network/phantommesh/peers/beta"), 200))
                assert pa["rx_bytes"] > rx0 + 5 * 84 and pa["tx_bytes"] > tx0 + 5 * 84

                # the post-quantum PSK is rotated periodically (here every 6 s) and the tunnel stays up
                joined_at = pa["psk_rotated_at"]
                st_b = await _wait(b, lambda s: s["peers"][0]["psk_rotated_at"] > joined_at + 1)
                assert st_b["peers"][0]["psk_mode"] == "pq"
                assert await nb.ping("10.231.100.1", count=3, deadline=20)

                # allowed IPs outside the mesh CIDR get a route through the interface
                await _json(await a.patch("/api/v1/network/phantommesh/peers/beta", json={
                    "allowed_ips": ["10.231.100.2/32", "10.231.150.0/24"]}), 200)
                assert ("10.231.150.0", 24, if_a) in await _routes(na.ns)
                assert (await _json(await a.get("/api/v1/network/phantommesh/peers/beta"), 200)
                        )["allowed_ips"] == ["10.231.100.2/32", "10.231.150.0/24"]
                await _json(await a.patch("/api/v1/network/phantommesh/peers/beta", json={
                    "allowed_ips": ["10.231.100.2/32"]}), 200)
                assert ("10.231.150.0", 24, if_a) not in await _routes(na.ns)

                # HELIX: beta reads alpha's status over the mesh (TCP through the tunnel)
                fed = await _json(await b.get("/api/v1/network/phantommesh/federation"), 200)
                assert fed[0]["reachable"] and fed[0]["via"].startswith("http://10.231.100.1:")
                assert fed[0]["status"]["node_name"] == "alpha"
                # with the readonly key alpha gave beta, beta reads alpha's own APIs over the mesh
                assert "storage" in fed[0] and "system" in fed[0]

                # the agents through the agent runtime's API (all bundled plugins are installed)
                await _json(await b.get("/api/v1/agents/HELIX"), 200)
                for agent, check in (
                        ("HELIX", lambda r: r["reachable"] == 1 and r["nodes"][0]["peer"] == "alpha"),
                        ("MESH", lambda r: r["healthy"] and r["peers"][0]["up"]),
                        ("CRYPTO", lambda r: r["psk"][0]["peer"] == "alpha")):
                    task = await _json(await b.post(f"/api/v1/agents/{agent}/task",
                                                    json={"params": {}}), 202)
                    done = await _job(b, {"id": task["job_id"]})
                    assert check(done["result"]), (agent, done["result"])
                pa = await _json(await a.get("/api/v1/network/phantommesh/peers/beta"), 200)

                # rotation: new X25519 key on alpha and a fresh ML-KEM PSK; tunnel stays up
                old_key = st_a["public_key"]
                psk_at = pa["psk_rotated_at"]
                probing = asyncio.create_task(_longest_outage(nb, "10.231.100.1"))
                await asyncio.sleep(2)
                job = await _json(await a.post("/api/v1/network/phantommesh/rotate",
                                               json={"what": "all"}), 202)
                result = (await _job(a, job))["result"]
                assert result["keys"]["peers_updated"] == ["beta"]
                new_key = result["keys"]["public_key"]
                assert new_key != old_key
                seen_by_b = await _json(await b.get("/api/v1/network/phantommesh/peers/alpha"), 200)
                assert seen_by_b["public_key"] == new_key
                assert seen_by_b["psk_rotated_at"] > psk_at
                assert await nb.ping("10.231.100.1", count=3, deadline=20)
                st_a = await _wait(a, lambda s: s["public_key"] == new_key and s["peers"][0]["up"]
                                   and s["peers"][0]["last_handshake_age"] < 15)
                # pinged every 0.5 s through the rotation: at most a few handshake retries' worth
                # of loss (WireGuard retries every 5 s; ~4 s measured here), and the tunnel comes
                # back by itself, never rebuilt
                outage = await probing
                assert outage <= 20, f"no echo replies for {outage:.1f} s around the rotation"

                # a restarted daemon brings its interface and peers back from its state DB
                beta_key = (await _json(await b.get("/api/v1/network/phantommesh"), 200))["public_key"]
                assert await asyncio.to_thread(db.stop) == 0, db.log()
                assert not os.path.exists(f"/var/run/wireguard/{if_b}.sock")
                await asyncio.to_thread(db.start, 30)
                st_b = await _wait(b, lambda s: s["running"] and s["peers"][0]["up"]
                                   and s["peers"][0]["last_handshake_age"] < 10)
                assert st_b["public_key"] == beta_key and st_b["address"] == "10.231.100.2/24"
                assert await nb.ping("10.231.100.1", count=3, deadline=20)

                # removal on beta tells alpha; the tunnel is gone on both sides
                resp = await b.delete("/api/v1/network/phantommesh/peers/alpha")
                assert resp.status == 204, await resp.text()
                await _wait(a, lambda s: s["peers"] == [], timeout=10)
                users = await _json(await a.get("/api/v1/auth/users"), 200)
                assert not [u for u in users if u["username"].startswith("phantommesh-")]
                assert not await nb.ping("10.231.100.1", count=1, deadline=3)
                await ws.close()

        for d, node, ifname in nodes.values():
            assert await asyncio.to_thread(d.stop) == 0, d.log()
            assert ifname not in await _links(node.ns)
            assert not os.path.exists(f"/var/run/wireguard/{ifname}.sock")
    assert set(namespaces()) == before


async def test_exported_wg_quick_config_connects_a_plain_peer(sv_daemon, tmp_path):
    """A laptop-style peer added on a node, its export brought up by the real `wg-quick` (which
    falls back to wireguard-go here) in a third namespace: handshake and ping to the node."""
    require_netns()
    require_tool("wg-quick", "wg")
    before = set(namespaces())
    async with namespace_pair("10.231.8") as pair:
        tag = pair.a.ns[-6:]
        ifname, lap_if = f"pma{tag}", f"pml{tag}"
        d = sv_daemon(name="alpha", start=False, netns=pair.a.ns, host="0.0.0.0")
        d.config_path.write_text(_config(pair.a, "alpha", ifname, d.port))
        await asyncio.to_thread(d.start, 30)
        async with spoke(pair.a) as laptop, forward(pair.a.ns, d.port) as url:
            async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {d.admin_key}"},
                                             connector=_fresh()) as a:
                await _json(await a.post("/api/v1/network/phantommesh/up"), 200)
                peer = await _json(await a.post("/api/v1/network/phantommesh/peers", json={
                    "name": "laptop", "generate_psk": True, "keepalive": 0}), 201)
                exp = await _json(await a.get("/api/v1/network/phantommesh/peers/laptop/config"), 200)
                assert f"Endpoint = {pair.a.ip}:51820" in exp["config"]
                conf = tmp_path / f"{lap_if}.conf"
                conf.write_text(exp["config"])
                conf.chmod(0o600)
                try:
                    await laptop.run("wg-quick", "up", str(conf), timeout=60)
                    assert await laptop.ping("10.231.100.1", count=3, deadline=20)
                    st = await _wait(a, lambda s: s["peers"][0]["up"])
                    p = st["peers"][0]
                    assert p["name"] == "laptop" and p["endpoint"].startswith(laptop.ip + ":")
                    assert p["rx_bytes"] > 0 and p["address"] == peer["address"]
                finally:
                    await laptop.run("wg-quick", "down", str(conf), timeout=60, check=False)
                assert not os.path.exists(f"/var/run/wireguard/{lap_if}.sock")
        assert await asyncio.to_thread(d.stop) == 0, d.log()
    assert set(namespaces()) == before


async def test_three_nodes_full_mesh_by_invites(sv_daemon):
    """alpha invites beta and gamma; beta then invites gamma, which keeps its mesh address: a
    triangle in which every pair has its own tunnel (gamma reaches beta's underlay through alpha's
    namespace, which routes)."""
    require_netns()
    require_tool("sysctl")
    before = set(namespaces())
    async with namespace_pair("10.231.8") as pair, spoke(pair.a, "10.231.9") as gnode:
        await pair.a.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        async with AsyncIPRoute(netns=pair.b.ns) as ipr:
            await ipr.route("add", dst="10.231.9.0", dst_len=24, gateway=pair.a.ip)
        tag = pair.a.ns[-6:]
        spec = (("alpha", pair.a), ("beta", pair.b), ("gamma", gnode))
        daemons, sessions = {}, {}
        async with contextlib.AsyncExitStack() as stack:
            for name, node in spec:
                d = sv_daemon(name=name, start=False, netns=node.ns, host="0.0.0.0")
                d.config_path.write_text(_config(node, name, f"pm{name[0]}{tag}", d.port))
                await asyncio.to_thread(d.start, 30)
                url = await stack.enter_async_context(forward(node.ns, d.port))
                daemons[name] = d
                sessions[name] = await stack.enter_async_context(aiohttp.ClientSession(
                    url, headers={"Authorization": f"Bearer {d.admin_key}"}, connector=_fresh()))
            a, b, g = sessions["alpha"], sessions["beta"], sessions["gamma"]

            async def invite(issuer, joiner, name):
                inv = await _json(await issuer.post("/api/v1/network/phantommesh/invites",
                                                    json={"name": name}), 201)
                return await _json(await joiner.post("/api/v1/network/phantommesh/join",
                                                     json={"invite": inv["invite"]}), 201)

            await invite(a, b, "beta")
            await invite(a, g, "gamma")
            assert (await _json(await g.get("/api/v1/network/phantommesh"), 200))["address"] == "10.231.100.3/24"
            joined = await invite(b, g, "gamma")
            assert joined["name"] == "beta" and joined["address"] == "10.231.100.2"
            st_g = await _wait(g, lambda s: len(s["peers"]) == 2 and all(p["up"] for p in s["peers"]))
            assert st_g["address"] == "10.231.100.3/24"  # a member keeps its address
            st_b = await _json(await b.get("/api/v1/network/phantommesh"), 200)
            assert {p["name"]: p["address"] for p in st_b["peers"]} == {"alpha": "10.231.100.1",
                                                                        "gamma": "10.231.100.3"}
            # gamma reaches beta over their own tunnel, not through alpha
            rx_alpha = {p["name"]: p["rx_bytes"] for p in st_g["peers"]}["alpha"]
            assert await gnode.ping("10.231.100.2", count=5)
            st_g = await _json(await g.get("/api/v1/network/phantommesh"), 200)
            peers = {p["name"]: p for p in st_g["peers"]}
            assert peers["beta"]["tx_bytes"] > 5 * 84 and peers["alpha"]["rx_bytes"] < rx_alpha + 5 * 84
            fed = await _json(await g.get("/api/v1/network/phantommesh/federation"), 200)
            assert sorted(n["peer"] for n in fed if n["reachable"]) == ["alpha", "beta"]
        for d in daemons.values():
            assert await asyncio.to_thread(d.stop) == 0, d.log()
    assert set(namespaces()) == before
