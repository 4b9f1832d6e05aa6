"""Request and response schemas of the encryption API and agents."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, model_validator

from sigmavault.locations import Location
from sigmavault.validation import Name

KeyKind = Literal["x25519", "mlkem768x25519"]
KEY_ID = r"^k-[0-9a-f]{16}$"


Target = Location  # the core model: a path inside allowed roots, or pool/volume/subpath


class KeyOut(BaseModel):
    id: str
    name: str
    kind: KeyKind
    post_quantum: bool
    recipient: str
    fingerprint: str
    state: Literal["locked", "unlocked"]
    status: Literal["active", "retired"]
    created_at: str
    rotated_at: str | None = None
    rotated_from: str | None = None
    replaced_by: str | None = None


# what the keystore requires of a passphrase that seals (MIN_PASSPHRASE), stated in the schema
SEALING: dict = {"minLength": 8}


class KeyCreate(BaseModel):
    name: Name
    kind: KeyKind = "mlkem768x25519"
    passphrase: SecretStr = Field(description="seals the identity (scrypt); at least 8 characters",
                                  json_schema_extra=SEALING)


class KeyImport(BaseModel):
    name: Name
    identity: SecretStr = Field(description="AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1… (age-keygen output)")
    passphrase: SecretStr = Field(json_schema_extra=SEALING)


class KeyPatch(BaseModel):
    name: Name


class Passphrase(BaseModel):
    passphrase: SecretStr


class PassphraseChange(BaseModel):
    passphrase: SecretStr
    new_passphrase: SecretStr = Field(json_schema_extra=SEALING)


class Rotate(BaseModel):
    passphrase: SecretStr
    new_passphrase: SecretStr | None = Field(None, description="seal the new key differently (default: same)",
                                             json_schema_extra=SEALING)


class DeleteQuery(BaseModel):
    confirm: bool = Field(False, description="must be true: files only this key opens become unreadable")


class LockResult(BaseModel):
    locked: int


class ExportRequest(BaseModel):
    key_ids: list[str] = Field(min_length=1, max_length=256)
    passphrase: SecretStr = Field(description="protects the bundle (age scrypt)",
                                  json_schema_extra=SEALING)


class ExportResult(BaseModel):
    bundle: str = Field(description="base64 of an age file (scrypt) holding an age identity file")
    keys: int


class ImportRequest(BaseModel):
    bundle: str = Field(max_length=4 * 1024 * 1024, description="base64 of an export bundle")
    passphrase: SecretStr
    new_passphrase: SecretStr = Field(description="seals the imported identities in this keystore",
                                      json_schema_extra=SEALING)


FilePassphrase = SecretStr  # an age file's passphrase (scrypt stanza); never stored or echoed
ARMOR_DESCRIPTION = "write ASCII armor (PEM-like text, as `age -a`) instead of binary"
FILE_PASSPHRASE_DESCRIPTION = ("encrypt with this passphrase (an scrypt stanza, as `age -p`) "
                               "instead of keys or recipients")


def _one_of_lists(*fields: str) -> list[JsonValue]:
    """JSON Schema: at least one of ``fields`` is a non-empty list."""
    return [{"required": [f], "properties": {f: {"minItems": 1}}} for f in fields]


class EncryptRequest(BaseModel):
    # the rule of check_encrypt_to, stated: a passphrase alone, or keys and/or recipients
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["passphrase"], "properties": {
            "passphrase": {"type": "string"}, "key_ids": {"maxItems": 0},
            "recipients": {"maxItems": 0}}},
        {"properties": {"passphrase": {"type": "null"}},
         "anyOf": _one_of_lists("key_ids", "recipients")}]})

    source: Target
    target: Target | None = Field(None, description="default: the source path + '.age' ('.tar.age' for folders)")
    key_ids: list[str] = Field(default_factory=list, max_length=64, description="keystore keys to encrypt to")
    recipients: list[str] = Field(default_factory=list, max_length=64, description="age1… / age1pq1… recipients")
    passphrase: FilePassphrase | None = Field(None, min_length=1, max_length=1024,
                                              description=FILE_PASSPHRASE_DESCRIPTION)
    armor: bool = Field(False, description=ARMOR_DESCRIPTION)
    overwrite: bool = False

    @model_validator(mode="after")
    def _someone(self) -> "EncryptRequest":
        check_encrypt_to(self.key_ids, self.recipients, self.passphrase)
        return self


def check_encrypt_to(key_ids: list[str], recipients: list[str], passphrase: SecretStr | None) -> None:
    """Exactly one way to open the file: keys/recipients, or a passphrase (age allows an scrypt
    stanza only alone)."""
    if passphrase is not None and (key_ids or recipients):
        raise ValueError("give 'passphrase' or 'key_ids'/'recipients', not both: a passphrase-encrypted "
                         "file has no other recipient")
    if passphrase is None and not key_ids and not recipients:
        raise ValueError("give at least one of 'key_ids' or 'recipients', or a 'passphrase'")


class DecryptRequest(BaseModel):
    source: Target
    target: Target | None = Field(None, description="default: the source path without '.age'")
    folder: bool | None = Field(None, description="the file is a folder archive (default: as recorded, or '.tar.age')")
    passphrase: FilePassphrase | None = Field(None, min_length=1, max_length=1024,
                                              description="the file's passphrase (files made with `age -p`); "
                                              "without it the unlocked keys are used")
    overwrite: bool = False


class VerifyRequest(BaseModel):
    source: Target
    passphrase: FilePassphrase | None = Field(None, min_length=1, max_length=1024,
                                              description="the file's passphrase, for passphrase-encrypted files")


class RewrapRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"anyOf": _one_of_lists("key_ids", "recipients")})

    sources: list[Target] = Field(min_length=1, max_length=1000)
    key_ids: list[str] = Field(default_factory=list, max_length=64)
    recipients: list[str] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _someone(self) -> "RewrapRequest":
        if not self.key_ids and not self.recipients:
            raise ValueError("give at least one of 'key_ids' or 'recipients'")
        return self


class Algorithms(BaseModel):
    format: str
    payload: str
    header_mac: str
    recipients: list[str]
    keystore: str


class PostQuantum(BaseModel):
    supported: bool = Field(description="the backend implements ML-KEM-768")
    protected: bool = Field(description="new files can be and are encrypted to post-quantum keys")
    reason: str


class Backend(BaseModel):
    library: str
    version: str
    openssl: str
    mlkem: bool


class ItemCounts(BaseModel):
    total: int
    post_quantum: int
    classic: int
    files: int
    folders: int
    plaintext_bytes: int


class VerifyRun(BaseModel):
    at: str
    path: str
    ok: bool
    detail: str


class AuthFailures(BaseModel):
    count: int
    last_at: str | None
    last_path: str | None
    last_detail: str | None


class Status(BaseModel):
    algorithms: Algorithms
    post_quantum: PostQuantum
    backend: Backend
    keys: list[KeyOut]
    unlocked_keys: int
    items: ItemCounts
    last_verify: VerifyRun | None
    authentication_failures: AuthFailures


class EncryptionEvent(BaseModel):
    """``encryption.event``: a key changed or a file failed to authenticate."""

    action: str
    key_id: str | None = None
    path: str | None = None
    detail: str = ""
