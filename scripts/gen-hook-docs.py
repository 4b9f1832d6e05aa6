#!/usr/bin/env python3
"""Write docs/hooks.md from the hook specifications' signatures and docstrings."""

import inspect
from pathlib import Path

from sigmavault import hookspecs

HEADER = """# Hooks

Every hook SigmaVault calls, generated from `hookspecs/__init__.py` by `scripts/gen-hook-docs.py`.
Implement any of them in a module registered under the `sigmavault` entry point group, decorated
with `from sigmavault import hookimpl`. Take only the arguments you need: they are passed by name.
Any hook may be `async def`.
"""


def main() -> None:
    out = [HEADER]
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(fn, "sigmavault_spec"):
            sig = str(inspect.signature(fn)).replace("'", "")
            out += [f"## {name}", "", "```python", "@hookimpl", f"def {name}{sig}: ...", "```", "",
                    inspect.getdoc(fn) or "", ""]
    target = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"
    target.write_text("\n".join(out))


if __name__ == "__main__":
    main()
