"""Failed-login limits with growing lockouts (see ``Auth.login`` for which keys a client counts on)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from .errors import APIError

_SCOPES = {"addr": ("address", "from this address"),
           "user": ("user", "for this user from devices it has not signed in from"),
           "device": ("device", "from this device")}


@dataclass
class _Entry:
    failures: list[float] = field(default_factory=list)  # within the window, oldest first
    lockouts: int = 0  # lockouts so far: each one is twice as long as the one before
    locked_until: float = 0.0

    def last(self) -> float:
        return max(self.failures[-1] if self.failures else 0.0, self.locked_until)


class RateLimiter:
    """Failed logins per client address, per username (from devices it has not signed in from
    before) and per known device; a lockout answers 429.

    Keys are ``addr:<address>``, ``user:<name>`` or ``device:<id>``. ``max_failures`` failures
    within ``lockout`` seconds lock the key for ``lockout`` seconds; each further lockout of the
    same key doubles that, up to ``max_lockout``. A key forgets everything once it has been quiet
    for ``lockout`` seconds (no failure, no lockout running), and at most ``max_keys`` are kept
    (the least recently active go first), so guessing random user names cannot grow the table
    without bound."""

    def __init__(self, max_failures: int, lockout: float, max_keys: int = 10_000,
                 max_lockout: float | None = None):
        self.max_failures = max_failures
        self.lockout = lockout
        self.max_lockout = max(lockout, max_lockout if max_lockout is not None else 64 * lockout)
        self.max_keys = max_keys
        self.entries: dict[str, _Entry] = {}
        self._pruned = time.monotonic()

    def _live(self, key: str, t: float) -> _Entry | None:
        entry = self.entries.get(key)
        if entry is not None and entry.last() + self.lockout <= t:
            del self.entries[key]
            return None
        return entry

    def check(self, *keys: str) -> None:
        """Raise ``APIError`` 429 if any of ``keys`` is locked out."""
        t = time.monotonic()
        for key in keys:
            entry = self._live(key, t)
            if entry is not None and entry.locked_until > t:
                retry = math.ceil(entry.locked_until - t)
                scope, who = _SCOPES[key.partition(":")[0]]
                raise APIError(429, "too_many_attempts",
                               f"too many failed logins {who}; try again in {retry} s",
                               {"retry_after": retry, "scope": scope})

    def fail(self, *keys: str) -> None:
        t = time.monotonic()
        for key in keys:
            entry = self._live(key, t) or self.entries.setdefault(key, _Entry())
            entry.failures = [f for f in entry.failures if f > t - self.lockout] + [t]
            if len(entry.failures) >= self.max_failures:
                entry.lockouts += 1
                entry.locked_until = t + min(self.lockout * 2 ** (entry.lockouts - 1), self.max_lockout)
                entry.failures = []
        if len(self.entries) > self.max_keys or t - self._pruned > self.lockout:
            self.prune(t)

    def reset(self, *keys: str) -> None:
        for key in keys:
            self.entries.pop(key, None)

    def prune(self, t: float | None = None) -> None:
        """Drop the entries that have been quiet long enough, then the least recently active
        beyond ``max_keys``."""
        t = time.monotonic() if t is None else t
        self._pruned = t
        self.entries = {k: e for k, e in self.entries.items() if e.last() + self.lockout > t}
        overflow = len(self.entries) - self.max_keys
        if overflow > 0:
            overflow += self.max_keys // 10  # room for the next ones without sorting each time
            for key in sorted(self.entries, key=lambda k: self.entries[k].last())[:overflow]:
                del self.entries[key]
