"""SigmaVault storage service and the built-in ``dir`` backend."""
