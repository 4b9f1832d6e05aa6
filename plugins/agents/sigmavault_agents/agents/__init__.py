"""The agents this plugin owns, one module each: the params model, the ``run`` handler and the
:class:`~sigmavault.hookspecs.Agent` declaration. The work they call lives in the package's
domain modules (``census``, ``dupes``, ``copier``, ``manifest`` …)."""

from .atlas import ATLAS
from .chronicle import CHRONICLE
from .conduit import CONDUIT
from .fortress import FORTRESS
from .guardian import GUARDIAN
from .nexus import NEXUS
from .omniscient import OMNISCIENT
from .phantom import PHANTOM
from .photon import PHOTON
from .prism import PRISM
from .relay import RELAY
from .sentinel import SENTINEL
from .shield import SHIELD
from .synapse import SYNAPSE
from .velocity import VELOCITY
from .vertex import VERTEX
from .wave import WAVE

AGENTS = [VELOCITY, PRISM, WAVE, NEXUS, VERTEX, PHOTON, ATLAS,
          FORTRESS, SENTINEL, SHIELD, GUARDIAN, PHANTOM,
          CHRONICLE, SYNAPSE, RELAY, OMNISCIENT, CONDUIT]

__all__ = ["AGENTS", "ATLAS", "CHRONICLE", "CONDUIT", "FORTRESS", "GUARDIAN", "NEXUS", "OMNISCIENT",
           "PHANTOM", "PHOTON", "PRISM", "RELAY", "SENTINEL", "SHIELD", "SYNAPSE", "VELOCITY",
           "VERTEX", "WAVE"]
