/** Replication to other SigmaVault nodes over PhantomMesh (the replication plugin): tasks with
 * their live progress, a form made of pickers, run now, history, and restores from the replica. */
import { useState, type FormEvent } from "react";
import { Badge, Card, Field, Modal, ProgressBar, QueryState } from "./ui";
import { useConfirm } from "./confirm";
import { FileBrowser, type PickedLocation } from "./FilePicker";
import {
  useCreateReplTask, useDeleteReplTask, useFleet, useReplica, replicaFilesUrl, useReplicationRuns, useReplicationTasks, useRestoreRepl, useRunReplTask,
  useToggleReplTask, type ReplRun, type ReplTask, type ReplTaskBody, type ReplicaSnapshot,
} from "./ReplicationApi";
import { describeCron, toCron, WEEKDAYS, type ScheduleForm } from "../hooks/useProtection";
import { useMesh } from "../hooks/useMesh";
import { useJob } from "../hooks/useJobs";
import { useBackends, usePools, useSnapshots, useVolumes } from "../hooks/useStorage";
import { errorMessage } from "../lib/api";
import { fieldErrors } from "../lib/errors";
import { bytes, duration, when } from "../lib/format";

/** Seconds since the epoch (the replication API's times) as the ISO text `when` takes. */
export const iso = (t: number | string | null | undefined): string | null =>
  t === null || t === undefined ? null : typeof t === "number" ? new Date(t * 1000).toISOString() : t;

export const taskLabel = (t: Pick<ReplTask, "pool" | "volume" | "peer" | "target_pool">) => `${t.pool}/${t.volume} → ${t.peer} (${t.target_pool})`;

/** A run in a few words: what was sent, or why not. */
export function runSummary(r: ReplRun): string {
  if (r.state === "running") return "running";
  if (r.error) return r.error.replace(/^[a-z_]+: /, "");
  const res = r.result;
  if (!res) return r.state;
  if (res.up_to_date) return "already up to date";
  const n = res.sent?.length ?? 0;
  return `${n} snapshot${n === 1 ? "" : "s"} sent, ${bytes(res.bytes ?? 0)}${res.seconds != null ? ` in ${duration(res.seconds)}` : ""}${res.retries ? `, ${res.retries} retries` : ""}`;
}

/** The running job's progress, live from its `job.progress` events. */
function RunProgress({ task }: { task: ReplTask }) {
  const job = useJob(task.running ? task.last_run?.job_id : null);
  if (!task.running) return null;
  const p = job.data?.progress;
  return (
    <div data-testid="repl-progress">
      <ProgressBar label={`replication ${task.pool}/${task.volume}`} value={p?.percent ?? 0} />
      {p?.description && <div className="muted small">{p.description}{p.bytes_total ? ` · ${bytes(p.bytes_done ?? 0)} of ${bytes(p.bytes_total)}` : ""}</div>}
    </div>
  );
}

type SchedulePick = "manual" | "hourly" | "daily" | "weekly";

