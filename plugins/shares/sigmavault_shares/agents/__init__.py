"""The agent the shares plugin owns: BRIDGE, share health."""

from .bridge import BRIDGE

AGENTS = [BRIDGE]
