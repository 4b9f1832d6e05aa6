"""Hook implementations of PhantomMesh (entry point ``sigmavault: phantommesh``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl
from sigmavault.hookspecs import Tool

from .agents import AGENTS
from .config import MeshConfig
from .drivers import KernelDriver, UserspaceDriver
from .membership import InviteService
from .models import NetworkEvent
from .rotation import RotationService
from .service import MeshService
from .store import ALL_MIGRATIONS

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("phantommesh", MeshConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("phantommesh", ALL_MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("network.event", NetworkEvent, "PhantomMesh: peer up/down, peers added/removed, "
             "key and pre-shared key rotations, interface up/down")


@hookimpl
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    mesh = MeshService(app, app.config.section("phantommesh"))
    register(mesh)
    register(InviteService(app, mesh))
    register(RotationService(app, mesh))


@hookimpl
def register_network_drivers(register: Callable[[Any], None]) -> None:
    register(KernelDriver())
    register(UserspaceDriver())


@hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    for agent in AGENTS:
        register(agent)


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="phantommesh", title="PhantomMesh", path="/network/phantommesh", icon="network",
             section="network")


@hookimpl
def security_checks(app: "SigmaVault") -> list[dict[str, str]]:
    findings = []
    db_path = app.data_dir / "sigmavault.db"
    if db_path.exists() and db_path.stat().st_mode & 0o077:
        findings.append({"id": "phantommesh.key_file_mode", "severity": "high",
                         "title": "WireGuard private key readable by others",
                         "detail": f"{db_path} holds the mesh private key and is not mode 0600"})
    svc = app.services.get(MeshService)
    if svc is not None:
        for p in svc.store.peers():
            if p.is_node and p.psk_mode == "none" and svc.cfg.post_quantum:
                findings.append({"id": f"phantommesh.no_pq_psk.{p.name}", "severity": "low",
                                 "title": f"peer {p.name} has no post-quantum pre-shared key",
                                 "detail": "rotate with POST /api/v1/network/phantommesh/rotate"})
    return findings


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    for tool in (
        Tool("wg", "the PhantomMesh VPN cannot configure WireGuard", ("wg", "--version")),
        Tool("wireguard-go", "PhantomMesh cannot run where the kernel has no WireGuard module",
             ("wireguard-go", "--version")),
    ):
        register(tool)
