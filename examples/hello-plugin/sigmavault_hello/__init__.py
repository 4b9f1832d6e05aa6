"""Example SigmaVault plugin."""
