import { useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { LocationPicker, type PickedLocation } from "../components/FilePicker";
import { ResultView } from "../components/ResultView";
import { fieldErrors, NAME_RULE } from "../lib/errors";
import { Badge, Card, Field, FieldError, Modal, ProgressBar, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { useCapabilities } from "../hooks/useCapabilities";
import {
  useBackends, useCreatePool, useCreateSnapshot, useCreateVolume, useDeletePool, useDeleteSnapshot, useDeleteVolume,
  useDisks, useExportPool, usePoolHealth, usePools, useRestore, useRollback, useScrub, useScrubStart, useSmart, useSmartTest, useSnapshotDiff, useSnapshots, useVolumes,
} from "../hooks/useStorage";
import { get } from "../lib/api";
import { bytes, when } from "../lib/format";
import type { Pool } from "../lib/types";

/** `GET /ceph/clusters/{fsid}/osds` rows (the ceph plugin's OsdInfo). */
export interface CephOsd {
  id: number; name: string; fsid: string; host: string | null; up: boolean; in: boolean;
  device: string | null; size: number | null; used: number | null; utilization: number | null; pgs: number | null; local: boolean;
}

/** `GET /ceph/clusters/{fsid}/pgs` (the ceph plugin's PgSummary). */
export interface CephPgs {
  fsid: string; health: string | null; checks: Record<string, string>; osds: { total?: number; up?: number; in?: number };
  num_pgs: number; states: Record<string, number>; recovery: Record<string, number>;
  progress: { id: string; message: string | null; progress: number | null }[];
}

const CEPH_HEALTH: Record<string, string> = { HEALTH_OK: "ok", HEALTH_WARN: "warning", HEALTH_ERR: "error" };

/** OSDs grouped by host, hosts in name order (the API sorts OSDs by host, then id). */
export function osdsByHost(osds: CephOsd[]): [string, CephOsd[]][] {
  const hosts = new Map<string, CephOsd[]>();
  for (const o of osds) {
    const h = o.host ?? "unknown host";
    hosts.set(h, [...(hosts.get(h) ?? []), o]);
  }
  return [...hosts.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function Recovery({ r }: { r: Record<string, number> }) {
  const parts: string[] = [];
  if (r.degraded_objects) parts.push(`${r.degraded_objects} of ${r.degraded_total} object copies degraded (${((r.degraded_ratio ?? 0) * 100).toFixed(1)} %)`);
  if (r.misplaced_objects) parts.push(`${r.misplaced_objects} of ${r.misplaced_total} misplaced (${((r.misplaced_ratio ?? 0) * 100).toFixed(1)} %)`);
  if (r.unfound_objects) parts.push(`${r.unfound_objects} unfound`);
  if (r.recovering_bytes_per_sec) parts.push(`recovering ${bytes(r.recovering_bytes_per_sec)}/s, ${r.recovering_objects_per_sec ?? 0} objects/s`);
  return parts.length ? <ul className="plain" aria-label="recovery">{parts.map((p) => <li key={p}>{p}</li>)}</ul> : null;
}

/** A Ceph pool's cluster: health, placement-group states, recovery progress, OSDs per host. */
export function CephCluster({ fsid }: { fsid: string }) {
  const path = `ceph/clusters/${encodeURIComponent(fsid)}`;
  const pgs = useQuery({ queryKey: ["ceph", "pgs", fsid], queryFn: () => get<CephPgs>(`${path}/pgs`), refetchInterval: 5000, retry: false });
  const osds = useQuery({ queryKey: ["ceph", "osds", fsid], queryFn: () => get<CephOsd[]>(`${path}/osds`), refetchInterval: 5000, retry: false });
  return (
    <Card title="Ceph cluster">
      <QueryState q={pgs}>
        {(s) => (
          <>
            <p>
              Health <Badge value={CEPH_HEALTH[s.health ?? ""] ?? s.health ?? "unknown"} /> · OSDs {s.osds.up ?? 0} up, {s.osds.in ?? 0} in of {s.osds.total ?? 0}
              {" "}· <small className="muted">cluster {s.fsid}</small>
            </p>
            {Object.keys(s.checks).length > 0 && (
              <ul className="plain" aria-label="Ceph health checks">
                {Object.entries(s.checks).map(([code, msg]) => <li key={code}><code>{code}</code> {msg}</li>)}
              </ul>
            )}
            <table aria-label="placement groups">
              <thead><tr><th>Placement-group state</th><th>PGs</th></tr></thead>
              <tbody>
                {Object.entries(s.states).sort(([, a], [, b]) => b - a).map(([state, n]) => (
                  <tr key={state}><td>{state.split("+").map((p) => <Badge key={p} value={p === "clean" ? "ok" : p} />)}</td><td>{n} of {s.num_pgs}</td></tr>
                ))}
              </tbody>
            </table>
            <Recovery r={s.recovery} />
            {s.progress.map((e) => (
              <div key={e.id} className="ceph-progress">
                <small>{e.message}</small>
                <ProgressBar label={e.message ?? "recovery"} value={(e.progress ?? 0) * 100} />
              </div>
            ))}
          </>
        )}
      </QueryState>
      <QueryState q={osds} empty={(d) => d.length === 0 && "No OSDs."}>
        {(list) => (
          <table aria-label="OSDs per host">
            <thead><tr><th>OSD</th><th>State</th><th>Device</th><th>Usage</th><th>PGs</th></tr></thead>
            {osdsByHost(list).map(([host, rows]) => (
              <tbody key={host}>
                <tr className="group"><th colSpan={5} scope="rowgroup">{host} — {rows.filter((o) => o.up).length} of {rows.length} up, {rows.filter((o) => o.in).length} in</th></tr>
                {rows.map((o) => (
                  <tr key={o.id} data-testid={`osd-${o.id}`}>
                    <td>{o.name}</td>
                    <td><Badge value={o.up ? "up" : "down"} /> {o.in ? "in" : "out"}</td>
                    <td><code>{o.device ?? "—"}</code></td>
                    <td className="usage"><ProgressBar label={`${o.name} usage`} value={o.utilization} /><small>{bytes(o.used)} / {bytes(o.size)}</small></td>
                    <td>{o.pgs ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            ))}
          </table>
        )}
      </QueryState>
    </Card>
  );
}

function CreatePool({ onDone }: { onDone: () => void }) {
  const backends = useBackends();
  const disks = useDisks();
  const create = useCreatePool();
  const [name, setName] = useState("");
  const [backend, setBackend] = useState("dir");
  const [layout, setLayout] = useState("");
  const [devices, setDevices] = useState<string[]>([]);
  const list = backends.data ?? [];
  const be = list.find((b) => b.name === backend);
  const levels = (be?.capabilities.raid_levels as string[] | undefined) ?? [];
  const needsDevices = Boolean(be?.capabilities.needs_devices);
  const free = (disks.data ?? []).filter((d) => !d.pool && !d.in_use);
  const errs = fieldErrors(create.error);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(
      { name, backend, topology: levels.length ? { layout: layout || levels[0] } : {}, devices: needsDevices ? devices : [], options: {} },
      { onSuccess: onDone },
    );
  };
  return (
    <form onSubmit={submit} className="form-grid" noValidate>
      <Field label="Name" hint={NAME_RULE} error={errs.name}><input name="pool-name" aria-invalid={!!errs.name} value={name} onChange={(e) => setName(e.target.value)} /></Field>
      <Field label="Backend" error={errs.backend}>
        <select name="backend" value={backend} onChange={(e) => setBackend(e.target.value)}>
          {(list.length ? list : [{ name: "dir", description: "directory", available: true }]).map((b) => (
            <option key={b.name} value={b.name} disabled={b.available === false}>{b.name} — {b.description}{b.available === false ? " (unavailable)" : ""}</option>
          ))}
        </select>
      </Field>
      {levels.length > 0 && (
        <Field label="Layout">
          <select value={layout} onChange={(e) => setLayout(e.target.value)}>
            {levels.map((l) => <option key={l}>{l}</option>)}
          </select>
        </Field>
      )}
      {errs.topology && <FieldError error={errs.topology} />}
      {needsDevices ? (
        <fieldset className="field">
          <legend className="field-label">Devices (only disks not in use)</legend>
          {free.length === 0 && <span className="muted">No free disks.</span>}
          <FieldError error={errs.devices} />
          {free.map((d) => {
            const p = String(d.path ?? d.name);
            return (
              <label key={p} className="check">
                <input type="checkbox" checked={devices.includes(p)} onChange={(e) => setDevices((old) => (e.target.checked ? [...old, p] : old.filter((x) => x !== p)))} />
                {p} <small className="muted">{bytes(d.size as number)} {String(d.model ?? "")}</small>
              </label>
            );
          })}
        </fieldset>
      ) : (
        <p className="muted">A directory under the daemon's configured pools root.</p>
      )}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={create.isPending}>Create pool</button>
      </div>
    </form>
  );
}

function Scrub({ pool }: { pool: string }) {
  const scrub = useScrub(pool);
  const start = useScrubStart(pool);
  const s = scrub.data;
  return (
    <div className="scrub">
      <strong>Scrub</strong> <Badge value={s?.state ?? "idle"} />
      {s && (s.state === "running" || s.percent != null) && <ProgressBar label={`scrub ${pool}`} value={s.state === "finished" ? 100 : s.percent} />}
      {s && <small className="muted">errors {s.errors ?? 0} · last {when(s.finished ?? s.started)}</small>}
      <button type="button" className="btn small needs-admin" onClick={() => start.mutate()} disabled={s?.state === "running" || start.isPending}>Start scrub</button>
    </div>
  );
}

function SnapshotDiff({ pool, volume, snapshot }: { pool: string; volume: string; snapshot: string }) {
  const diff = useSnapshotDiff(pool, volume, snapshot);
  return (
    <QueryState q={diff} empty={(d) => d.length === 0 && "Nothing changed since this snapshot."}>
      {(list) => (
        <table>
          <thead><tr><th>Change</th><th>Path</th><th>Type</th></tr></thead>
          <tbody>{list.slice(0, 500).map((d) => (
            <tr key={`${d.change}:${d.path}`}><td><Badge value={d.change} /></td><td><code>{d.old_path ? `${d.old_path} → ` : ""}{d.path}</code></td><td>{d.type}</td></tr>
          ))}</tbody>
        </table>
      )}
    </QueryState>
  );
}

function Snapshots({ pool, volume, canRollback, canDiff }: { pool: string; volume: string; canRollback: boolean; canDiff: boolean }) {
  const [params, setParams] = useSearchParams();
  const [diffOf, setDiffOf] = useState<string | null>(null);
  const restoreFrom = params.get("restore");
  const setRestoreFrom = (s: string | null) => setParams((p) => { const n = new URLSearchParams(p); if (s) n.set("restore", s); else n.delete("restore"); return n; });
  const snaps = useSnapshots(pool, volume);
  const create = useCreateSnapshot(pool, volume);
  const remove = useDeleteSnapshot(pool, volume);
  const rollback = useRollback(pool, volume);
  const confirm = useConfirm();
  const [name, setName] = useState("");
  const snapErrs = fieldErrors(create.error);
  return (
    <Card title={`Snapshots of ${pool}/${volume}`}>
      <form className="inline needs-admin" noValidate onSubmit={(e) => { e.preventDefault(); create.mutate({ name: name || undefined }, { onSuccess: () => setName("") }); }}>
        <label className="field">
          <input aria-label="snapshot name" name="snapshot-name" placeholder="snapshot name (optional)" value={name} aria-invalid={!!snapErrs.name} onChange={(e) => setName(e.target.value)} />
          <FieldError error={snapErrs.name} />
        </label>
        <button type="submit" className="btn primary small">Create snapshot</button>
      </form>
      <QueryState q={snaps} empty={(d) => d.length === 0 && "No snapshots."}>
        {(list) => (
          <table>
            <thead><tr><th>Name</th><th>Created</th><th>Used</th><th>Writable</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.name} data-testid={`snapshot-${s.name}`}>
                  <td>{s.name}</td><td>{when(s.created)}</td><td>{bytes(s.used)}</td><td>{s.writable ? "yes" : "no"}</td>
                  <td className="actions">
                    {canDiff && <button type="button" className="btn small" onClick={() => setDiffOf(s.name)}>Changes</button>}
                    <button type="button" className="btn small needs-admin" onClick={() => setRestoreFrom(s.name)}>Restore a file</button>
                    {canRollback && <button type="button" className="btn small needs-admin" onClick={async () => {
                      if (await confirm({ title: "Roll back?", message: <>Roll <b>{volume}</b> back to <b>{s.name}</b>? Changes made since then are lost.</>, confirmText: "Roll back", danger: true })) rollback.mutate({ name: s.name });
                    }}>Rollback</button>}
                    <button type="button" className="btn small danger needs-admin" onClick={async () => {
                      if (await confirm({ title: "Delete snapshot?", message: <>Delete snapshot <b>{s.name}</b>?</>, confirmText: "Delete", danger: true })) remove.mutate(s.name);
                    }}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryState>
      <Modal open={!!restoreFrom} title={`Restore from ${restoreFrom}`} onClose={() => setRestoreFrom(null)}>
        {restoreFrom && <RestoreForm pool={pool} volume={volume} snapshot={restoreFrom} onDone={() => setRestoreFrom(null)} />}
      </Modal>
      <Modal open={!!diffOf} title={`Changes since ${diffOf}`} onClose={() => setDiffOf(null)}>
        {diffOf && <SnapshotDiff pool={pool} volume={volume} snapshot={diffOf} />}
        <div className="modal-actions"><button type="button" className="btn" onClick={() => setDiffOf(null)}>Close</button></div>
      </Modal>
    </Card>
  );
}

function RestoreForm({ pool, volume, snapshot, onDone }: { pool: string; volume: string; snapshot: string; onDone: () => void }) {
  const restore = useRestore(pool, volume);
  const [picked, setPicked] = useState<PickedLocation | null>(null);
  const [overwrite, setOverwrite] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const exists = (restore.error as { code?: string } | null)?.code === "target_exists";
  const errs = fieldErrors(restore.error);
  return (
    <form noValidate onSubmit={(e) => {
      e.preventDefault();
      if (!picked || !picked.path) { setProblem("Choose a file or folder in the snapshot first."); return; }
      setProblem(null);
      restore.mutate({ snapshot, path: picked.path, overwrite }, { onSuccess: onDone });
    }}>
      <p className="muted">Browse the snapshot as it was and choose what to bring back. It returns to the same place in <b>{volume}</b>, with its permissions, owner and times.</p>
      <LocationPicker name="restore" label="File or folder in the snapshot" accept="any" rootChoosable={false} fixed={{ pool, volume, snapshot }} value={picked} onChange={(l) => { setPicked(l); setProblem(null); }} error={problem ?? errs.path ?? null} />
      <label className="check"><input type="checkbox" name="restore-overwrite" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Replace the live copy if it exists</label>
      {exists && !overwrite && <p className="field-error" role="alert">Something with this name is already in the volume. Tick “Replace the live copy” to overwrite it.</p>}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={restore.isPending}>Restore</button>
      </div>
    </form>
  );
}

function PoolDetail({ pool }: { pool: Pool }) {
  const backends = useBackends();
  const caps = backends.data?.find((b) => b.name === pool.backend)?.capabilities ?? {};
  const volumes = useVolumes(pool.name);
  const health = usePoolHealth(pool.name);
  const createVol = useCreateVolume(pool.name);
  const delVol = useDeleteVolume(pool.name);
  const confirm = useConfirm();
  const [volName, setVolName] = useState("");
  const [quota, setQuota] = useState("");
  const [compression, setCompression] = useState("");
  const [params, setParams] = useSearchParams();
  const selected = params.get("volume");
  const setSelected = (v: string) => setParams((p) => { const n = new URLSearchParams(p); n.set("volume", v); n.delete("restore"); return n; });
  const volErrs = fieldErrors(createVol.error);
  return (
    <>
      <Card title={`Pool ${pool.name}`}>
        <p>
          <Badge value={pool.state} /> {pool.backend} {pool.layout && <>· {pool.layout}</>} · {bytes(pool.used)} used of {bytes(pool.size)} · {pool.mountpoint}
        </p>
        {health.data && health.data.problems.length > 0 && (
          <ul className="plain" aria-label="health problems">
            {health.data.problems.map((p, i) => <li key={i}><Badge value={p.severity} /> {p.message}{p.device && <> ({p.device})</>}</li>)}
          </ul>
        )}
        {pool.devices?.length > 0 && (
          <table>
            <thead><tr><th>Device</th><th>State</th><th>Size</th><th>Errors</th></tr></thead>
            <tbody>{pool.devices.map((d) => (
              <tr key={d.path}><td>{d.path}</td><td><Badge value={d.state} /></td><td>{bytes(d.size)}</td><td>{Object.entries(d.errors ?? {}).map(([k, v]) => `${k} ${v}`).join(", ") || "—"}</td></tr>
            ))}</tbody>
          </table>
        )}
        {caps.scrub === true && <Scrub pool={pool.name} />}
      </Card>
      {pool.backend === "ceph" && typeof pool.properties?.cluster === "string" && <CephCluster fsid={pool.properties.cluster} />}
      <Card title="Volumes">
        <form className="inline needs-admin" noValidate onSubmit={(e) => {
          e.preventDefault();
          createVol.mutate({ name: volName, quota: quota ? Math.round(Number(quota) * 1024 ** 3) : null, compression: compression || null }, {
            onSuccess: () => { setVolName(""); setQuota(""); },
          });
        }}>
          <label className="field">
            <input aria-label="volume name" name="volume-name" placeholder="volume name" value={volName} aria-invalid={!!volErrs.name} onChange={(e) => setVolName(e.target.value)} />
            {volErrs.name ? <FieldError error={volErrs.name} /> : <span className="hint">{NAME_RULE}</span>}
          </label>
          {caps.quotas === true && <input aria-label="quota in GiB" placeholder="quota (GiB)" type="number" min={0} step="any" style={{ width: "9em" }} value={quota} onChange={(e) => setQuota(e.target.value)} />}
          {Array.isArray(caps.compression) && caps.compression.length > 0 && (
            <select aria-label="compression" value={compression} onChange={(e) => setCompression(e.target.value)}>
              <option value="">no compression</option>
              {(caps.compression as string[]).filter((c) => c !== "off").map((c) => <option key={c}>{c}</option>)}
            </select>
          )}
          <button type="submit" className="btn primary small">Create volume</button>
        </form>
        <QueryState q={volumes} empty={(d) => d.length === 0 && "No volumes."}>
          {(list) => (
            <table>
              <thead><tr><th>Name</th><th>Used</th><th>Quota</th><th>Compression</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>{list.map((v) => (
                <tr key={v.name} className={selected === v.name ? "selected" : undefined}>
                  <td><button type="button" className="link" onClick={() => setSelected(v.name)} aria-pressed={selected === v.name}>{v.name}</button></td>
                  <td>{bytes(v.used)}</td><td>{v.quota ? bytes(v.quota) : "none"}</td><td>{v.compression ?? "off"}</td>
                  <td className="actions">
                    <button type="button" className="btn small danger needs-admin" onClick={async () => {
                      if (await confirm({ title: "Delete volume?", message: <>All data in <b>{v.name}</b> will be gone.</>, typeToConfirm: v.name, confirmText: "Delete", danger: true })) delVol.mutate(v.name);
                    }}>Delete</button>
                  </td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
      </Card>
      {selected && caps.snapshots !== false && <Snapshots pool={pool.name} volume={selected} canRollback={caps.rollback !== false} canDiff={caps.diff === true} />}
    </>
  );
}

function SmartView({ report }: { report: Record<string, unknown> }) {
  const attrs = (report.attributes as { id: number; name: string; value: number | null; worst: number | null; threshold: number | null; raw: string | null; when_failed: string | null }[] | undefined) ?? [];
  return (
    <>
      {report.supported === false && <p className="muted">This disk does not report SMART data (a virtual disk, or one behind a controller that hides it): no health figures or self-tests.</p>}
      <p>Health: <Badge value={String(report.health ?? "unknown")} /> {report.temperature != null && <>· {String(report.temperature)} °C</>} {report.power_on_hours != null && <>· {String(report.power_on_hours)} h powered on</>}</p>
      {Array.isArray(report.messages) && report.messages.length > 0 && <ul className="plain">{(report.messages as string[]).map((m) => <li key={m}>{m}</li>)}</ul>}
      {report.supported !== false && <ResultView data={Object.fromEntries(Object.entries(report).filter(([k]) => !["attributes", "tests", "health", "messages", "supported"].includes(k)))} />}
      {attrs.length > 0 && (
        <table>
          <thead><tr><th>ID</th><th>Attribute</th><th>Value</th><th>Worst</th><th>Threshold</th><th>Raw</th><th>Failed</th></tr></thead>
          <tbody>{attrs.map((a) => <tr key={a.id}><td>{a.id}</td><td>{a.name}</td><td>{a.value ?? "—"}</td><td>{a.worst ?? "—"}</td><td>{a.threshold ?? "—"}</td><td>{a.raw ?? "—"}</td><td>{a.when_failed || "—"}</td></tr>)}</tbody>
        </table>
      )}
    </>
  );
}

function SmartTestButton({ disk }: { disk: string }) {
  const test = useSmartTest(disk);
  return <button type="button" className="btn needs-admin" disabled={test.isPending} onClick={() => test.mutate("short")}>Run short self-test</button>;
}

type DiskUse = { pool?: string; kind?: string; osd?: number; cluster_name?: string; description?: string };

/** What uses a disk: its pool, or a role a plugin reports (a Ceph OSD …). */
export function diskUse(u: DiskUse | null): string {
  if (u?.pool) return u.pool;
  if (u?.kind === "ceph_osd") return `Ceph osd.${u.osd} (${u.cluster_name ?? "cluster"})`;
  return u?.description ?? "in use";
}

function Disks() {
  const disks = useDisks();
  const [disk, setDisk] = useState<string | null>(null);
  const smart = useSmart(disk);
  return (
    <Card title="Disks">
      <QueryState q={disks} empty={(d) => d.length === 0 && "No disks found."}>
        {(list) => (
          <table>
            <thead><tr><th>Disk</th><th>Model</th><th>Serial</th><th>Size</th><th>Type</th><th>Pool</th><th className="actions">SMART</th></tr></thead>
            <tbody>{list.map((d) => (
              <tr key={d.name}>
                <td>{d.path ?? d.name}</td><td>{d.model ?? "—"}</td><td>{d.serial ?? "—"}</td><td>{bytes(d.size as number)}</td>
                <td>{d.type ?? (d.rotational ? "hdd" : "ssd")}</td><td>{d.in_use ? diskUse(d.in_use_by as DiskUse | null) : "—"}</td>
                <td className="actions"><button type="button" className="btn small" onClick={() => setDisk(d.name)}>SMART details</button></td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </QueryState>
      <Modal open={!!disk} title={`SMART: ${disk}`} onClose={() => setDisk(null)}>
        <QueryState q={smart}>{(s) => <SmartView report={s} />}</QueryState>
        <div className="modal-actions">
          {disk && smart.data && smart.data.supported === true && <SmartTestButton disk={disk} />}
          <button type="button" className="btn" onClick={() => setDisk(null)}>Close</button>
        </div>
      </Modal>
    </Card>
  );
}

export default function Storage() {
  const caps = useCapabilities();
  const pools = usePools();
  const remove = useDeletePool();
  const exportPool = useExportPool();
  const backends = useBackends();
  const confirm = useConfirm();
  const [creating, setCreating] = useState(false);
  const [params, setParams] = useSearchParams();
  const selected = params.get("pool");
  const setSelected = (p: string) => setParams(new URLSearchParams({ pool: p }));
  const pool = pools.data?.find((p) => p.name === selected) ?? null;
  return (
    <div className="page">
      <h1>Storage</h1>
      <Card title="Pools" actions={<button type="button" className="btn primary needs-admin" onClick={() => setCreating(true)}>New pool</button>}>
        <QueryState q={pools} empty={(d) => d.length === 0 && "No pools yet: create one."}>
          {(list) => (
            <table>
              <thead><tr><th>Name</th><th>Backend</th><th>State</th><th>Layout</th><th>Usage</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>{list.map((p) => (
                <tr key={p.name} data-testid={`pool-${p.name}`} className={selected === p.name ? "selected" : undefined}>
                  <td><button type="button" className="link" onClick={() => setSelected(p.name)} aria-pressed={selected === p.name}>{p.name}</button></td>
                  <td>{p.backend}</td><td><Badge value={p.state} /></td><td>{p.layout ?? "—"}</td>
                  <td className="usage"><ProgressBar label={`${p.name} usage`} value={p.size ? ((p.used ?? 0) / p.size) * 100 : 0} /><small>{bytes(p.used)} / {bytes(p.size)}</small></td>
                  <td className="actions">
                    {backends.data?.find((b) => b.name === p.backend)?.capabilities.import ? (
                      <button type="button" className="btn small needs-admin" disabled={p.state === "creating"} onClick={async () => {
                        if (await confirm({ title: "Export pool?", message: <>Exporting <b>{p.name}</b> unmounts it and removes it from this machine; its data stays on the disks and <i>Import</i> brings it back.</>, confirmText: "Export" })) exportPool.mutate(p.name);
                      }}>Export</button>
                    ) : null}
                    <button type="button" className="btn small danger needs-admin" disabled={p.state === "creating"} onClick={async () => {
                      if (await confirm({ title: "Destroy pool?", message: <>Destroying <b>{p.name}</b> deletes all its volumes and snapshots.</>, typeToConfirm: p.name, confirmText: "Destroy", danger: true })) remove.mutate(p.name);
                    }}>Destroy</button>
                  </td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
      </Card>
      {pool && <PoolDetail pool={pool} key={pool.name} />}
      {caps.has("/storage/disks") && <Disks />}
      <Modal open={creating} title="New pool" onClose={() => setCreating(false)}>
        {creating && <CreatePool onDone={() => setCreating(false)} />}
      </Modal>
    </div>
  );
}
