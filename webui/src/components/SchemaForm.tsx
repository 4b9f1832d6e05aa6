import { useMemo, useState, type FormEvent } from "react";
import type { JsonSchema } from "../lib/types";

type Kind = "string" | "integer" | "number" | "boolean" | "enum" | "array" | "json";

export interface FieldSpec {
  name: string;
  title: string;
  description?: string;
  kind: Kind;
  required: boolean;
  nullable: boolean;
  options?: unknown[];
  default?: unknown;
  min?: number;
  max?: number;
}

function resolve(s: JsonSchema, root: JsonSchema): JsonSchema {
  if (s.$ref) {
    const name = s.$ref.split("/").pop()!;
    const target = root.$defs?.[name] ?? (root as { definitions?: Record<string, JsonSchema> }).definitions?.[name];
    return target ? { ...target, ...s, $ref: undefined } : s;
  }
  if (s.allOf && s.allOf.length === 1) return { ...resolve(s.allOf[0]!, root), ...s, allOf: undefined };
  return s;
}

/** Flatten a pydantic-style JSON schema into form fields. */
export function fieldsOf(schema: JsonSchema): FieldSpec[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, raw]) => {
    let s = resolve(raw, schema);
    let nullable = false;
    if (s.anyOf) {
      const variants = s.anyOf.map((v) => resolve(v, schema));
      nullable = variants.some((v) => v.type === "null");
      const main = variants.find((v) => v.type !== "null") ?? {};
      s = { ...main, title: s.title ?? main.title, description: s.description ?? main.description, default: s.default };
    }
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
    if (Array.isArray(s.type) && s.type.includes("null")) nullable = true;
    let kind: Kind = "json";
    if (s.enum) kind = "enum";
    else if (s.const !== undefined) kind = "enum";
    else if (type === "string" || type === "integer" || type === "number" || type === "boolean") kind = type;
    else if (type === "array" && s.items && ["string", "integer", "number"].includes(String(resolve(s.items, schema).type))) kind = "array";
    return {
      name,
      title: s.title ?? name,
      description: s.description,
      kind,
      required: required.has(name),
      nullable,
      options: s.enum ?? (s.const !== undefined ? [s.const] : undefined),
      default: s.default,
      min: s.minimum,
      max: s.maximum,
    };
  });
}

function initial(f: FieldSpec): string | boolean {
  if (f.kind === "boolean") return Boolean(f.default);
  if (f.default === undefined || f.default === null) return "";
  if (f.kind === "array") return (f.default as unknown[]).join("\n");
  if (f.kind === "json") return JSON.stringify(f.default, null, 1);
  return String(f.default);
}

/** Turn the form's strings into typed params; throws with a message naming the bad field. */
export function toParams(fields: FieldSpec[], values: Record<string, string | boolean>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = values[f.name];
    if (f.kind === "boolean") {
      out[f.name] = Boolean(v);
      continue;
    }
    const s = String(v ?? "").trim();
    if (s === "") {
      if (f.required) throw new Error(`${f.title} is required`);
      continue;
    }
    switch (f.kind) {
      case "integer":
      case "number": {
        const n = Number(s);
        if (!Number.isFinite(n) || (f.kind === "integer" && !Number.isInteger(n))) throw new Error(`${f.title} must be ${f.kind === "integer" ? "a whole number" : "a number"}`);
        out[f.name] = n;
        break;
      }
      case "array":
        out[f.name] = s.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
        break;
      case "json":
        try {
          out[f.name] = JSON.parse(s);
        } catch {
          throw new Error(`${f.title} must be JSON`);
        }
        break;
      case "enum": {
        const opt = f.options?.find((o) => String(o) === s);
        out[f.name] = opt ?? s;
        break;
      }
      default:
        out[f.name] = s;
    }
  }
  return out;
}

/** A form generated from a parameter JSON schema. */
export function SchemaForm({ schema, onSubmit, submitText = "Submit", busy = false, idPrefix = "f" }: {
  schema: JsonSchema;
  onSubmit: (params: Record<string, unknown>) => void;
  submitText?: string;
  busy?: boolean;
  idPrefix?: string;
}) {
  const fields = useMemo(() => fieldsOf(schema), [schema]);
  const [values, setValues] = useState<Record<string, string | boolean>>(() => Object.fromEntries(fields.map((f) => [f.name, initial(f)])));
  const [error, setError] = useState<string | null>(null);
  const set = (name: string, v: string | boolean) => setValues((old) => ({ ...old, [name]: v }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    try {
      setError(null);
      onSubmit(toParams(fields, values));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form className="schema-form" onSubmit={submit} noValidate>
      {fields.length === 0 && <p className="muted">This agent takes no parameters.</p>}
      {fields.map((f) => {
        const id = `${idPrefix}-${f.name}`;
        const v = values[f.name];
        return (
          <div className="field" key={f.name}>
            <label htmlFor={id} className="field-label">
              {f.title}
              {f.required && <span aria-hidden> *</span>}
            </label>
            {f.kind === "boolean" ? (
              <input id={id} name={f.name} type="checkbox" checked={Boolean(v)} onChange={(e) => set(f.name, e.target.checked)} />
            ) : f.kind === "enum" ? (
              <select id={id} name={f.name} value={String(v)} onChange={(e) => set(f.name, e.target.value)} required={f.required}>
                {!f.required && <option value="">—</option>}
                {f.options?.map((o) => (
                  <option key={String(o)} value={String(o)}>
                    {String(o)}
                  </option>
                ))}
              </select>
            ) : f.kind === "array" || f.kind === "json" ? (
              <textarea id={id} name={f.name} rows={3} value={String(v)} onChange={(e) => set(f.name, e.target.value)} placeholder={f.kind === "array" ? "one per line" : "JSON"} />
            ) : (
              <input
                id={id}
                name={f.name}
                type={f.kind === "string" ? (f.name.includes("pass") ? "password" : "text") : "number"}
                step={f.kind === "number" ? "any" : undefined}
                min={f.min}
                max={f.max}
                value={String(v)}
                required={f.required}
                onChange={(e) => set(f.name, e.target.value)}
              />
            )}
            {f.description && <span className="hint">{f.description}</span>}
          </div>
        );
      })}
      {error && <p className="form-error" role="alert">{error}</p>}
      <button type="submit" className="btn primary" disabled={busy}>
        {busy ? "Sending…" : submitText}
      </button>
    </form>
  );
}
