"""SigmaVault compression plugin: codecs, streaming compression jobs, statistics and agents."""

__version__ = "0.1.0"
