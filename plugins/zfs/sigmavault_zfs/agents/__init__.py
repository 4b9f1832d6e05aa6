"""Agents of the zfs plugin (LATTICE: :mod:`.lattice`)."""
