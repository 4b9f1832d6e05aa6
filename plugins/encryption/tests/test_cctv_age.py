"""The whole C2SP CCTV age testkit through the plugin's decryptor (``files.decrypt_file``, what the
decrypt jobs run): every vector classified as it expects, failures with an API error a person can
act on and nothing left at the target."""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sigmavault.errors import APIError

from sigmavault_encryption import files, xwing
from sigmavault_encryption.errors import (AgeError, ArmorError, AuthenticationError, HeaderError,
                                          HeaderMACError, NoIdentityMatch)
from sigmavault_encryption.recipients import ScryptIdentity, parse_identity
from sigmavault_encryption.service import to_api_error

TESTKIT = Path(__file__).parent / "vectors" / "cctv-age"
EXPECTED_ERROR: dict[str, tuple[type[AgeError], str]] = {
    "armor failure": (ArmorError, "invalid_armor"),
    "header failure": (HeaderError, "invalid_age_file"),
    "no match": (NoIdentityMatch, "no_matching_key"),
    "HMAC failure": (HeaderMACError, "authentication_failed"),
    "payload failure": (AuthenticationError, "authentication_failed"),
}


@dataclass
class Vector:
    name: str
    expect: str
    payload: str
    body: bytes
    identities: list[str] = field(default_factory=list)
    passphrases: list[str] = field(default_factory=list)
    armored: bool = False


def _load(path: Path) -> Vector:
    raw = path.read_bytes()
    head, body = raw.split(b"\n\n", 1)
    fields: dict[str, list[str]] = {}
    for line in head.decode().splitlines():
        key, value = line.split(": ", 1)
        fields.setdefault(key, []).append(value)
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return Vector(path.name, fields["expect"][0], fields.get("payload", [""])[0], body,
                  fields.get("identity", []), fields.get("passphrase", []),
                  fields.get("armored") == ["yes"])


VECTORS = [_load(p) for p in sorted(TESTKIT.iterdir()) if p.name != "README.md"]


def test_the_whole_testkit_is_vendored():
    assert len(VECTORS) == 143
    assert {v.expect for v in VECTORS} == {"success", *EXPECTED_ERROR}
    assert sum(v.armored for v in VECTORS) == 33 and sum(bool(v.passphrases) for v in VECTORS) > 20


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_vector(tmp_path: Path, vector: Vector):
    if any(i.startswith("AGE-SECRET-KEY-PQ-") for i in vector.identities) and not xwing.supported()[0]:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs ML-KEM-768: {xwing.supported()[1]}", pytrace=False)
        pytest.skip(xwing.supported()[1])
    identities = [parse_identity(i) for i in vector.identities]
    identities += [ScryptIdentity(p) for p in vector.passphrases]
    src, dst = tmp_path / "in.age", tmp_path / "out" / "plain"
    src.write_bytes(vector.body)
    dst.parent.mkdir()
    if vector.expect == "success":
        files.decrypt_file(src, dst, identities)
        assert hashlib.sha256(dst.read_bytes()).hexdigest() == vector.payload
        return
    error, code = EXPECTED_ERROR[vector.expect]
    with pytest.raises(AgeError) as caught:
        files.decrypt_file(src, dst, identities)
    assert type(caught.value) is error, caught.value
    api = to_api_error(caught.value)
    assert isinstance(api, APIError) and 400 <= api.status < 500 and api.code == code
    assert api.message
    assert list(dst.parent.iterdir()) == []  # no output and no temporary left behind
