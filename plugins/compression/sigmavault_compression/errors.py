"""Errors of decoding an archive."""


class CorruptArchive(ValueError):
    """The archive is truncated, corrupt, or not of the expected codec."""


class UnsupportedArchive(CorruptArchive):
    """The archive is well-formed but uses a feature (filter, check type, header field) that is
    not supported; it is refused rather than decoded without its checks."""
