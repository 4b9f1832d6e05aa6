"""The compression agents: TENSOR, AXIOM, FLUX, SPARK and FORGE."""

AGENTS: list = []
