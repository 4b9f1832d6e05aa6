"""Every hook has a docstring and a section in docs/hooks.md (Datasette's rule)."""

import inspect
import re
import runpy
import shutil
from pathlib import Path

import pytest

from sigmavault import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, "sigmavault_spec")]


def test_there_are_hooks():
    assert {"startup", "register_routes", "register_agents", "register_codecs"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_docstring_with_params(hook):
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 40, f"{hook} needs a real docstring"
    for param in inspect.signature(fn).parameters:
        assert f":param {param}:" in doc, f"{hook} does not document its argument {param!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_docs_section(hook):
    sections = set(re.findall(r"^## (\w+)$", DOCS.read_text(), re.M))
    assert hook in sections, f"docs/hooks.md has no '## {hook}' section"


def test_docs_name_no_unknown_hooks():
    sections = set(re.findall(r"^## (\w+)$", DOCS.read_text(), re.M))
    assert sections <= set(HOOKS), f"docs/hooks.md documents hooks that do not exist: {sections - set(HOOKS)}"


def test_docs_are_generated_from_current_specs(tmp_path):
    """The generator, run from a copy beside an empty docs/, writes exactly docs/hooks.md
    (the working tree is never written)."""
    script = tmp_path / "scripts" / "gen-hook-docs.py"
    script.parent.mkdir()
    (tmp_path / "docs").mkdir()
    shutil.copy(DOCS.parent.parent / "scripts" / "gen-hook-docs.py", script)
    runpy.run_path(str(script), run_name="__main__")
    assert (tmp_path / "docs" / "hooks.md").read_text() == DOCS.read_text(), \
        "docs/hooks.md is stale: run scripts/gen-hook-docs.py"
