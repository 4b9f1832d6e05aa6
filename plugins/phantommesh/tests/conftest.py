"""pm_support importable from the tests (the netns harness is sigmavault_phantommesh.netns_harness)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


