"""The ``[shares]`` configuration section."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from .models import FIRST_ID, LAST_ID


class SharesConfig(BaseModel):
    first_id: int = Field(FIRST_ID, ge=FIRST_ID, le=LAST_ID, description="lowest uid/gid of NAS "
                          "accounts")
    last_id: int = Field(LAST_ID, ge=FIRST_ID, le=LAST_ID, description="highest uid/gid of NAS "
                         "accounts; the whole range is reserved for SigmaVault")
    primary_group: str = Field("users", pattern=r"^[a-z_][a-z0-9_-]{0,31}$",
                               description="primary group of every NAS user (must exist)")
    manage_system_accounts: bool = Field(True, description="create, change and remove the Unix "
                                         "accounts of NAS users and groups (off: they must exist "
                                         "already, e.g. from a directory service)")

    @model_validator(mode="after")
    def _ordered(self) -> "SharesConfig":
        if self.first_id > self.last_id:
            raise ValueError("first_id is above last_id")
        return self
