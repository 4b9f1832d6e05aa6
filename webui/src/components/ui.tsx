import { useEffect, useId, useRef, type ReactNode } from "react";
import { errorMessage } from "../lib/api";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="state" role="status" aria-live="polite">
      <span className="spinner" aria-hidden /> {label}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <strong>Could not load:</strong> {errorMessage(error)}
      {retry && (
        <button type="button" className="btn small" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state empty">{children}</div>;
}

/** Loading / error / empty handling around a query's data. */
export function QueryState<T>({ q, empty, children }: {
  q: { data: T | undefined; isLoading: boolean; error: unknown; refetch: () => unknown };
  empty?: (d: T) => ReactNode | false;
  children: (d: T) => ReactNode;
}) {
  if (q.isLoading) return <Loading />;
  if (q.error && q.data === undefined) return <ErrorState error={q.error} retry={() => void q.refetch()} />;
  if (q.data === undefined) return null;
  const e = empty?.(q.data);
  if (e) return <Empty>{e}</Empty>;
  return <>{children(q.data)}</>;
}

export function ProgressBar({ value, label }: { value: number | null | undefined; label: string }) {
  const v = Math.max(0, Math.min(100, value ?? 0));
  // floor, not round: 99.9 % is not done
  const shown = Math.floor(v);
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.floor(v * 10) / 10} aria-valuetext={`${shown} %`}>
      <div className="progress-fill" style={{ width: `${v}%` }} />
      <span className="progress-text">{shown} %</span>
    </div>
  );
}

const TONE: Record<string, string> = {
  online: "ok", protected: "ok", pq: "ok", active: "ok", intact: "ok", healthy: "ok", ok: "ok", success: "ok", up: "ok", idle: "ok", loaded: "ok", unlocked: "ok", passed: "ok", finished: "ok", true: "ok",
  running: "info", busy: "info", waiting: "info", creating: "info", scrubbing: "info",
  degraded: "warn", warning: "warn", refused: "warn", locked: "warn", aborted: "warn", disabled: "warn", unknown: "warn",
  failed: "bad", faulted: "bad", error: "bad", critical: "bad", down: "bad", missing: "bad", false: "bad",
};

export function Badge({ value }: { value: string | boolean | null | undefined }) {
  const s = String(value ?? "—");
  return <span className={`badge ${TONE[s.toLowerCase()] ?? "neutral"}`}>{s}</span>;
}

export function Card({ title, actions, children, className = "" }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${className}`}>
      {(title || actions) && (
        <header className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

/** Toasts live in a popover (`#toasts`, see main.tsx): shown again after a dialog opens, they sit
 * above it in the top layer instead of under its backdrop. */
export function raiseToasts(): void {
  const t = document.getElementById("toasts") as (HTMLElement & { showPopover?: () => void; hidePopover?: () => void }) | null;
  if (!t?.showPopover) return;
  try {
    if (t.matches(":popover-open")) t.hidePopover?.();
    t.showPopover();
  } catch {
    /* no popover support: toasts stay in the page */
  }
}

/** A modal dialog on the native <dialog>: focus trapped, Escape closes. */
export function Modal({ open, title, onClose, children }: { open: boolean; title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      d.showModal?.();
      raiseToasts();
    }
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} className="modal" aria-labelledby={id} onClose={onClose} onCancel={onClose}>
      {open && (
        <>
          <h2 id={id}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}

/** A labelled input with its rule (hint) and, when the server or the form refused it, the problem. */
export function Field({ label, hint, error, children }: { label: string; hint?: ReactNode; error?: string | null; children: ReactNode }) {
  return (
    <label className={`field${error ? " invalid" : ""}`}>
      <span className="field-label">{label}</span>
      {children}
      {hint && <span className="hint">{hint}</span>}
      {error && <span className="field-error" role="alert">{error}</span>}
    </label>
  );
}

/** A problem shown under an inline input. */
export function FieldError({ error }: { error?: string | null }) {
  return error ? <span className="field-error" role="alert">{error}</span> : null;
}

function Value({ v }: { v: unknown }) {
  if (v === null || v === undefined || v === "") return <>—</>;
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== "object" || x === null)) return <>{v.length ? v.join(", ") : "—"}</>;
    return <code className="json">{JSON.stringify(v)}</code>;
  }
  if (typeof v === "object") {
    return (
      <ul className="plain nested">
        {Object.entries(v as Record<string, unknown>).map(([k, x]) => (
          <li key={k}><span className="muted">{k.replace(/_/g, " ")}:</span> {Array.isArray(x) && x.every((y) => typeof y !== "object" || y === null) ? (x.length ? x.join(", ") : "—") : typeof x === "object" && x !== null ? <code className="json">{JSON.stringify(x)}</code> : String(x ?? "—")}</li>
        ))}
      </ul>
    );
  }
  return <>{String(v)}</>;
}

export function KeyValues({ data, skip = [] }: { data: Record<string, unknown>; skip?: string[] }) {
  const entries = Object.entries(data).filter(([k]) => !skip.includes(k));
  return (
    <dl className="kv">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k.replace(/_/g, " ")}</dt>
          <dd><Value v={v} /></dd>
        </div>
      ))}
    </dl>
  );
}
