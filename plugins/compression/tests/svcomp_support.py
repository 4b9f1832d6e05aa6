"""Test helpers of the compression plugin (a unique module name: tests of all plugins share sys.path)."""

from __future__ import annotations

from importlib.metadata import entry_points

# Only the plugins these tests need run in ``sv_app``: another plugin's start-up or shutdown
# must neither slow these tests down nor make them fail.
NEEDED = {"sigmavault-compression", "sigmavault-agents"}


def other_plugins(needed: set[str] = NEEDED) -> list[str]:
    """Distribution names of every installed plugin except ``needed``."""
    dists = {ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist is not None}
    return sorted(d for d in dists if d.lower().replace("_", "-") not in needed)
