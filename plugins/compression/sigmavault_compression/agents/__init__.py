"""The compression agents: TENSOR, AXIOM, FLUX, SPARK and FORGE."""

from .axiom import AXIOM
from .flux import FLUX
from .forge import FORGE
from .spark import SPARK
from .tensor import TENSOR

AGENTS = [TENSOR, AXIOM, FLUX, SPARK, FORGE]

__all__ = ["AGENTS", "TENSOR", "AXIOM", "FLUX", "SPARK", "FORGE"]
