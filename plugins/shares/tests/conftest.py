"""Fixtures shared by the shares tests."""

from __future__ import annotations

from pathlib import Path

from sigmavault.testing import load_module

nas_accounts = load_module(Path(__file__).parent / "nas_fixtures.py", "shares_nas_fixtures").nas_accounts
