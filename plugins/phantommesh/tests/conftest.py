"""Test helpers beside the tests (the netns harness) and pm_support importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


