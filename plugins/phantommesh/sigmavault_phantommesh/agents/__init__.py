"""PhantomMesh agents: CRYPTO (key and PSK rotation), MESH (health), HELIX (federation)."""

from __future__ import annotations

from sigmavault.hookspecs import Agent

from . import crypto, helix, mesh

AGENTS: list[Agent] = [crypto.AGENT, mesh.AGENT, helix.AGENT]
