/** The replication plugin's API (`/replication`): tasks to other mesh nodes, their runs, the
 * replica on the target, restores, the allow-list of this node and the fleet view. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import { del, errorMessage, get, patch, post } from "../lib/api";
import type { Job } from "../lib/types";
import { useThrottledInvalidate } from "../hooks/cache";
import { watchJob } from "../hooks/useJobs";
import { useWebSocket } from "../hooks/useWebSocket";

export type ReplRunState = "running" | "success" | "failed" | "aborted" | "skipped";

export interface ReplRun {
  id: string;
  task: string;
  trigger: "schedule" | "manual";
  state: ReplRunState;
  job_id: string | null;
  started: number;
  ended: number | null;
  result: { bytes?: number; wire_bytes?: number; sent?: { snapshot: string }[]; up_to_date?: boolean; seconds?: number; retries?: number; [k: string]: unknown } | null;
  error: string | null;
}

export interface ReplTask {
  id: string;
  name: string;
  pool: string;
  volume: string;
  peer: string;
  target_pool: string;
  target_volume: string | null;
  schedule: string | null;
  enabled: boolean;
  match: string;
  take_snapshot: boolean;
  retention: { keep_last: number };
  bwlimit: number | null;
  encrypt: boolean;
  pad: boolean;
  recipients: string[];
  created: number;
  next_run: number | null;
  last_run: ReplRun | null;
  running: boolean;
}

export interface ReplTaskBody {
  name: string;
  pool: string;
  volume: string;
  peer: string;
  target_pool: string;
  target_volume?: string | null;
  schedule: string | null;
  take_snapshot: boolean;
  retention: { keep_last: number };
  bwlimit: number | null;
  encrypt: boolean;
}

export interface ReplicaSnapshot {
  name: string;
  created: string | number | null;
  /** sealed replicas: what the target stores */
  stored_bytes?: number;
  plain_bytes?: number;
  present?: boolean;
}

export interface Replica {
  peer: string;
  pool: string;
  volume: string;
  encrypted: boolean;
  exists: boolean;
  snapshots: ReplicaSnapshot[];
}

export interface FleetPool { name: string; backend: string | null; state: string | null; size: number | null; free: number | null }

export type FleetHealthState = "ok" | "degraded" | "down";
export interface FleetHealth {
  state: FleetHealthState;
  reasons: { kind: "unreachable" | "pool_degraded" | "pools_unknown" | "alert"; message: string }[];
}

/** The newest stream a peer finished uploading into a replica on this node. */
export interface LastFrom { pool: string; volume: string; sealed: boolean; snapshot: string | null; bytes: number | null; at: number | null }

export interface FleetNode {
  peer: string;
  reachable: boolean;
  latency_ms: number | null;
  node_name: string | null;
  health: FleetHealth;
  system: { hostname: string; os: string | null; uptime: number | null; cpu_percent: number | null; load: number[] | null; memory_percent: number | null } | null;
  alerts: { id: string; severity: string; message: string }[] | null;
  pools: FleetPool[];
  tasks: number;
  last_replication: ReplRun | null;
  last_replication_from: LastFrom | null;
  error: string | null;
}

export interface ReplTarget { peer: string; pool: string; created: number }
export interface KeptReplica { peer: string; pool: string; volume: string; sealed: boolean; created: number; blobs: number | null }

const BASE = "replication";
const KEY = ["replication", "tasks"];
const enc = encodeURIComponent;

/** The tasks; refetched when a replication job moves (its progress comes from the job itself), and
 * with them what a run changes: runs, the replica, the fleet's last replication. */
export function useReplicationTasks(enabled = true) {
  const invalidate = useThrottledInvalidate(500);
  useWebSocket(["job.progress"], (e) => {
    const kind = (e.data as Job).kind;
    if (kind === "replication.run" || kind === "replication.restore") invalidate(["replication"]);
  }, enabled);
  return useQuery({ queryKey: KEY, queryFn: () => get<ReplTask[]>(BASE), enabled });
}