/** The form: source pool and volume, the target node by name, its pool, a schedule; no typing of IDs. */
export function ReplicationForm({ onDone }: { onDone: () => void }) {
  const create = useCreateReplTask();
  const pools = usePools();
  const backends = useBackends();
  const mesh = useMesh();
  const fleet = useFleet();
  const [f, setF] = useState({ name: "", pool: "", volume: "", peer: "", target_pool: "", target_volume: "", keep_last: "0", take_snapshot: true, encrypt: false, bwlimit: "" });
  const [when_, setWhen] = useState<SchedulePick>("daily");
  const [s, setS] = useState<ScheduleForm>({ preset: "daily", minute: 0, time: "02:00", weekday: 0, day: 1, cron: "" });
  const vols = useVolumes(f.pool || null);
  const errs = fieldErrors(create.error);
  const set = <K extends keyof typeof f>(k: K, v: (typeof f)[K]) => setF((o) => ({ ...o, [k]: v }));
  const caps = new Map((backends.data ?? []).map((b) => [b.name, b.capabilities]));
  const nodes = (mesh.data?.peers ?? []).filter((p) => p.node !== false);
  const peerNode = (fleet.data ?? []).find((n) => n.peer === f.peer);
  const schedule = when_ === "manual" ? null : toCron({ ...s, preset: when_ });
  const [missing, setMissing] = useState<Record<string, string>>({});
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const need: Record<string, string> = {};
    if (!f.pool) need.pool = "Choose the pool to replicate from.";
    if (!f.volume) need.volume = "Choose the volume to replicate.";
    if (!f.peer) need.peer = "Choose the node to replicate to.";
    if (!f.target_pool) need.target_pool = "Choose a pool on that node.";
    setMissing(need);
    if (Object.keys(need).length) return;
    const body: ReplTaskBody = {
      name: f.name, pool: f.pool, volume: f.volume, peer: f.peer, target_pool: f.target_pool, schedule,
      take_snapshot: f.take_snapshot, retention: { keep_last: Number(f.keep_last) || 0 },
      bwlimit: f.bwlimit ? Math.round(Number(f.bwlimit) * 1024 * 1024) : null, encrypt: f.encrypt,
    };
    if (f.target_volume.trim()) body.target_volume = f.target_volume.trim();
    create.mutate(body, { onSuccess: onDone });
  };
  const err = (k: string) => missing[k] ?? errs[k];
  const poolList = pools.data ?? [];
  const other = create.error && !Object.keys(errs).length ? errorMessage(create.error) : null;
  return (
    <form onSubmit={submit} className="form-grid" noValidate aria-label="New replication">
      <Field label="Source pool" error={err("pool")}>
        <select name="repl-pool" value={f.pool} onChange={(e) => setF((o) => ({ ...o, pool: e.target.value, volume: "" }))}>
          <option value="">{pools.isLoading ? "Loading pools…" : poolList.length ? "Choose a pool" : "No pools"}</option>
          {poolList.map((p) => {
            const ok = caps.get(p.backend)?.send_receive !== false;
            return <option key={p.name} value={p.name} disabled={!ok}>{p.name} ({p.backend}){ok ? "" : " — cannot send snapshots"}</option>;
          })}
        </select>
      </Field>
      <Field label="Source volume" error={err("volume")}>
        <select name="repl-volume" value={f.volume} disabled={!f.pool} onChange={(e) => set("volume", e.target.value)}>
          <option value="">{!f.pool ? "Choose a pool first" : vols.isLoading ? "Loading volumes…" : (vols.data ?? []).length ? "Choose a volume" : "No volumes in this pool"}</option>
          {(vols.data ?? []).map((v) => <option key={v.name} value={v.name}>{v.name}</option>)}
        </select>
      </Field>
      <Field label="Target node" error={err("peer")} hint={mesh.isLoading ? undefined : nodes.length ? "A SigmaVault node joined to this one over PhantomMesh." : "No node has joined this one yet: invite one on the PhantomMesh page."}>
        <select name="repl-peer" value={f.peer} onChange={(e) => setF((o) => ({ ...o, peer: e.target.value, target_pool: "" }))}>
          <option value="">{mesh.isLoading ? "Loading nodes…" : nodes.length ? "Choose a node" : "No mesh nodes"}</option>
          {nodes.map((p) => <option key={p.name} value={p.name}>{p.name}{p.up ? "" : " (not connected)"}</option>)}
        </select>
      </Field>
      <Field label="Pool on the target node" error={err("target_pool")}
        hint={!f.peer ? undefined : fleet.isLoading ? "Asking the node for its pools…" : !peerNode ? "This node did not answer." : !peerNode.reachable ? `Cannot reach ${f.peer}${peerNode.error ? `: ${peerNode.error}` : ""}.` : `That node must allow this one into the pool (its Data protection page, “Accept replicas”).`}>
        <select name="repl-target-pool" value={f.target_pool} disabled={!peerNode?.pools.length} onChange={(e) => set("target_pool", e.target.value)}>
          <option value="">{!f.peer ? "Choose a node first" : peerNode?.pools.length ? "Choose a pool" : "No pools known"}</option>
          {(peerNode?.pools ?? []).map((p) => <option key={p.name} value={p.name}>{p.name}{p.backend ? ` (${p.backend})` : ""}{p.free != null ? ` — ${bytes(p.free)} free` : ""}</option>)}
        </select>
      </Field>
      <Field label="Volume name on the target (optional)" hint="default: the source volume's name; it must not be one of that node's own volumes" error={err("target_volume")}>
        <input name="repl-target-volume" value={f.target_volume} placeholder={f.volume || undefined} maxLength={64} onChange={(e) => set("target_volume", e.target.value)} />
      </Field>
      <fieldset className="field">
        <legend className="field-label">When</legend>
        <div className="inline">
          <select name="repl-when" aria-label="Repeat" value={when_} onChange={(e) => setWhen(e.target.value as SchedulePick)}>
            <option value="manual">Only when started by hand</option>
            <option value="hourly">Every hour</option>
            <option value="daily">Every day</option>
            <option value="weekly">Every week</option>
          </select>
          {when_ === "weekly" && (
            <label>on <select aria-label="Weekday" value={s.weekday} onChange={(e) => setS({ ...s, weekday: Number(e.target.value) })}>
              {WEEKDAYS.map((d, i) => <option key={d} value={i}>{d}</option>)}
            </select></label>
          )}
          {(when_ === "daily" || when_ === "weekly") && <label>at <input aria-label="Time (UTC)" type="time" value={s.time} onChange={(e) => setS({ ...s, time: e.target.value || "00:00" })} /></label>}
        </div>
        <span className="hint">{schedule ? `${describeCron(schedule)} (UTC)` : "Run now starts it."}</span>
        {errs.schedule && <span className="field-error" role="alert">{errs.schedule}</span>}
      </fieldset>
      <label className="check"><input type="checkbox" name="repl-take-snapshot" checked={f.take_snapshot} onChange={(e) => set("take_snapshot", e.target.checked)} /> Take a snapshot before each run</label>
      <Field label="Snapshots kept on the target" hint="0 keeps all; the newest common one is always kept" error={err("retention.keep_last")}>
        <input name="repl-keep-last" type="number" min={0} value={f.keep_last} onChange={(e) => set("keep_last", e.target.value)} />
      </Field>
      <Field label="Bandwidth limit in MiB/s (optional)" hint="empty: unlimited" error={err("bwlimit")}>
        <input name="repl-bwlimit" type="number" min={0.02} step="any" value={f.bwlimit} onChange={(e) => set("bwlimit", e.target.value)} />
      </Field>
      <label className="check"><input type="checkbox" name="repl-encrypt" checked={f.encrypt} onChange={(e) => set("encrypt", e.target.checked)} /> Untrusted target: keep the replica encrypted there</label>
      {f.encrypt && <p className="hint">The target stores sealed files it cannot read; it still sees their sizes and when they arrive. Restores decrypt here, with this node's keys.{errs.recipients || errs.encrypt ? ` ${errs.recipients ?? errs.encrypt}` : ""}</p>}
      <Field label="Label (optional)" error={err("name")}><input name="repl-name" value={f.name} maxLength={100} onChange={(e) => set("name", e.target.value)} /></Field>
      {other && <p className="form-error" role="alert">{other}</p>}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={create.isPending}>Create</button>
      </div>
    </form>
  );
}

