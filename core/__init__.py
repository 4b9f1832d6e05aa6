"""SigmaVault core: a minimal aiohttp daemon whose features all come from pluggy plugins."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("sigmavault")

__all__ = ["hookimpl", "__version__"]
