"""The NFS plugin's per-share options and the models of its API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .conf import client_spec

ACCOUNT_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"

ClientHost = Annotated[str, Field(max_length=253, examples=["192.168.1.0/24", "*.lan", "*"]),
                       AfterValidator(client_spec)]


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: ClientHost = Field(description="'*', an address, a network in CIDR form (host bits "
                             "zero) or a host name with '*'/'?' wildcards")
    access: Literal["ro", "rw"] = "rw"


class NfsOptions(BaseModel):
    """``options.nfs`` of a share."""

    model_config = ConfigDict(extra="forbid")

    clients: list[ClientIn] | None = Field(
        None, max_length=256, description="who may mount, in order (first match wins); default: "
        "the share's hosts_allow (read-write), or everybody when that is empty. hosts_deny is "
        "always refused first. The share's access list still decides per user (sec=sys uid)")
    squash: Literal["none", "root", "all"] = Field(
        "root", description="none: uids as the client sends them; root: uid 0 becomes the "
        "anonymous user; all: every uid becomes the anonymous user")
    anon_user: Annotated[str, Field(pattern=ACCOUNT_PATTERN)] | None = Field(
        None, description="NAS user whose uid/gid squashed requests get (required for squash "
        "'all'; default for 'root': nobody, 65534)")
    pseudo: Annotated[str, Field(pattern=r"^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,8}$")] | None = \
        Field(None, description="NFSv4 path of the export; default /<share name>. Must not be "
              "used by, or lie inside, another export")
    snapshots: bool = Field(False, description="export every snapshot of the share's volume "
                            "read-only at /.snapshots/<share>/<snapshot>")

    @model_validator(mode="after")
    def _anon_for_all(self) -> NfsOptions:
        if self.squash == "all" and self.anon_user is None:
            raise ValueError("squash 'all' maps every user to anon_user: name a NAS user")
        return self


class NfsStatus(BaseModel):
    enabled: bool
    server: Literal["ganesha", "kernel"] = Field(description="which NFS server serves the shares")
    kernel_nfsd: bool = Field(description="the kernel's nfsd is available on this machine "
                              "(SigmaVault still serves through Ganesha)")
    running: bool
    pid: int | None
    port: int
    bind_addr: str
    versions: list[int]
    rpcbind: bool | None = Field(description="rpcbind running (only asked when NFSv3 is on)")
    restarts: int
    version: str | None
    exports: int
    config_check: str = Field(description="how a configuration is checked before it goes live")


class ExportOut(BaseModel):
    export_id: int
    share: str
    snapshot: str | None
    path: str
    pseudo: str
    clients: list[dict]
    squash: str
    anon_uid: int | None
    anon_gid: int | None
    read_only: bool


class ConnectionOut(BaseModel):
    address: str
    port: int


class V4ClientOut(BaseModel):
    address: str
    owner: str


class ClientsOut(BaseModel):
    connections: list[ConnectionOut] = Field(description="TCP connections to the NFS port now "
                                             "(kernel TCP table)")
    v4_clients: list[V4ClientOut] = Field(description="NFSv4 clients holding state (Ganesha's "
                                          "recovery records; kept until their lease ends)")
    source: str
