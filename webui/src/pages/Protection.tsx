import { useState, type FormEvent } from "react";
import { Badge, Card, Empty, Field, FieldError, Modal, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import {
  describeCron, fromCron, KIND_TITLE, label, toCron, useDeleteTask, useProtectionTasks, useRunTask, useSaveTask, useSchedulePreview,
  useTaskRuns, useToggleTask, WEEKDAYS, type Preset, type ProtectionRun, type ProtectionTask, type Retention, type ScheduleForm, type TaskKind,
} from "../hooks/useProtection";
import { useBackends, useDisks, usePools, useVolumes } from "../hooks/useStorage";
import { errorMessage } from "../lib/api";
import { fieldErrors } from "../lib/errors";
import { ago, when } from "../lib/format";
import { useCapabilities } from "../hooks/useCapabilities";
import { ReplicationSection } from "../components/Replication";
import { ReplicationTargets } from "../components/ReplicationTargets";

const KINDS: TaskKind[] = ["snapshot", "scrub", "smart_test", "replication"];
const RULES: { key: keyof Retention; label: string }[] = [
  { key: "keep_last", label: "Keep last" }, { key: "hourly", label: "Hourly" }, { key: "daily", label: "Daily" },
  { key: "weekly", label: "Weekly" }, { key: "monthly", label: "Monthly" }, { key: "yearly", label: "Yearly" },
];
const NO_RETENTION: Retention = { keep_last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 };
const PRESETS: { value: Preset; label: string }[] = [
  { value: "hourly", label: "Every hour" }, { value: "daily", label: "Every day" }, { value: "weekly", label: "Every week" },
  { value: "monthly", label: "Every month" }, { value: "custom", label: "Custom (cron)" },
];

/** Error fields the form shows next to an input; a problem elsewhere is shown under the form. */
const SHOWN = new Set(["kind", "name", "schedule", "params.pool", "params.volume", "params.naming_schema", "params.disk", "params.type",
  "params.target_pool", "params.target_volume", "params.match", "params.method", ...RULES.map((r) => `params.retention.${r.key}`)]);

const str = (v: unknown, d = "") => (typeof v === "string" ? v : d);

/** Pools offered for a task kind: those whose backend can do the work (others shown, disabled). */
function PoolSelect({ label: text, value, onChange, need, error, name }: { label: string; value: string; onChange: (v: string) => void; need?: string; error?: string; name: string }) {
  const pools = usePools();
  const backends = useBackends();
  const caps = new Map((backends.data ?? []).map((b) => [b.name, b.capabilities]));
  const list = pools.data ?? [];
  return (
    <Field label={text} error={error}>
      <select name={name} value={value} aria-invalid={!!error} onChange={(e) => onChange(e.target.value)}>
        <option value="">{pools.isLoading ? "Loading pools…" : list.length ? "Choose a pool" : "No pools"}</option>
        {list.map((p) => {
          const ok = !need || caps.get(p.backend)?.[need] !== false;
          return <option key={p.name} value={p.name} disabled={!ok}>{p.name} ({p.backend}){ok ? "" : ` — no ${need}`}</option>;
        })}
      </select>
    </Field>
  );
}

function VolumeSelect({ pool, value, onChange, error, label: text = "Volume", name }: { pool: string; value: string; onChange: (v: string) => void; error?: string; label?: string; name: string }) {
  const vols = useVolumes(pool || null);
  const list = vols.data ?? [];
  return (
    <Field label={text} error={error}>
      <select name={name} value={value} aria-invalid={!!error} disabled={!pool} onChange={(e) => onChange(e.target.value)}>
        <option value="">{!pool ? "Choose a pool first" : vols.isLoading ? "Loading volumes…" : list.length ? "Choose a volume" : "No volumes in this pool"}</option>
        {list.map((v) => <option key={v.name} value={v.name}>{v.name}</option>)}
      </select>
    </Field>
  );
}

function ScheduleFields({ s, set, error }: { s: ScheduleForm; set: (s: ScheduleForm) => void; error?: string }) {
  const expr = toCron(s);
  const preview = useSchedulePreview(expr);
  const problem = error ?? (preview.error ? fieldErrors(preview.error).schedule ?? "Not a valid cron expression." : undefined);
  return (
    <fieldset className="field">
      <legend className="field-label">Schedule (UTC)</legend>
      <div className="inline">
        <label className="field">
          <span className="sr-only">Repeat</span>
          <select name="schedule-preset" aria-label="Repeat" value={s.preset} onChange={(e) => set({ ...s, preset: e.target.value as Preset, cron: s.preset === "custom" ? s.cron : expr })}>
            {PRESETS.map((p) => <option key={p.value} value={p.value}>{p.label}</option>)}
          </select>
        </label>
        {s.preset === "hourly" && (
          <label>at minute <input name="schedule-minute" aria-label="Minute past the hour" type="number" min={0} max={59} value={s.minute} onChange={(e) => set({ ...s, minute: Math.max(0, Math.min(59, Number(e.target.value) || 0)) })} style={{ width: "5em" }} /></label>
        )}
        {s.preset === "weekly" && (
          <label>on <select name="schedule-weekday" aria-label="Weekday" value={s.weekday} onChange={(e) => set({ ...s, weekday: Number(e.target.value) })}>
            {WEEKDAYS.map((d, i) => <option key={d} value={i}>{d}</option>)}
          </select></label>
        )}
        {s.preset === "monthly" && (
          <label>on day <input name="schedule-day" aria-label="Day of the month" type="number" min={1} max={28} value={s.day} onChange={(e) => set({ ...s, day: Math.max(1, Math.min(28, Number(e.target.value) || 1)) })} style={{ width: "5em" }} /></label>
        )}
        {(s.preset === "daily" || s.preset === "weekly" || s.preset === "monthly") && (
          <label>at <input name="schedule-time" aria-label="Time (UTC)" type="time" value={s.time} onChange={(e) => set({ ...s, time: e.target.value || "00:00" })} /></label>
        )}
        {s.preset === "custom" && (
          <label className="field">
            <input name="schedule-cron" aria-label="Cron expression" placeholder="minute hour day month weekday" value={s.cron} aria-invalid={!!problem} onChange={(e) => set({ ...s, cron: e.target.value })} />
          </label>
        )}
      </div>
      <span className="hint">
        {describeCron(expr)}
        {preview.data && ` · next: ${preview.data.next.map(when).join(", ")}`}
        {s.preset === "custom" && " · 5 fields: minute hour day-of-month month day-of-week (e.g. 30 2 * * 1-5)"}
      </span>
      <FieldError error={problem} />
    </fieldset>
  );
}

interface FormState {
  kind: TaskKind;
  name: string;
  enabled: boolean;
  schedule: ScheduleForm;
  pool: string;
  volume: string;
  naming_schema: string;
  retention: Retention;
  disk: string;
  type: string;
  target_pool: string;
  target_volume: string;
  match: string;
  method: string;
}

function initial(task: ProtectionTask | null, kind: TaskKind): FormState {
  const p = task?.params ?? {};
  return {
    kind: task?.kind ?? kind,
    name: task?.name ?? "",
    enabled: task?.enabled ?? true,
    schedule: task ? fromCron(task.schedule) : { preset: kind === "snapshot" ? "hourly" : kind === "smart_test" ? "weekly" : kind === "scrub" ? "monthly" : "daily", minute: 0, time: "02:00", weekday: 6, day: 1, cron: "0 2 * * *" },
    pool: str(p.pool),
    volume: str(p.volume),
    naming_schema: str(p.naming_schema, "auto-%Y%m%d-%H%M"),
    retention: { ...NO_RETENTION, ...((p.retention as Retention | undefined) ?? (task ? {} : { hourly: 24, daily: 7, weekly: 4, monthly: 6 })) },
    disk: str(p.disk),
    type: str(p.type, "short"),
    target_pool: str(p.target_pool),
    target_volume: str(p.target_volume),
    match: str(p.match, "*"),
    method: str(p.method, "auto"),
  };
}

function paramsOf(f: FormState): Record<string, unknown> {
  switch (f.kind) {
    case "snapshot": return { pool: f.pool, volume: f.volume, naming_schema: f.naming_schema, retention: f.retention };
    case "scrub": return { pool: f.pool };
    case "smart_test": return { disk: f.disk, type: f.type };
    default: return { pool: f.pool, volume: f.volume, target_pool: f.target_pool, target_volume: f.target_volume.trim() || null, match: f.match || "*", method: f.method };
  }
}

function TaskForm({ task, kind, onDone }: { task: ProtectionTask | null; kind: TaskKind; onDone: () => void }) {
  const [f, setF] = useState<FormState>(() => initial(task, kind));
  const save = useSaveTask();
  const disks = useDisks(f.kind === "smart_test");
  const errs = fieldErrors(save.error);
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => {
    setF((o) => ({ ...o, [k]: v }));
    if (save.error) save.reset();   // a corrected field no longer shows the old refusal
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ id: task?.id, body: { kind: f.kind, name: f.name, enabled: f.enabled, schedule: toCron(f.schedule), params: paramsOf(f) } }, { onSuccess: onDone });
  };
  const allZero = RULES.every((r) => !f.retention[r.key]);
  return (
    <form onSubmit={submit} className="form-grid" noValidate>
      {!task && (
        <Field label="Task" error={errs.kind}>
          <select name="kind" value={f.kind} onChange={(e) => setF(initial(null, e.target.value as TaskKind))}>
            {KINDS.map((k) => <option key={k} value={k}>{KIND_TITLE[k]}</option>)}
          </select>
        </Field>
      )}
      {(f.kind === "snapshot" || f.kind === "scrub" || f.kind === "replication") && (
        <PoolSelect name="pool" label={f.kind === "replication" ? "Source pool" : "Pool"} value={f.pool} need={f.kind === "scrub" ? "scrub" : f.kind === "snapshot" ? "snapshots" : undefined}
          onChange={(v) => setF((o) => ({ ...o, pool: v, volume: "" }))} error={errs["params.pool"]} />
      )}
      {(f.kind === "snapshot" || f.kind === "replication") && (
        <VolumeSelect name="volume" label={f.kind === "replication" ? "Source volume" : "Volume"} pool={f.pool} value={f.volume} onChange={(v) => set("volume", v)} error={errs["params.volume"]} />
      )}
      {f.kind === "snapshot" && (
        <>
          <Field label="Snapshot names" hint="strftime schema, UTC (e.g. auto-%Y%m%d-%H%M). Only snapshots named by it are pruned; snapshots you make by hand are never touched." error={errs["params.naming_schema"]}>
            <input name="naming_schema" value={f.naming_schema} aria-invalid={!!errs["params.naming_schema"]} onChange={(e) => set("naming_schema", e.target.value)} />
          </Field>
          <fieldset className="field">
            <legend className="field-label">Retention: how many snapshots to keep</legend>
            <div className="inline">
              {RULES.map((r) => (
                <label key={r.key} className="field">
                  <span className="field-label">{r.label}</span>
                  <input name={`retention-${r.key}`} type="number" min={0} value={f.retention[r.key]} aria-invalid={!!errs[`params.retention.${r.key}`]} style={{ width: "6em" }}
                    onChange={(e) => set("retention", { ...f.retention, [r.key]: Math.max(0, Math.floor(Number(e.target.value) || 0)) })} />
                  <FieldError error={errs[`params.retention.${r.key}`]} />
                </label>
              ))}
            </div>
            <span className="hint">{allZero ? "All zero: every snapshot is kept." : "Each rule keeps the newest snapshot of that many hours, days, weeks…; a snapshot any rule keeps stays."}</span>
          </fieldset>
        </>
      )}
      {f.kind === "smart_test" && (
        <>
          <Field label="Disk" error={errs["params.disk"]}>
            <select name="disk" value={f.disk} aria-invalid={!!errs["params.disk"]} onChange={(e) => set("disk", e.target.value)}>
              <option value="">{disks.isLoading ? "Loading disks…" : (disks.data ?? []).length ? "Choose a disk" : "No disks"}</option>
              {(disks.data ?? []).map((d) => <option key={d.name} value={d.name}>{d.name}{d.model ? ` — ${d.model}` : ""}{d.serial ? ` (${d.serial})` : ""}</option>)}
            </select>
          </Field>
          <Field label="Test" error={errs["params.type"]}>
            <select name="type" value={f.type} onChange={(e) => set("type", e.target.value)}>
              <option value="short">Short (minutes)</option>
              <option value="long">Long / extended (hours)</option>
              <option value="conveyance">Conveyance</option>
              <option value="offline">Offline data collection</option>
            </select>
          </Field>
        </>
      )}
      {f.kind === "replication" && (
        <>
          <PoolSelect name="target_pool" label="Target pool" value={f.target_pool} onChange={(v) => set("target_pool", v)} error={errs["params.target_pool"]} />
          <Field label="Target volume" hint="Optional: default is the source volume's name. Created on the target when missing." error={errs["params.target_volume"]}>
            <input name="target_volume" value={f.target_volume} placeholder={f.volume || "same as the source"} onChange={(e) => set("target_volume", e.target.value)} />
          </Field>
          <Field label="Snapshots to replicate" hint="A glob: * is every snapshot, auto-* only the periodic ones." error={errs["params.match"]}>
            <input name="match" value={f.match} onChange={(e) => set("match", e.target.value)} />
          </Field>
          <Field label="Method" error={errs["params.method"]}>
            <select name="method" value={f.method} onChange={(e) => set("method", e.target.value)}>
              <option value="auto">Automatic (native send/receive where both sides can)</option>
              <option value="native">Native send/receive only</option>
              <option value="copy">Copy changed files</option>
            </select>
          </Field>
        </>
      )}
      <ScheduleFields s={f.schedule} set={(s) => set("schedule", s)} error={errs.schedule} />
      <Field label="Label (optional)" error={errs.name}>
        <input name="task-name" value={f.name} maxLength={100} onChange={(e) => set("name", e.target.value)} />
      </Field>
      <label className="check"><input type="checkbox" name="enabled" checked={f.enabled} onChange={(e) => set("enabled", e.target.checked)} /> Enabled</label>
      {save.error && !Object.keys(errs).some((k) => SHOWN.has(k)) && <FieldError error={errorMessage(save.error)} />}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={save.isPending}>{task ? "Save" : "Create task"}</button>
      </div>
    </form>
  );
}

