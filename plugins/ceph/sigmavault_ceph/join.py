"""A second node joins a cluster bootstrapped on another SigmaVault node, over PhantomMesh.

Node A (which bootstrapped the cluster with its monitor on A's mesh address) issues a join token:
the fsid, the cluster name, the monitor address and A's mesh node name, plus a one-time id. The
token holds no key. Node B, joined to A's mesh, is given the token and asks A for the cluster's
``client.bootstrap-osd`` key with a request signed with the pair's mesh secret
(``mesh.node.request``) to A's mesh address, so the key only travels through the WireGuard tunnel;
A hands it out once per token, to the peer the token names. B then creates its OSDs with that key
(``ceph osd new`` … ``ceph-osd --mkfs``) under ``<data_dir>/ceph/joined/<fsid>``, with its
public address on the mesh and its OSDs in a CRUSH host bucket named after its mesh node, and
supervises them. A makes replicated pools spread over hosts from then on (a ``replicated_host``
rule becomes the default CRUSH rule when the first token is issued).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sigmavault import operation
from sigmavault.commands import run
from sigmavault.errors import APIError, bad_request, conflict, not_found
from sigmavault.jobs import Job, JobContext

from .bootstrap import MARKER, LocalCluster, Spec
from .service import CephService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.ceph")
TAGS = ["ceph"]
TOKEN_PREFIX = "svceph1."
HOST_RULE = "replicated_host"
BOOTSTRAP_OSD = "bootstrap-osd"


class JoinTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    peer: str | None = Field(None, max_length=64, description="the mesh node that may use it "
                             "(default: any node peer)")
    ttl: int = Field(3600, ge=60, le=7 * 86400, description="seconds until it expires")


class JoinToken(BaseModel):
    token: str = Field(description="give it to the joining node's POST /ceph/join; holds no key")
    fsid: str
    mon: str = Field(description="the monitor's address (on the mesh)")
    node: str = Field(description="this node's mesh name, which the joining node asks for the key")
    peer: str | None
    expires: float


class JoinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(..., max_length=4096)
    osds: int = Field(1, ge=1, le=8, description="BlueStore OSDs on sparse files on this node")
    osd_size: int = Field(8 << 30, ge=2 << 30, le=1 << 44, description="bytes per OSD file")


class NodeJoinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(..., max_length=128)


class JoinedCluster(BaseModel):
    fsid: str
    name: str
    mon: str
    node: str = Field(description="the mesh node that runs the monitor")
    root: str
    address: str = Field(description="this node's public address in the cluster (on the mesh)")
    crush_host: str
    osds: dict[str, int | None] = Field(description="OSD id → pid (None: stopped)")


@dataclass
class Pending:
    fsid: str
    peer: str | None
    expires: float


def encode_token(payload: dict[str, Any]) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    if not token.startswith(TOKEN_PREFIX):
        raise bad_request("not a SigmaVault Ceph join token", code="bad_token", field="token")
    raw = token[len(TOKEN_PREFIX):]
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        for key in ("fsid", "name", "mon", "node", "id"):
            if not isinstance(data[key], str):
                raise TypeError(key)
    except (ValueError, KeyError, TypeError):
        raise bad_request("the join token is damaged", code="bad_token", field="token") from None
    return dict(data)


def mon_ip(mon: str) -> str:
    """``v2:10.0.0.1:3300`` → ``10.0.0.1``."""
    host = mon.split(":", 1)[1] if mon.startswith(("v1:", "v2:")) else mon
    return host.rsplit(":", 1)[0].strip("[]")


def _digest(token_id: str) -> str:
    return hashlib.sha256(token_id.encode()).hexdigest()


class CephJoinService:
    """``app.services[CephJoinService]``: join tokens (node A) and the OSDs this node contributes
    to clusters of other nodes (node B)."""

    def __init__(self, app: SigmaVault, ceph: CephService) -> None:
        self.app = app
        self.ceph = ceph
        self.root = ceph.root / "joined"
        self.pending: dict[str, Pending] = {}       # sha256(token id) → what it grants
        self.joined: dict[str, LocalCluster] = {}

    async def start(self) -> None:
        if not self.root.is_dir():
            return
        for marker in sorted(self.root.glob(f"*/{MARKER}")):
            local = LocalCluster.load(marker.parent)
            self.joined[local.fsid] = local
            try:
                await local.start(supervised=True)
            except Exception as exc:
                log.warning("OSDs of joined cluster %s not started: %s", local.fsid, exc)

    async def stop(self) -> None:
        for local in self.joined.values():
            await local.stop()

    # --- node A: tokens ----------------------------------------------------------------------

    async def _mesh(self) -> dict[str, Any]:
        if not self.app.has_method("mesh.status"):
            raise APIError(503, "mesh_unavailable", "PhantomMesh is not installed on this node")
        status: dict[str, Any] = await self.app.call("mesh.status")
        if not status.get("address"):
            raise conflict("this node has no mesh address", code="not_on_mesh")
        return status

    async def _host_rule(self, local: LocalCluster) -> None:
        """Replicated pools made from now on keep each copy on another host."""
        cli = local.cli()
        rules = await cli.json("osd", "crush", "rule", "ls", what="crush rule ls")
        if HOST_RULE not in (rules or []):
            await cli.raw("osd", "crush", "rule", "create-replicated", HOST_RULE, "default", "host",
                          what="crush rule create-replicated")
        rule = await cli.json("osd", "crush", "rule", "dump", HOST_RULE, what="crush rule dump")
        await cli.raw("config", "set", "global", "osd_pool_default_crush_rule",
                      str(rule["rule_id"]), what="config set osd_pool_default_crush_rule")

    @operation("ceph.join_token.create", post="/ceph/clusters/{fsid}/join-tokens",
               body=JoinTokenBody, response=JoinToken, status=201, tags=TAGS, errors=[409, 503])
    async def create_token(self, fsid: str, body: JoinTokenBody) -> JoinToken:
        """A one-time token for another mesh node to add its OSDs to this cluster (bootstrapped
        here, monitor on this node's mesh address). The token holds no key: the joining node
        fetches the ``client.bootstrap-osd`` key over the mesh with it."""
        cluster = self.ceph.backend.clusters.get(fsid)
        if cluster is None:
            raise not_found("cluster", fsid)
        if cluster.local is None or cluster.local.member:
            raise bad_request(f"cluster {fsid} was not bootstrapped on this node",
                              code="not_bootstrapped")
        local = cluster.local
        mesh = await self._mesh()
        mon = str(local.meta["mon_addr"])
        own = str(mesh["address"]).split("/")[0]
        if mon_ip(mon) != own:
            raise conflict(f"the monitor listens on {mon_ip(mon)}, not on this node's mesh address "
                           f"{own}: bootstrap the cluster with address {own}", code="mon_not_on_mesh")
        if body.peer is not None and body.peer not in {p["name"] for p in mesh["peers"] if p["node"]}:
            raise bad_request(f"{body.peer} is not a SigmaVault node of the mesh", code="unknown_peer",
                              field="peer")
        await local.cli().raw("auth", "get-or-create", f"client.{BOOTSTRAP_OSD}", "mon",
                              "allow profile bootstrap-osd", what="auth get-or-create bootstrap-osd")
        await self._host_rule(local)
        token_id = secrets.token_urlsafe(24)
        now = time.time()
        self.pending = {k: v for k, v in self.pending.items() if v.expires > now}
        self.pending[_digest(token_id)] = Pending(fsid=fsid, peer=body.peer, expires=now + body.ttl)
        self.app.audit("ceph.join_token.create", fsid, details={"peer": body.peer, "ttl": body.ttl})
        token = encode_token({"fsid": fsid, "name": local.name, "mon": mon,
                              "node": mesh["node_name"], "id": token_id})
        return JoinToken(token=token, fsid=fsid, mon=mon, node=mesh["node_name"], peer=body.peer,
                         expires=now + body.ttl)

    @operation(post="/ceph/node/join", body=NodeJoinBody, response=dict, role="readonly",
               tags=TAGS, errors=[404, 503],
               summary="The bootstrap-osd key for a join token (mesh node, signed)")
    async def node_join(self, request: web.Request, body: NodeJoinBody) -> dict[str, Any]:
        if not self.app.has_method("mesh.node.verify"):
            raise APIError(503, "mesh_unavailable", "PhantomMesh is not installed on this node")
        peer = str((await self.app.call("mesh.node.verify", request=request))["peer"])
        key = _digest(body.id)
        grant = self.pending.get(key)
        if grant is None or grant.expires < time.time():
            raise APIError(403, "bad_token", "the join token is unknown, used or expired")
        if grant.peer is not None and grant.peer != peer:
            raise APIError(403, "bad_token", f"the join token is for {grant.peer}, not {peer}")
        cluster = self.ceph.backend.clusters.get(grant.fsid)
        if cluster is None or cluster.local is None:
            raise not_found("cluster", grant.fsid)
        del self.pending[key]
        auth = await cluster.local.cli().json("auth", "get", f"client.{BOOTSTRAP_OSD}",
                                              what="auth get bootstrap-osd")
        self.app.audit("ceph.join", grant.fsid, details={"peer": peer})
        return {"fsid": grant.fsid, "name": cluster.local.name, "mon": cluster.local.meta["mon_addr"],
                "client": BOOTSTRAP_OSD, "key": auth[0]["key"], "peer": peer}

    # --- node B: joining ---------------------------------------------------------------------

    @operation("ceph.join", post="/ceph/join", body=JoinBody, job=True, tags=TAGS,
               errors=[409, 503])
    async def join(self, body: JoinBody) -> Job:
        """Add BlueStore OSDs on sparse files of this node to the cluster of another mesh node,
        with its join token; a job. Needs ``[ceph] allow_bootstrap`` (it starts daemons and makes
        big files)."""
        if not self.ceph.config.allow_bootstrap:
            raise APIError(409, "bootstrap_disabled", "running Ceph daemons on this host is off: "
                           "set [ceph] allow_bootstrap = true to allow it")
        token = decode_token(body.token)
        if token["fsid"] in self.joined or token["fsid"] in self.ceph.backend.clusters:
            raise conflict(f"this node is already part of cluster {token['fsid']}",
                           code="already_joined")
        mesh = await self._mesh()
        peer = next((p for p in mesh["peers"] if p["name"] == token["node"]), None)
        if peer is None or not peer["node"]:
            raise bad_request(f"{token['node']} is not a SigmaVault node of this mesh: join its "
                              "mesh first", code="unknown_peer", field="token")
        if peer["address"] is None or mon_ip(token["mon"]) != str(peer["address"]).split("/")[0]:
            raise bad_request(f"the monitor {token['mon']} is not on {token['node']}'s mesh address",
                              code="mon_not_on_mesh", field="token")
        address = str(mesh["address"]).split("/")[0]
        ipaddress.ip_address(address)
        spec = Spec(name=token["name"], osds=body.osds, osd_size=body.osd_size, mds=0,
                    address=address, crush_host=mesh["node_name"])

        async def job(ctx: JobContext) -> dict[str, Any]:
            ctx.progress(percent=5, description=f"asking {token['node']} for the key over the mesh")
            r = await self.app.call("mesh.node.request", peer=token["node"], method="POST",
                                    path="/api/v1/ceph/node/join",
                                    body=json.dumps({"id": token["id"]}).encode(), timeout=30.0)
            if r["status"] >= 400:
                try:
                    err = json.loads(r["body"])["error"]
                except (ValueError, KeyError, TypeError):
                    err = {"code": "peer_error", "message": bytes(r["body"])[:200].decode(errors="replace")}
                raise APIError(r["status"] if r["status"] < 500 else 502, err.get("code", "peer_error"),
                               f"{token['node']}: {err.get('message', '')}")
            grant = json.loads(r["body"])
            if grant["fsid"] != token["fsid"]:
                raise APIError(502, "peer_error", f"{token['node']} answered for another cluster")
            root = self.root / grant["fsid"]
            if (root / MARKER).exists():
                raise conflict(f"this node is already part of cluster {grant['fsid']}",
                               code="already_joined")
            local = LocalCluster(root=root, name=spec.name, supervised=True, meta={
                "name": spec.name, "fsid": grant["fsid"], "mon_addr": grant["mon"], "osds": [],
                "mds": [], "osd_blocks": {}, "role": "member", "client_id": grant["client"],
                "mesh_node": token["node"], "spec": dict(vars(spec))})
            self.joined[local.fsid] = local
            try:
                await self._write_member(local, spec, grant["key"])
                for i in range(body.osds):
                    ctx.progress(percent=10 + 80 * i // body.osds, description=f"OSD {i + 1}")
                    await local.add_osd(spec, supervised=True)
                await local.wait_own_osds(120)
            except BaseException:
                await self._undo(local)
                raise
            return self._row(local).model_dump()

        self.app.audit("ceph.join", token["fsid"], details={"node": token["node"], "osds": body.osds})
        return self.app.jobs.submit("ceph.join", job, params={"fsid": token["fsid"],
                                                              "node": token["node"],
                                                              "osds": body.osds},
                                    lock=f"ceph-join:{token['fsid']}",
                                    description=f"join Ceph cluster {token['fsid']}")

    async def _write_member(self, local: LocalCluster, spec: Spec, key: str) -> None:
        """The member's directory: its conf (public address on the mesh, CRUSH host) and the
        bootstrap-osd keyring (0600)."""
        for sub in ("run", "log", "osd"):
            (local.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(local.root, 0o700)
        await run(["ceph-authtool", "--create-keyring", str(local.keyring), "--name",
                   f"client.{local.client_id}", "--add-key", key])
        os.chmod(local.keyring, 0o600)
        local._write_conf(spec)
        local._save()

    async def _undo(self, local: LocalCluster) -> None:
        """A failed join leaves nothing: daemons stopped, OSD ids that never came up removed from
        the cluster (``osd purge-new``, which the bootstrap-osd key may do), files gone."""
        await local.stop()
        for osd_id in local.meta["osd_blocks"]:
            await local.cli(timeout=20).raw("osd", "purge-new", f"osd.{osd_id}",
                                            "--yes-i-really-mean-it", what="osd purge-new",
                                            check=False)
        self.joined.pop(local.fsid, None)
        shutil.rmtree(local.root, ignore_errors=True)

    # --- node B: its part --------------------------------------------------------------------

    def _row(self, local: LocalCluster) -> JoinedCluster:
        spec = local.meta["spec"]
        return JoinedCluster(
            fsid=local.fsid, name=local.name, mon=local.meta["mon_addr"],
            node=local.meta["mesh_node"], root=str(local.root), address=spec["address"],
            crush_host=spec["crush_host"],
            osds={str(i): (d.pid if (d := local.daemons.get(f"osd.{i}")) else None)
                  for i in local.meta["osds"]})

    def _joined(self, fsid: str) -> LocalCluster:
        local = self.joined.get(fsid)
        if local is None:
            raise not_found("joined cluster", fsid)
        return local

    @operation("ceph.joined.list", get="/ceph/joined", response=list[JoinedCluster], tags=TAGS)
    async def list_joined(self) -> list[JoinedCluster]:
        """Clusters of other nodes this node contributes OSDs to."""
        return [self._row(x) for x in self.joined.values()]

    @operation("ceph.joined.stop", post="/ceph/joined/{fsid}/stop", response=JoinedCluster,
               status=200, tags=TAGS)
    async def stop_joined(self, fsid: str) -> JoinedCluster:
        """Stop this node's OSDs of a joined cluster (maintenance; the cluster sees them down)."""
        local = self._joined(fsid)
        await local.stop()
        self.app.audit("ceph.joined.stop", fsid)
        return self._row(local)

    @operation("ceph.joined.start", post="/ceph/joined/{fsid}/start", response=JoinedCluster,
               status=200, tags=TAGS, errors=[504])
    async def start_joined(self, fsid: str) -> JoinedCluster:
        """Start this node's OSDs of a joined cluster again; answers once they are up."""
        local = self._joined(fsid)
        await local.start(supervised=True, wait=120)
        self.app.audit("ceph.joined.start", fsid)
        return self._row(local)
