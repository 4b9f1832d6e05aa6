"""The ``[encryption]`` configuration section."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class EncryptionConfig(BaseModel):
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="absolute directories whose files may be encrypted/decrypted besides storage volumes")
    scrypt_log_n: int = Field(15, ge=10, le=20,
                              description="scrypt work factor (log2 N) sealing keystore identities and exports")
    keystore_dir: Path | None = Field(None, description="where sealed identities live; default <data_dir>/encryption/keys")
