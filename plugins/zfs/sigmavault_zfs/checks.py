"""Input checks the ZFS tools need beyond the service's name pattern."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from sigmavault.errors import bad_request
from sigmavault.validation import Name

POOL_RESERVED = re.compile(r"^(mirror|raidz\d?|spare|log|cache|special|dedup|draid|c\d.*)$")


def check_pool_name(name: str) -> str:
    """ZFS adds its own rules to the service's name pattern: start with a letter, no reserved word."""
    if not name[:1].isalpha() or POOL_RESERVED.match(name) or "%" in name:
        raise bad_request(f"invalid ZFS pool name {name!r}: start with a letter and avoid the "
                          "reserved words mirror, raidz, spare, log, cache, special, dedup",
                          code="invalid_name", field="name")
    return name


def _pool_rule(name: str) -> str:
    if not name[:1].isalpha() or POOL_RESERVED.match(name):
        raise ValueError("a ZFS pool name starts with a letter and avoids the reserved words "
                         "mirror, raidz, spare, log, cache, special, dedup")
    return name


# A pool name as ZFS takes it: a Name, plus check_pool_name's rules stated in the schema.
ZfsPoolName = Annotated[Name, AfterValidator(_pool_rule), Field(json_schema_extra={
    "not": {"anyOf": [{"pattern": "^[^A-Za-z]"}, {"pattern": "^c[0-9]"}, {"enum": [
        "mirror", "raidz", *(f"raidz{i}" for i in range(10)), "spare", "log", "cache", "special",
        "dedup", "draid"]}]}})]


SYSTEM_DIRS = {"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt",
               "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/mnt",
               "/media"}


def check_mountpoint(path: Any) -> str:
    """A pool mountpoint: absolute, not a system directory, and absent or an empty directory
    (mounting over existing files would hide them)."""
    if not isinstance(path, str) or not path.startswith("/") or ".." in path.split("/"):
        raise bad_request("mountpoint must be an absolute path without '..'", field="options.mountpoint")
    real = os.path.realpath(path)
    if real in SYSTEM_DIRS or any(real == d or real.startswith(d + "/") for d in
                                  ("/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin",
                                   "/sys", "/usr")):
        raise bad_request(f"mountpoint {path!r} is a system directory", field="options.mountpoint")
    if os.path.exists(real) and (not os.path.isdir(real) or os.listdir(real)):
        raise bad_request(f"mountpoint {path!r} exists and is not an empty directory",
                          field="options.mountpoint")
    return real


def bool_prop(value: Any, field: str) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value in ("on", "off"):
        return value
    raise bad_request(f"{field} must be true/false or 'on'/'off'", field=field)
