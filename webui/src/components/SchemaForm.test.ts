import { describe, expect, it } from "vitest";
import { fieldsOf, toParams } from "./SchemaForm";

const schema = {
  type: "object",
  $defs: { Mode: { enum: ["fast", "full"], type: "string", title: "Mode" } },
  properties: {
    path: { type: "string", title: "Path", description: "inside a volume" },
    depth: { anyOf: [{ type: "integer" }, { type: "null" }], default: null, title: "Depth" },
    mode: { $ref: "#/$defs/Mode", default: "fast" },
    dry_run: { type: "boolean", default: true, title: "Dry Run" },
    exclude: { type: "array", items: { type: "string" }, title: "Exclude" },
    extra: { type: "object", title: "Extra" },
  },
  required: ["path"],
};

describe("SchemaForm", () => {
  it("derives fields from a pydantic JSON schema", () => {
    const f = fieldsOf(schema);
    expect(f.map((x) => [x.name, x.kind, x.required, x.nullable])).toEqual([
      ["path", "string", true, false],
      ["depth", "integer", false, true],
      ["mode", "enum", false, false],
      ["dry_run", "boolean", false, false],
      ["exclude", "array", false, false],
      ["extra", "json", false, false],
    ]);
    expect(f[2]!.options).toEqual(["fast", "full"]);
  });

  it("converts form strings to typed params and names bad fields", () => {
    const f = fieldsOf(schema);
    expect(toParams(f, { path: "/v/a", depth: "3", mode: "full", dry_run: false, exclude: "a\nb, c", extra: '{"k":1}' })).toEqual({
      path: "/v/a", depth: 3, mode: "full", dry_run: false, exclude: ["a", "b", "c"], extra: { k: 1 },
    });
    expect(toParams(f, { path: "/v", depth: "", mode: "", dry_run: true, exclude: "", extra: "" })).toEqual({ path: "/v", dry_run: true });
    expect(() => toParams(f, { path: "" })).toThrow("Path is required");
    expect(() => toParams(f, { path: "x", depth: "2.5" })).toThrow("Depth must be a whole number");
    expect(() => toParams(f, { path: "x", extra: "{" })).toThrow("Extra must be JSON");
  });
});

describe("SchemaForm pickers", () => {
  const located = {
    type: "object",
    $defs: { Location: { type: "object", properties: { path: { type: "string" }, pool: { type: "string" }, volume: { type: "string" }, subpath: { type: "string" } } } },
    properties: {
      path: { anyOf: [{ type: "string" }, { type: "null" }] }, pool: { type: "string" }, volume: { type: "string" }, subpath: { type: "string", default: "" },
      top: { type: "integer", default: 20, minimum: 1 },
      target: { anyOf: [{ $ref: "#/$defs/Location" }, { type: "null" }], default: null },
      sources: { type: "array", items: { $ref: "#/$defs/Location" } },
      key_ids: { type: "array", items: { type: "string" } },
      snapshot: { type: "string" },
      target_pool: { type: "string" },
    },
  };

  it("turns location-shaped params, pools, snapshots and key ids into pickers", () => {
    const f = fieldsOf(located);
    expect(f.map((x) => [x.name, x.kind])).toEqual([
      ["__location__", "location"], ["top", "integer"], ["target", "location"], ["sources", "locations"],
      ["key_ids", "keys"], ["snapshot", "snapshot"], ["target_pool", "pool"],
    ]);
  });

  it("sends picked locations as pool/volume/subpath", () => {
    const f = fieldsOf(located);
    const here = { pool: "tank", volume: "media", path: "photos", type: "dir" as const };
    expect(toParams(f, { __location__: here, top: "5", target: { ...here, path: "out" }, sources: [here], key_ids: ["k1"], snapshot: "", target_pool: "" })).toEqual({
      pool: "tank", volume: "media", subpath: "photos", top: 5, target: { pool: "tank", volume: "media", subpath: "out" },
      sources: [{ pool: "tank", volume: "media", subpath: "photos" }], key_ids: ["k1"],
    });
    expect(() => toParams(f, { __location__: null })).toThrow("Where: choose a file or folder");
  });
});
