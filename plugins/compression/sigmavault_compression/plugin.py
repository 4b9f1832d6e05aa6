"""Hook implementations of the compression plugin."""

from __future__ import annotations

from sigmavault import hookimpl

from .codecs import BUILTIN_CODECS


@hookimpl
def register_codecs(register):
    for codec in BUILTIN_CODECS:
        register(codec)