function ReplHistory({ task }: { task: ReplTask }) {
  const runs = useReplicationRuns(task.id);
  return (
    <QueryState q={runs} empty={(r) => r.length === 0 && "No runs yet."}>
      {(list) => (
        <table>
          <thead><tr><th>Started</th><th>Trigger</th><th>State</th><th>Result</th></tr></thead>
          <tbody>{list.map((r) => (
            <tr key={r.id} data-testid="repl-run"><td>{when(iso(r.started))}</td><td>{r.trigger === "manual" ? "by hand" : "schedule"}</td><td><Badge value={r.state} /></td><td className="small">{runSummary(r)}</td></tr>
          ))}</tbody>
        </table>
      )}
    </QueryState>
  );
}

/** A replica snapshot's folders as the target lists them over the mesh: the storage file
 * browser, fed by the replication API. */
export function ReplicaBrowser({ task, snap, value, onPick }: { task: ReplTask; snap: string; value: string | null; onPick: (path: string) => void }) {
  const source = { pool: task.pool, volume: task.volume, snapshot: snap, listUrl: replicaFilesUrl(task.id, snap),
    label: `${task.peer}: ${task.target_volume ?? task.volume} @ ${snap}` };
  return (
    <div data-testid="replica-browser">
      <FileBrowser source={source} accept="file" onPick={(l: PickedLocation) => onPick(l.path)}
        value={value ? { pool: task.pool, volume: task.volume, path: value, type: "file" } : null} />
    </div>
  );
}

/** One file out of a replica snapshot. An open replica is browsed on the target itself; a sealed
 * one cannot be (the target holds only encrypted streams): its file is picked in this node's own
 * snapshot of the same name, or named by its path, and the restore pulls the whole snapshot back,
 * decrypts it here and takes the file out. */
