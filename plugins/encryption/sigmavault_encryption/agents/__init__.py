"""The plugin's agents, one module each: CIPHER (encrypt/decrypt/verify), QUANTUM (post-quantum
keys, re-wrap) and VAULT (key backup and rotation). Secrets in params are ``SecretStr``: task
records store them masked."""

from __future__ import annotations

from sigmavault.hookspecs import Agent

from . import cipher, quantum, vault

AGENTS: list[Agent] = [cipher.AGENT, quantum.AGENT, vault.AGENT]
