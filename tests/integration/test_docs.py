"""docs/endpoints.md is generated (scripts/gen-endpoint-docs.py) and must match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sigmavault.testing import load_module

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen-endpoint-docs.py"


def _generator():
    return load_module(SCRIPT, "gen_endpoint_docs")


def test_endpoints_doc_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-4000:]


async def test_every_endpoint_and_event_is_documented() -> None:
    gen = _generator()
    spec, events = await gen.collect()
    text = gen.render(spec, events)
    keep = gen.bundled()
    ops = [(m.upper(), p) for p, o in spec["paths"].items() for m, op in o.items()
           if gen.owner(op["x-plugin"]) in keep]
    assert len(ops) > 50
    for method, path in ops:
        assert f"| {method} | `{path}` |" in text, (method, path)
    for e in events:
        if gen.owner(e["plugin"]) in keep:
            assert f"### `{e['name']}`" in text, e["name"]
    # a route of an installed, non-bundled plugin (the example) stays out of the document
    assert all(gen.owner(op["x-plugin"]) in keep or f"`{p}`" not in text
               for p, o in spec["paths"].items() for op in o.values())
