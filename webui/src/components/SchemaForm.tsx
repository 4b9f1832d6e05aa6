import { useMemo, useState, type FormEvent, type ReactNode } from "react";
import type { JsonSchema } from "../lib/types";
import { LocationPicker, locationLabel, type PickedLocation } from "./FilePicker";
import { usePools, useSnapshots, useVolumes } from "../hooks/useStorage";
import { useKeys } from "../hooks/useEncryption";
import { RichText } from "./RichText";

/** Plain inputs, or (for the fields that name things) pickers: a place in a volume
 * (`location`, `locations`), a pool, volume or snapshot from the lists, encryption keys by name. */
type Kind = "string" | "integer" | "number" | "boolean" | "enum" | "array" | "json"
  | "location" | "locations" | "pool" | "pools" | "volume" | "snapshot" | "key" | "keys";

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

const isLocation = (s: JsonSchema) => !!s.properties && "pool" in s.properties && "volume" in s.properties && ("subpath" in s.properties || "path" in s.properties);

/** The picker kind for a field, from its schema and its name (pool, volume, snapshot, key ids). */
function pickerKind(name: string, s: JsonSchema, type: string | undefined, root: JsonSchema): Kind | null {
  if (isLocation(s)) return "location";
  if (type === "array" && s.items && isLocation(resolve(s.items, root))) return "locations";
  const base = name.replace(/^(source|target|destination|from|to)_/, "");
  if (type === "string" && !s.enum) {
    if (base === "pool") return "pool";
    if (base === "volume") return "volume";
    if (base === "snapshot" || base === "base_snapshot") return "snapshot";
    if (base === "key_id" || base === "key") return "key";
  }
  if (type === "array" && s.items && resolve(s.items, root).type === "string") {
    if (base === "pools") return "pools";
    if (base === "key_ids" || base === "keys") return "keys";
  }
  return null;
}

/** Flatten a pydantic-style JSON schema into form fields. */
export const HERE = "__location__";
const LOCATION_PARTS = ["path", "pool", "volume", "subpath"];

export function fieldsOf(schema: JsonSchema): FieldSpec[] {
  const required = new Set(schema.required ?? []);
  // params that are themselves a location (pool, volume, subpath or path at the top): one picker
  const here: FieldSpec[] = isLocation(schema)
    ? [{ name: HERE, title: "Where", kind: "location", required: true, nullable: false, description: undefined }]
    : [];
  return [...here, ...Object.entries(schema.properties ?? {}).filter(([name]) => !here.length || !LOCATION_PARTS.includes(name)).map(([name, raw]) => {
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
    const picker = pickerKind(name, s, type, schema);
    if (picker) kind = picker;
    else if (s.enum) kind = "enum";
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
  })];
}

function initial(f: FieldSpec): unknown {
  if (f.kind === "boolean") return Boolean(f.default);
  if (f.kind === "location") return null;
  if (f.kind === "locations" || f.kind === "pools" || f.kind === "keys") return Array.isArray(f.default) && f.kind !== "locations" ? f.default.map(String) : [];
  if (f.default === undefined || f.default === null) return "";
  if (f.kind === "array") return (f.default as unknown[]).join("\n");
  if (f.kind === "json") return JSON.stringify(f.default, null, 1);
  return String(f.default);
}

const asLocation = (l: PickedLocation) => ({ pool: l.pool, volume: l.volume, subpath: l.path });

