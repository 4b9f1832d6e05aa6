#!/usr/bin/env python3
"""Write docs/endpoints.md: every REST endpoint and every event type of the core and the bundled
plugins, generated from the live OpenAPI document and the event catalogue (``/api/v1/events``).

    .venv/bin/python scripts/gen-endpoint-docs.py           # regenerate docs/endpoints.md
    .venv/bin/python scripts/gen-endpoint-docs.py --check   # exit 1 when it is out of date
    .venv/bin/python scripts/gen-endpoint-docs.py -o -      # print to stdout

An app is built in-process on a temporary data dir (nothing is started, no port is opened).
Routes and events of installed plugins that are not bundled in ``plugins/`` (e.g. the example
plugin) are left out, so the document does not depend on what else is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import logging
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "endpoints.md"
CORE = "sigmavault"


def bundled() -> set[str]:
    """Distribution names of the core and of every plugin under plugins/."""
    names = {CORE}
    for pyproject in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        names.add(tomllib.loads(pyproject.read_text())["project"]["name"])
    return names


def owner(plugin: str) -> str:
    """The distribution that declared a route (core routes come from ``sigmavault.builtin.*``)."""
    return CORE if plugin.startswith(CORE + ".") else plugin


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text or "").split()).replace("|", "\\|")


def type_name(schema: dict[str, Any] | None) -> str:
    """A short, readable name for a JSON schema: ``Pool``, ``list[Job]``, ``string | null``."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(type_name(s) for s in schema[key]))
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_name(schema["allOf"][0])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(kind)
    if kind == "array":
        return f"list[{type_name(schema.get('items'))}]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"dict[str, {type_name(extra)}]"
        return schema.get("title", "object") if "properties" in schema else "object"
    return kind or "any"


def _response(op: dict[str, Any]) -> str:
    for code, resp in sorted(op.get("responses", {}).items()):
        if code.startswith("2") or code == "101":  # 101: a WebSocket upgrade
            content = resp.get("content", {})
            if not content:
                return f"{code} (no body)"
            media, body = next(iter(content.items()))
            name = type_name(body.get("schema"))
            return f"{code} {name}" if media == "application/json" else f"{code} {media}"
    return ""


def _request(op: dict[str, Any]) -> str:
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    return type_name(body["schema"]) if body else ""


def _query(op: dict[str, Any]) -> str:
    return ", ".join(f"`{p['name']}`" for p in op.get("parameters", []) if p["in"] == "query")


def endpoints_section(spec: dict[str, Any], keep: set[str]) -> list[str]:
    by_plugin: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            plugin = owner(op.get("x-plugin", ""))
            if plugin in keep:
                by_plugin.setdefault(plugin, []).append((path, method, op))
    count = sum(len(v) for v in by_plugin.values())
    out = ["## Endpoints", "",
           f"{count} operations. Role: `public` (no login), `readonly` (any user), `admin`. Errors "
           "are `ErrorEnvelope` (`{\"error\": {\"code\", \"message\", \"details\"}}`) with the "
           "statuses each operation lists in `/api/v1/openapi.json` (see docs/api.md). Schemas are in "
           "`/api/v1/openapi.json` under `components.schemas`.", ""]
    for plugin in sorted(by_plugin, key=lambda p: (p != CORE, p)):
        out += [f"### {plugin}" + (" (core)" if plugin == CORE else ""), "",
                "| method | path | role | summary | query | request | response |",
                "|---|---|---|---|---|---|---|"]
        for path, method, op in sorted(by_plugin[plugin]):
            summary = op.get("summary") or ""
            desc = op.get("description", "")
            if desc and desc.split("\n", 1)[0].strip() != summary.strip():
                summary = f"{summary}. {desc.split(chr(10) + chr(10), 1)[0]}" if summary else desc
            out.append(f"| {method.upper()} | `{path}` | {op.get('x-role', '')} | {cell(summary)} | "
                       f"{cell(_query(op))} | {cell(_request(op))} | {cell(_response(op))} |")
        out.append("")
    return out


def _fields(schema: dict[str, Any]) -> list[str]:
    props = schema.get("properties", {})
    if not props:
        return ["Data: free-form (see the description)."]
    required = set(schema.get("required", []))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in props.items():
        rows.append(f"| `{name}` | {cell(type_name(prop))} | {'yes' if name in required else ''} | "
                    f"{cell(prop.get('description', ''))} |")
    nested = schema.get("$defs", {})
    for def_name, sub in sorted(nested.items()):
        if sub.get("properties"):
            rows += ["", f"`{def_name}`:", "", "| field | type | required | description |",
                     "|---|---|---|---|"]
            req = set(sub.get("required", []))
            for name, prop in sub["properties"].items():
                rows.append(f"| `{name}` | {cell(type_name(prop))} | {'yes' if name in req else ''} | "
                            f"{cell(prop.get('description', ''))} |")
    return rows


def events_section(events: list[dict[str, Any]], keep: set[str]) -> list[str]:
    kept = [e for e in events if owner(e["plugin"]) in keep]
    out = ["## Events", "",
           f"{len(kept)} event types on the WebSocket `/api/v1/ws` (envelope `{{\"type\", \"seq\", "
           "\"ts\", \"data\"}`; subscribe with `{\"type\": \"client.subscribe\", \"events\": "
           "[\"storage.*\"]}`). The fields below are those of `data`.", ""]
    for e in kept:
        out += [f"### `{e['name']}` ({e['plugin']})", "", cell(e["description"]) or "(no description)", ""]
        out += _fields(e["schema_"] or {})
        out.append("")
    return out


async def collect() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The OpenAPI document and the event catalogue of an in-process app with every plugin."""
    from sigmavault import __version__
    from sigmavault.api import openapi
    from sigmavault.app import SigmaVault
    from sigmavault.config import Config

    with tempfile.TemporaryDirectory() as tmp:
        app = await SigmaVault.create(Config(data_dir=Path(tmp) / "data"))
        spec = openapi(app.api, "SigmaVault", __version__)
        # the same data as GET /api/v1/events
        events = [{"name": t.name, "description": t.description, "plugin": t.plugin,
                   "schema_": t.model.model_json_schema() if t.model is not None else None}
                  for t in sorted(app.events.types.values(), key=lambda t: t.name)]
        app.db.close() if hasattr(app.db, "close") else None
    return spec, events


def render(spec: dict[str, Any], events: list[dict[str, Any]]) -> str:
    keep = bundled()
    lines = ["# SigmaVault endpoints and events", "",
             "<!-- generated by scripts/gen-endpoint-docs.py from the OpenAPI document and the event "
             "catalogue; do not edit by hand: run `.venv/bin/python scripts/gen-endpoint-docs.py` -->", "",
             "Every path is served by the daemon (`sigmavault serve`); the live, machine-readable "
             "form is `GET /api/v1/openapi.json` and `GET /api/v1/events`, a browsable page is "
             "`/api/v1/docs`. Plugins covered: " + ", ".join(f"`{p}`" for p in sorted(keep)) + ".", ""]
    lines += endpoints_section(spec, keep)
    lines += events_section(events, keep)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default=str(OUTPUT), help="file to write, '-' for stdout")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    text = render(*asyncio.run(collect()))
    target = Path(args.output)
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current == text:
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(target), "generated",
                                    lineterm="", n=0)
        print("\n".join(list(diff)[:60]), file=sys.stderr)
        print(f"{target} is out of date: run .venv/bin/python scripts/gen-endpoint-docs.py",
              file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(text)
    else:
        target.write_text(text)
        print(f"wrote {target} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