export function useReplicationRuns(task: string | null) {
  return useQuery({ queryKey: ["replication", "runs", task], queryFn: () => get<ReplRun[]>(`${BASE}/${enc(task!)}/runs`, { limit: 50 }), enabled: !!task });
}

export function useReplica(task: string | null) {
  return useQuery({ queryKey: ["replication", "replica", task], queryFn: () => get<Replica>(`${BASE}/${enc(task!)}/replica`), enabled: !!task, retry: false });
}

/** Where a replica snapshot's folders are listed, by the target over the mesh (open replicas
 * only): the same pages as the storage file browser's. */
export function replicaFilesUrl(task: string, snapshot: string): string {
  return `${BASE}/${enc(task)}/replica/snapshots/${enc(snapshot)}/files`;
}

/** Mesh nodes with their pools, read over the mesh (slow when a peer is down: kept a while). */
export function useFleet(enabled = true) {
  return useQuery({ queryKey: ["replication", "fleet"], queryFn: () => get<FleetNode[]>(`${BASE}/fleet`), enabled, staleTime: 15000, refetchInterval: 30000 });
}

export function useReplTargets(enabled = true) {
  return useQuery({ queryKey: ["replication", "targets"], queryFn: () => get<ReplTarget[]>(`${BASE}/targets`), enabled });
}

export function useKeptReplicas(enabled = true) {
  return useQuery({ queryKey: ["replication", "replicas"], queryFn: () => get<KeptReplica[]>(`${BASE}/replicas`), enabled });
}

/** A mutation that refetches the replication family and toasts; the form shows field errors itself. */
function useReplMutation<TVars, TData>(fn: (v: TVars) => Promise<TData>, success: (d: TData, v: TVars) => string, toastErrors = true) {
  const qc = useQueryClient();
  return useMutation<TData, Error, TVars>({
    mutationFn: fn,
    onSuccess: (d, v) => toast.success(success(d, v)),
    onError: (e) => { if (toastErrors) toast.error(errorMessage(e)); },
    onSettled: () => void qc.invalidateQueries({ queryKey: ["replication"] }),
  });
}

export const useCreateReplTask = () => useReplMutation((b: ReplTaskBody) => post<ReplTask>(BASE, b), (t) => `Replication of ${t.pool}/${t.volume} to ${t.peer} created`, false);
export const useToggleReplTask = () => useReplMutation((v: { id: string; enabled: boolean }) => patch<ReplTask>(`${BASE}/${enc(v.id)}`, { enabled: v.enabled }), (t) => `${t.enabled ? "Enabled" : "Disabled"}: ${t.pool}/${t.volume} → ${t.peer}`);
export const useDeleteReplTask = () => useReplMutation((t: ReplTask) => del(`${BASE}/${enc(t.id)}`), (_d, t) => `Deleted the replication of ${t.pool}/${t.volume} to ${t.peer}`);
export const useRunReplTask = () => useReplMutation((t: ReplTask) => post<ReplRun>(`${BASE}/${enc(t.id)}/run`).then((r) => { if (r.job_id) watchJob(r.job_id); return r; }),
  (_r, t) => `Started: ${t.pool}/${t.volume} → ${t.peer}`);
export const useRestoreRepl = () => useReplMutation((v: { task: string; snapshot: string; target_volume?: string; path?: string; overwrite?: boolean }) => {
  const { task, ...body } = v;
  return post<Job>(`${BASE}/${enc(task)}/restore`, body).then((j) => { watchJob(j.id); return j; });
}, (_j, v) => (v.path ? `Restoring ${v.path} from ${v.snapshot}` : `Restoring ${v.snapshot} as volume ${v.target_volume}`), false);
export const useAddReplTarget = () => useReplMutation((v: { peer: string; pool: string }) => post<ReplTarget>(`${BASE}/targets`, v), (t) => `${t.peer} may now replicate into ${t.pool}`, false);
export const useDeleteReplTarget = () => useReplMutation((v: ReplTarget) => del(`${BASE}/targets/${enc(v.peer)}/${enc(v.pool)}`), (_d, v) => `${v.peer} may no longer replicate into ${v.pool}`);