/** Turn the form's values into typed params; throws with a message naming the bad field. */
export function toParams(fields: FieldSpec[], values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = values[f.name];
    if (f.kind === "boolean") {
      out[f.name] = Boolean(v);
      continue;
    }
    if (f.kind === "location") {
      if (v && f.name === HERE) Object.assign(out, asLocation(v as PickedLocation));
      else if (v) out[f.name] = asLocation(v as PickedLocation);
      else if (f.required) throw new Error(`${f.title}: choose a file or folder`);
      continue;
    }
    if (f.kind === "locations" || f.kind === "pools" || f.kind === "keys") {
      const list = (v as unknown[] | undefined) ?? [];
      if (list.length) out[f.name] = f.kind === "locations" ? (list as PickedLocation[]).map(asLocation) : list;
      else if (f.required) throw new Error(`${f.title}: choose at least one`);
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

/** The sibling field that holds the pool (or volume) a volume (or snapshot) field belongs to. */
function sibling(name: string, want: "pool" | "volume", fields: FieldSpec[]): string | undefined {
  const prefix = name.match(/^(source_|target_|destination_|from_|to_)/)?.[1] ?? "";
  return fields.find((f) => f.name === `${prefix}${want}`)?.name ?? fields.find((f) => f.kind === want)?.name;
}

function PoolSelect({ id, value, onChange }: { id: string; value: string; onChange: (v: string) => void }) {
  const pools = usePools();
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">{pools.isLoading ? "loading…" : "—"}</option>
      {(pools.data ?? []).map((p) => <option key={p.name} value={p.name}>{p.name}</option>)}
    </select>
  );
}

function VolumeSelect({ id, pool, value, onChange }: { id: string; pool: string; value: string; onChange: (v: string) => void }) {
  const vols = useVolumes(pool || null);
  return (
    <select id={id} value={value} disabled={!pool} onChange={(e) => onChange(e.target.value)}>
      <option value="">{pool ? "—" : "choose the pool first"}</option>
      {(vols.data ?? []).map((v) => <option key={v.name} value={v.name}>{v.name}</option>)}
    </select>
  );
}

function SnapshotSelect({ id, pool, volume, value, onChange }: { id: string; pool: string; volume: string; value: string; onChange: (v: string) => void }) {
  const snaps = useSnapshots(pool || null, volume || null);
  return (
    <select id={id} value={value} disabled={!pool || !volume} onChange={(e) => onChange(e.target.value)}>
      <option value="">{pool && volume ? "—" : "choose the volume first"}</option>
      {(snaps.data ?? []).map((s) => <option key={s.name} value={s.name}>{s.name}</option>)}
    </select>
  );
}

function KeyChoice({ id, multi, value, onChange }: { id: string; multi: boolean; value: string | string[]; onChange: (v: string | string[]) => void }) {
  const keys = useKeys();
  const list = (keys.data ?? []).filter((k) => k.status !== "retired");
  if (!multi) {
    return (
      <select id={id} value={String(value)} onChange={(e) => onChange(e.target.value)}>
        <option value="">—</option>
        {list.map((k) => <option key={k.id} value={k.id}>{k.name ?? k.id}{k.post_quantum ? " (post-quantum)" : ""}</option>)}
      </select>
    );
  }
  const chosen = value as string[];
  return (
    <div id={id} role="group">
      {list.length === 0 && <span className="muted">No encryption keys yet.</span>}
      {list.map((k) => (
        <label key={k.id} className="check"><input type="checkbox" checked={chosen.includes(k.id)} onChange={(e) => onChange(e.target.checked ? [...chosen, k.id] : chosen.filter((x) => x !== k.id))} /> {k.name ?? k.id}</label>
      ))}
    </div>
  );
}

function PoolsChoice({ id, value, onChange }: { id: string; value: string[]; onChange: (v: string[]) => void }) {
  const pools = usePools();
  return (
    <div id={id} role="group">
      {(pools.data ?? []).map((p) => (
        <label key={p.name} className="check"><input type="checkbox" checked={value.includes(p.name)} onChange={(e) => onChange(e.target.checked ? [...value, p.name] : value.filter((x) => x !== p.name))} /> {p.name}</label>
      ))}
    </div>
  );
}

function LocationsChoice({ f, value, onChange }: { f: FieldSpec; value: PickedLocation[]; onChange: (v: PickedLocation[]) => void }) {
  const [next, setNext] = useState<PickedLocation | null>(null);
  return (
    <>
      {value.length > 0 && (
        <ul className="plain">{value.map((l, i) => (
          <li key={`${locationLabel(l)}-${i}`}>{locationLabel(l)} <button type="button" className="btn small" onClick={() => onChange(value.filter((_, j) => j !== i))} aria-label={`remove ${locationLabel(l)}`}>Remove</button></li>
        ))}</ul>
      )}
      <LocationPicker label={`Add to ${f.title}`} value={next} onChange={setNext} />
      <button type="button" className="btn small" disabled={!next} onClick={() => { if (next) { onChange([...value, next]); setNext(null); } }}>Add {next ? locationLabel(next) : ""}</button>
    </>
  );
}

/** A form generated from a parameter JSON schema. */
export function SchemaForm({ schema, onSubmit, submitText = "Submit", busy = false, idPrefix = "f", fieldErrors }: {
  schema: JsonSchema;
  /** problems the server found, by field name (from a 422) */
  fieldErrors?: Record<string, string>;
  onSubmit: (params: Record<string, unknown>) => void;
  submitText?: string;
  busy?: boolean;
  idPrefix?: string;
}) {
  const fields = useMemo(() => fieldsOf(schema), [schema]);
  const [values, setValues] = useState<Record<string, unknown>>(() => Object.fromEntries(fields.map((f) => [f.name, initial(f)])));
  const [error, setError] = useState<string | null>(null);
  const set = (name: string, v: unknown) => setValues((old) => ({ ...old, [name]: v }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    try {
      setError(null);
      onSubmit(toParams(fields, values));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const str = (name: string | undefined) => (name ? String(values[name] ?? "") : "");
  return (
    <form className="schema-form" onSubmit={submit} noValidate>
      {fields.length === 0 && <p className="muted">This agent takes no parameters.</p>}
      {fields.map((f) => {
        const id = `${idPrefix}-${f.name}`;
        const v = values[f.name];
        const hint = f.description ? <span className="hint"><RichText text={f.description} /></span> : null;
        const problem = f.name === HERE ? LOCATION_PARTS.map((k) => fieldErrors?.[k]).find(Boolean) ?? fieldErrors?.[""] : fieldErrors?.[f.name];
        let control: ReactNode;
        if (f.kind === "location") {
          return (
            <div className="field" key={f.name}>
              <LocationPicker name={f.name} label={f.title} value={(v as PickedLocation | null) ?? null} onChange={(l) => set(f.name, l)} error={problem} />
              {hint}
            </div>
          );
        }
        if (f.kind === "locations") control = <LocationsChoice f={f} value={(v as PickedLocation[]) ?? []} onChange={(l) => set(f.name, l)} />;
        else if (f.kind === "pool") control = <PoolSelect id={id} value={String(v ?? "")} onChange={(x) => set(f.name, x)} />;
        else if (f.kind === "volume") control = <VolumeSelect id={id} pool={str(sibling(f.name, "pool", fields))} value={String(v ?? "")} onChange={(x) => set(f.name, x)} />;
        else if (f.kind === "snapshot") {
          const volField = sibling(f.name, "volume", fields);
          control = <SnapshotSelect id={id} pool={str(volField ? sibling(volField, "pool", fields) : sibling(f.name, "pool", fields))} volume={str(volField)} value={String(v ?? "")} onChange={(x) => set(f.name, x)} />;
        } else if (f.kind === "key" || f.kind === "keys") control = <KeyChoice id={id} multi={f.kind === "keys"} value={(v as string | string[]) ?? (f.kind === "keys" ? [] : "")} onChange={(x) => set(f.name, x)} />;
        else if (f.kind === "pools") control = <PoolsChoice id={id} value={(v as string[]) ?? []} onChange={(x) => set(f.name, x)} />;
        else if (f.kind === "boolean") control = <input id={id} name={f.name} type="checkbox" checked={Boolean(v)} onChange={(e) => set(f.name, e.target.checked)} />;
        else if (f.kind === "enum") {
          control = (
            <select id={id} name={f.name} value={String(v)} onChange={(e) => set(f.name, e.target.value)}>
              {!f.required && <option value="">—</option>}
              {f.options?.map((o) => <option key={String(o)} value={String(o)}>{String(o)}</option>)}
            </select>
          );
        } else if (f.kind === "array" || f.kind === "json") {
          control = <textarea id={id} name={f.name} rows={3} value={String(v)} onChange={(e) => set(f.name, e.target.value)} placeholder={f.kind === "array" ? "one per line" : "JSON"} />;
        } else {
          control = (
            <input id={id} name={f.name} type={f.kind === "string" ? (f.name.includes("pass") ? "password" : "text") : "text"} inputMode={f.kind === "integer" ? "numeric" : f.kind === "number" ? "decimal" : undefined}
              value={String(v)} aria-invalid={!!problem} onChange={(e) => set(f.name, e.target.value)} />
          );
        }
        return (
          <div className={`field${problem ? " invalid" : ""}`} key={f.name}>
            <label htmlFor={id} className="field-label">
              {f.title}
              {f.required && <span aria-hidden> *</span>}
            </label>
            {control}
            {(f.min !== undefined || f.max !== undefined) && (f.kind === "integer" || f.kind === "number") && (
              <span className="hint">{f.min !== undefined && f.max !== undefined ? `from ${f.min} to ${f.max}` : f.min !== undefined ? `at least ${f.min}` : `at most ${f.max}`}</span>
            )}
            {hint}
            {problem && <span className="field-error" role="alert">{problem}</span>}
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