function FileRestore({ task, snap, hasLocal, onDone }: { task: ReplTask; snap: string; hasLocal: boolean; onDone: () => void }) {
  const restore = useRestoreRepl();
  const [path, setPath] = useState<string | null>(null);
  const [typed, setTyped] = useState("");
  const [overwrite, setOverwrite] = useState(false);
  const errs = fieldErrors(restore.error);
  const chosen = task.encrypt && !hasLocal ? typed.trim().replace(/^\/+/, "") || null : path;
  return (
    <div data-testid="repl-file-restore">
      {!task.encrypt
        ? <><p className="muted small">The files of {snap} as {task.peer} keeps them; the chosen file is fetched from there and put back into {task.pool}/{task.volume}.</p>
          <ReplicaBrowser task={task} snap={snap} value={path} onPick={setPath} /></>
        : <><p className="muted small">{task.peer} keeps this replica sealed and cannot list its files: the restore fetches the whole of {snap} (and the snapshots it builds on), decrypts it here, and takes the file out.{hasLocal ? ` The files below are this node's own ${snap}.` : ""}</p>
          {hasLocal
            ? <FileBrowser source={{ pool: task.pool, volume: task.volume, snapshot: snap }} value={path ? { pool: task.pool, volume: task.volume, path, type: "file" } : null} accept="file" onPick={(l: PickedLocation) => setPath(l.path)} />
            : <Field label={`Path of the file inside ${snap}`} hint="this node no longer has the snapshot to list it, and the target cannot"><input name="repl-restore-path" value={typed} onChange={(e) => setTyped(e.target.value)} placeholder="folder/file.txt" /></Field>}</>}
      <label className="check"><input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Replace the file if it exists</label>
      {(errs.path || restore.error) && <p className="form-error" role="alert">{errs.path ?? errorMessage(restore.error)}</p>}
      <div className="modal-actions">
        <button type="button" className="btn primary" disabled={!chosen || restore.isPending} onClick={() => chosen && restore.mutate({ task: task.id, snapshot: snap, path: chosen, overwrite }, { onSuccess: onDone })}>
          {chosen ? `Restore ${chosen}` : "Choose a file"}
        </button>
      </div>
    </div>
  );
}

function VolumeRestore({ task, snap, onDone }: { task: ReplTask; snap: string; onDone: () => void }) {
  const restore = useRestoreRepl();
  const [name, setName] = useState(`${task.volume}-restored`);
  const errs = fieldErrors(restore.error);
  return (
    <form className="inline" onSubmit={(e) => { e.preventDefault(); restore.mutate({ task: task.id, snapshot: snap, target_volume: name }, { onSuccess: onDone }); }}>
      <Field label={`New volume in ${task.pool}`} error={errs.target_volume ?? (restore.error && !errs.target_volume ? errorMessage(restore.error) : undefined)}>
        <input name="repl-restore-volume" value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <button type="submit" className="btn primary" disabled={!name || restore.isPending}>Restore the volume</button>
    </form>
  );
}

/** The replica's snapshots on the target, and the two ways back. */
function ReplRestore({ task, onDone }: { task: ReplTask; onDone: () => void }) {
  const replica = useReplica(task.id);
  const local = useSnapshots(task.encrypt ? task.pool : null, task.volume);
  const [chosen, setChosen] = useState<{ snap: string; what: "volume" | "file" } | null>(null);
  const localNames = new Set((local.data ?? []).map((s) => s.name));
  return (
    <QueryState q={replica} empty={(r) => (!r.exists || r.snapshots.length === 0) && `Nothing has reached ${task.peer} yet: run the task first.`}>
      {(r) => (
        <>
          <p className="muted">{r.encrypted ? `Sealed replica on ${r.peer} (${r.pool}/${r.volume}): restores decrypt here.` : `Replica on ${r.peer}: ${r.pool}/${r.volume}.`}</p>
          <table>
            <thead><tr><th>Snapshot</th><th>Taken</th>{r.encrypted && <th>Stored</th>}<th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{r.snapshots.map((s: ReplicaSnapshot) => (
              <tr key={s.name} data-testid={`replica-snap-${s.name}`}>
                <td><strong>{s.name}</strong>{s.present === false && <div className="form-error small">missing on the target</div>}</td>
                <td>{when(iso(s.created))}</td>
                {r.encrypted && <td>{bytes(s.stored_bytes ?? 0)}</td>}
                <td className="actions">
                  <button type="button" className="btn small needs-admin" onClick={() => setChosen({ snap: s.name, what: "volume" })}>Restore volume…</button>
                  <button type="button" className="btn small needs-admin" disabled={s.present === false} onClick={() => setChosen({ snap: s.name, what: "file" })}>Restore a file…</button>
                </td>
              </tr>
            ))}</tbody>
          </table>
          {chosen?.what === "volume" && <VolumeRestore key={chosen.snap} task={task} snap={chosen.snap} onDone={onDone} />}
          {chosen?.what === "file" && <FileRestore key={chosen.snap} task={task} snap={chosen.snap} hasLocal={localNames.has(chosen.snap)} onDone={onDone} />}
        </>
      )}
    </QueryState>
  );
}

