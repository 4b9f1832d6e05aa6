"""A self-signed certificate for ``serve --tls-self-signed``, made with the openssl CLI."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path


def self_signed(directory: Path) -> tuple[Path, Path]:
    """Create (once) and return (cert, key) paths under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert, key = directory / "selfsigned.crt", directory / "selfsigned.key"
    if not cert.exists():
        host = socket.gethostname()
        # runs before the event loop exists, so not through sigmavault.commands
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "825", "-subj",
                        f"/CN={host}", "-addext", f"subjectAltName=DNS:{host},DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        key.chmod(0o600)
    return cert, key
