"""Error types of the age format layer (independent of the HTTP layer)."""

from __future__ import annotations


class AgeError(Exception):
    """Base class: the file could not be processed."""


class HeaderError(AgeError):
    """The header is malformed, uses an unsupported version, or a stanza is invalid."""


class NoIdentityMatch(AgeError):
    """None of the available identities can unwrap the file key."""


class PassphraseRequired(NoIdentityMatch):
    """The file is passphrase-encrypted (scrypt) and no passphrase was given."""


class ArmorError(AgeError):
    """An ASCII-armored file breaks the strict armor rules (c2sp.org/age, "ASCII armor")."""


class AuthenticationError(AgeError):
    """The header MAC or a payload chunk failed to authenticate (tampering or truncation)."""


class HeaderMACError(AuthenticationError):
    """A file key was unwrapped but the header MAC does not match it."""


class RecipientError(AgeError, ValueError):
    """A recipient or identity string could not be parsed."""
