"""Agents of the system plugin: PULSE."""
