import type { ReactNode } from "react";
import { bytes, duration, when } from "../lib/format";

const BYTES = /(^|_)(bytes|size|used|free|total|available|reclaimable|capacity|saved|wasted|written|read)(_|$)|_bytes$/;
const SECONDS = /(^|_)(seconds|duration|elapsed|age)(_|$)|_s$/;
const PERCENT = /(percent|_pct$|^pct$|fill$)/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;

/** "reclaimable_bytes" → "Reclaimable" ; "mb_per_s" → "MB per s" */
export function label(key: string): string {
  const words = key.replace(/_bytes$/, "").replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** One value, for a person: sizes in KiB/MiB/GiB, seconds as durations, times as local dates. */
export function human(key: string, v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") {
    const k = key.toLowerCase();
    if (BYTES.test(k) && !/count|files|number/.test(k)) return bytes(v);
    if (SECONDS.test(k)) return duration(v);
    if (PERCENT.test(k)) return `${Number.isInteger(v) ? v : v.toFixed(1)} %`;
    return Number.isInteger(v) ? v.toLocaleString() : v.toLocaleString(undefined, { maximumFractionDigits: 3 });
  }
  if (typeof v === "string") return ISO.test(v) ? when(v) : v;
  if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return v.length ? v.map((x) => human(key, x)).join(", ") : "none";
  return JSON.stringify(v);
}

const isScalar = (v: unknown) => v === null || typeof v !== "object" || (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null));

function Table({ rows, max = 50 }: { rows: Record<string, unknown>[]; max?: number }) {
  const cols = [...new Set(rows.slice(0, 20).flatMap((r) => Object.keys(r)))].filter((c) => rows.some((r) => isScalar(r[c]))).slice(0, 8);
  return (
    <>
      <table>
        <thead><tr>{cols.map((c) => <th key={c}>{label(c)}</th>)}</tr></thead>
        <tbody>{rows.slice(0, max).map((r, i) => (
          <tr key={i}>{cols.map((c) => <td key={c} className="wrap">{isScalar(r[c]) ? human(c, r[c]) : "…"}</td>)}</tr>
        ))}</tbody>
      </table>
      {rows.length > max && <p className="muted">and {rows.length - max} more (see the details).</p>}
    </>
  );
}

function Body({ data, depth }: { data: unknown; depth: number }): ReactNode {
  if (isScalar(data)) return <p>{human("", data)}</p>;
  if (Array.isArray(data)) {
    if (data.length === 0) return <p className="muted">Nothing found.</p>;
    return <Table rows={data.map((x) => (x && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : { value: x }))} />;
  }
  const entries = Object.entries(data as Record<string, unknown>);
  const flat = entries.filter(([, v]) => isScalar(v));
  const nested = entries.filter(([, v]) => !isScalar(v) && Object.keys(v as object).length > 0);
  return (
    <>
      {flat.length > 0 && (
        <dl className="kv">{flat.map(([k, v]) => <div key={k}><dt>{label(k)}</dt><dd>{human(k, v)}</dd></div>)}</dl>
      )}
      {depth < 2 && nested.map(([k, v]) => (
        <div key={k} className="result-section">
          <h3>{label(k)}</h3>
          <Body data={v} depth={depth + 1} />
        </div>
      ))}
    </>
  );
}

/** A task or job result as a readable summary (sizes humanised, lists as tables), the raw JSON
 * behind a "Details" toggle. */
export function ResultView({ data }: { data: unknown }) {
  if (data === null || data === undefined) return <p className="muted">No result.</p>;
  return (
    <div className="result" data-testid="result">
      <Body data={data} depth={0} />
      <details>
        <summary>Details (raw data)</summary>
        <pre className="json">{JSON.stringify(data, null, 2)}</pre>
      </details>
    </div>
  );
}