function RunState({ run }: { run: ProtectionRun | null }) {
  if (!run) return <span className="muted">never</span>;
  return <span title={run.error ?? undefined}><Badge value={run.state} /> <small className="muted">{ago(run.started_at)}</small></span>;
}

function summary(run: ProtectionRun): string {
  if (run.error) return run.error;
  const r = run.result as Record<string, unknown> | null;
  if (!r) return "";
  if (typeof r.snapshot === "string") {
    const deleted = (r.deleted as string[] | undefined) ?? [];
    return `created ${r.snapshot}${deleted.length ? `, pruned ${deleted.length}: ${deleted.join(", ")}` : ""}`;
  }
  if (Array.isArray(r.sent)) return r.up_to_date ? "up to date" : `sent ${(r.sent as { snapshot: string }[]).map((s) => s.snapshot).join(", ")}`;
  const inner = r.result as Record<string, unknown> | undefined;
  if (inner && typeof inner === "object") {
    if ("errors" in inner) return `scrub finished, ${String(inner.errors)} errors`;
    if ("health" in inner) return `SMART ${String(inner.type)} test, health ${String(inner.health)}`;
  }
  return "";
}

function History({ task }: { task: ProtectionTask }) {
  const runs = useTaskRuns(task.id);
  return (
    <QueryState q={runs} empty={(d) => d.items.length === 0 && "No runs yet."}>
      {(page) => (
        <>
          <table>
            <thead><tr><th>Started</th><th>How</th><th>State</th><th>Finished</th><th>Outcome</th><th>Job</th></tr></thead>
            <tbody>
              {page.items.map((r) => (
                <tr key={r.id} data-testid={`run-${r.id}`}>
                  <td>{when(r.started_at)}</td>
                  <td>{r.trigger === "manual" ? "run now" : "schedule"}</td>
                  <td><Badge value={r.state} /></td>
                  <td>{when(r.finished_at)}</td>
                  <td className={r.error ? "field-error" : undefined}>{summary(r)}</td>
                  <td>{r.job_id ? <a href="#/jobs" title={r.job_id}><code>{r.job_id.slice(0, 8)}</code></a> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.total > page.items.length && <p className="muted">Showing the newest {page.items.length} of {page.total} runs.</p>}
        </>
      )}
    </QueryState>
  );
}

function TaskTable({ tasks, onEdit, onHistory }: { tasks: ProtectionTask[]; onEdit: (t: ProtectionTask) => void; onHistory: (t: ProtectionTask) => void }) {
  const toggle = useToggleTask();
  const run = useRunTask();
  const remove = useDeleteTask();
  const confirm = useConfirm();
  return (
    <table>
      <thead><tr><th>Target</th><th>Schedule</th><th>Last run</th><th>Next run</th><th>Enabled</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
      <tbody>
        {tasks.map((t) => (
          <tr key={t.id} data-testid={`task-${t.id}`}>
            <td><strong>{t.target}</strong>{t.name && <div className="muted">{t.name}</div>}</td>
            <td title={t.schedule}>{describeCron(t.schedule)} <small className="muted">UTC</small></td>
            <td>{t.running ? <Badge value="running" /> : <RunState run={t.last_run} />}</td>
            <td data-testid="next-run">{t.enabled ? when(t.next_run) : <span className="muted">disabled</span>}</td>
            <td>
              <label className="check">
                <input type="checkbox" className="needs-admin" aria-label={`enable ${label(t)}`} checked={t.enabled} onChange={(e) => toggle.mutate({ id: t.id, enabled: e.target.checked })} />
                <span className="sr-only">{t.enabled ? "on" : "off"}</span>
              </label>
            </td>
            <td className="actions">
              <button type="button" className="btn small needs-admin" disabled={t.running || run.isPending} onClick={() => run.mutate(t)}>Run now</button>
              <button type="button" className="btn small" onClick={() => onHistory(t)}>History</button>
              <button type="button" className="btn small needs-admin" onClick={() => onEdit(t)}>Edit</button>
              <button type="button" className="btn small danger needs-admin" onClick={async () => {
                if (await confirm({ title: "Delete task", message: `Delete ${label(t)} and its history? Snapshots it made stay.`, confirmText: "Delete", danger: true })) remove.mutate(t);
              }}>Delete</button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default function Protection() {
  const tasks = useProtectionTasks();
  const [editing, setEditing] = useState<{ task: ProtectionTask | null; kind: TaskKind } | null>(null);
  const [history, setHistory] = useState<ProtectionTask | null>(null);
  const caps = useCapabilities();
  const toNodes = caps.has("/replication");
  return (
    <div className="page">
      <div className="inline" style={{ justifyContent: "space-between" }}>
        <h1>Data protection</h1>
        <button type="button" className="btn primary needs-admin" onClick={() => setEditing({ task: null, kind: "snapshot" })}>New task</button>
      </div>
      <p className="muted">Periodic snapshots with retention, scrubs, SMART self-tests and replication, run on a schedule (times in UTC).</p>
      <QueryState q={tasks}>
        {(list) => (
          <>
            {KINDS.map((k) => {
              const mine = list.filter((t) => t.kind === k);
              return (
                <Card key={k} title={k === "replication" && toNodes ? "Replication between pools of this node" : KIND_TITLE[k]} actions={<button type="button" className="btn small needs-admin" onClick={() => setEditing({ task: null, kind: k })}>Add</button>}>
                  {mine.length === 0 ? <Empty>No {KIND_TITLE[k].toLowerCase()} yet.</Empty> : <TaskTable tasks={mine} onEdit={(t) => setEditing({ task: t, kind: t.kind })} onHistory={setHistory} />}
                </Card>
              );
            })}
          </>
        )}
      </QueryState>
      {toNodes && <ReplicationSection />}
      {toNodes && <ReplicationTargets />}
      <Modal open={!!editing} title={editing?.task ? `Edit ${label(editing.task)}` : "New data protection task"} onClose={() => setEditing(null)}>
        {editing && <TaskForm key={editing.task?.id ?? editing.kind} task={editing.task} kind={editing.kind} onDone={() => setEditing(null)} />}
      </Modal>
      <Modal open={!!history} title={history ? `History of ${label(history)}` : "History"} onClose={() => setHistory(null)}>
        {history && <History task={history} />}
        <div className="modal-actions"><button type="button" className="btn" onClick={() => setHistory(null)}>Close</button></div>
      </Modal>
    </div>
  );
}