function ReplRow({ t, onHistory, onRestore }: { t: ReplTask; onHistory: () => void; onRestore: () => void }) {
  const run = useRunReplTask();
  const toggle = useToggleReplTask();
  const remove = useDeleteReplTask();
  const confirm = useConfirm();
  return (
    <tr data-testid={`repl-${t.id}`}>
      <td><strong>{t.pool} / {t.volume}</strong>{t.name && <div className="muted">{t.name}</div>}{t.encrypt && <div><Badge value="encrypted" /></div>}</td>
      <td>{t.peer}<div className="muted small">pool {t.target_pool}{t.target_volume && t.target_volume !== t.volume ? `, volume ${t.target_volume}` : ""}</div></td>
      <td>{t.schedule ? <>{describeCron(t.schedule)} <small className="muted">UTC</small></> : <span className="muted">by hand</span>}{t.enabled && t.next_run && <div className="muted small">next {when(iso(t.next_run))}</div>}</td>
      <td data-testid="repl-state">
        {t.running ? <Badge value="running" /> : t.last_run ? <><Badge value={t.last_run.state} /> <span className="muted small">{when(iso(t.last_run.ended ?? t.last_run.started))}</span><div className="small">{runSummary(t.last_run)}</div></> : <span className="muted">never run</span>}
        <RunProgress task={t} />
      </td>
      <td><label className="check"><input type="checkbox" className="needs-admin" aria-label={`enable ${taskLabel(t)}`} checked={t.enabled} onChange={(e) => toggle.mutate({ id: t.id, enabled: e.target.checked })} /><span className="sr-only">{t.enabled ? "on" : "off"}</span></label></td>
      <td className="actions">
        <button type="button" className="btn small needs-admin" disabled={t.running || run.isPending} onClick={() => run.mutate(t)}>Run now</button>
        <button type="button" className="btn small" onClick={onHistory}>History</button>
        <button type="button" className="btn small needs-admin" onClick={onRestore}>Restore…</button>
        <button type="button" className="btn small danger needs-admin" disabled={t.running} onClick={async () => {
          if (await confirm({ title: "Delete replication", message: `Delete the replication of ${t.pool}/${t.volume} to ${t.peer}? The replica there stays.`, confirmText: "Delete", danger: true })) remove.mutate(t);
        }}>Delete</button>
      </td>
    </tr>
  );
}

/** The "Replication to other nodes" card of the Data protection page. */
export function ReplicationSection() {
  const tasks = useReplicationTasks();
  const [creating, setCreating] = useState(false);
  const [history, setHistory] = useState<ReplTask | null>(null);
  const [restoring, setRestoring] = useState<ReplTask | null>(null);
  return (
    <Card title="Replication to other nodes" actions={<button type="button" className="btn small needs-admin" onClick={() => setCreating(true)}>Add replication</button>}>
      <p className="muted small">Volumes copied to another SigmaVault node over PhantomMesh, incrementally from the newest snapshot both have.</p>
      <QueryState q={tasks} empty={(l) => l.length === 0 && "No replication to another node yet."}>
        {(list) => (
          <table>
            <thead><tr><th>Source</th><th>Target node</th><th>Schedule</th><th>Last run</th><th>Enabled</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.map((t) => <ReplRow key={t.id} t={t} onHistory={() => setHistory(t)} onRestore={() => setRestoring(t)} />)}</tbody>
          </table>
        )}
      </QueryState>
      <Modal open={creating} title="New replication to another node" onClose={() => setCreating(false)}>
        {creating && <ReplicationForm onDone={() => setCreating(false)} />}
      </Modal>
      <Modal open={!!history} title={history ? `History of ${taskLabel(history)}` : "History"} onClose={() => setHistory(null)}>
        {history && <ReplHistory task={history} />}
        <div className="modal-actions"><button type="button" className="btn" onClick={() => setHistory(null)}>Close</button></div>
      </Modal>
      <Modal open={!!restoring} title={restoring ? `Restore from ${restoring.peer}` : "Restore"} onClose={() => setRestoring(null)}>
        {restoring && <ReplRestore task={restoring} onDone={() => setRestoring(null)} />}
        <div className="modal-actions"><button type="button" className="btn" onClick={() => setRestoring(null)}>Close</button></div>
      </Modal>
    </Card>
  );
}
