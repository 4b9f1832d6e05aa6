"""SigmaVault core: a minimal aiohttp daemon whose features all come from pluggy plugins."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("sigmavault")

from .services import operation  # noqa: E402  (needs hookimpl's module to exist first)

__all__ = ["hookimpl", "operation", "__version__"]
