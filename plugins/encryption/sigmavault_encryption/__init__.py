"""SigmaVault encryption plugin: age-compatible file encryption with post-quantum recipients."""

__version__ = "0.1.0"
