"""A self-signed certificate for ``serve --tls-self-signed``, made with the openssl CLI.

(The ``cryptography`` library would avoid the CLI, but the core does not depend on it.)
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from .commands import run


def self_signed(directory: Path) -> tuple[Path, Path]:
    """Create (once) and return (cert, key) paths under ``directory``.

    Called before the server's event loop exists, so it runs ``openssl`` in a loop of its own.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert, key = directory / "selfsigned.crt", directory / "selfsigned.key"
    if not cert.exists():
        host = socket.gethostname()
        asyncio.run(run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "825", "-subj",
                         f"/CN={host}", "-addext",
                         f"subjectAltName=DNS:{host},DNS:localhost,IP:127.0.0.1",
                         "-keyout", str(key), "-out", str(cert)], timeout=60))
        key.chmod(0o600)
    return cert, key
