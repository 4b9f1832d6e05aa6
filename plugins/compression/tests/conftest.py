"""Puts this folder on sys.path for the helper modules (svcomp_support, svcomp_zlib_codec)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
