import { useQuery, useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { del, get, post } from "../lib/api";
import type { Backend, Disk, Job, Page, Pool, ScrubStatus, Snapshot, Volume } from "../lib/types";
import { itemsOf, mapList, upsertIn, useOptimisticMutation, useThrottledInvalidate } from "./cache";
import { watchJob } from "./useJobs";
import { useWebSocket } from "./useWebSocket";

const enc = encodeURIComponent;
const poolPath = (pool: string) => `storage/pools/${enc(pool)}`;
const volPath = (pool: string, vol: string) => `${poolPath(pool)}/volumes/${enc(vol)}`;

/** `storage.event` data (see the storage plugin's StorageEvent). */
export interface StorageEvent {
  kind: string;
  pool?: string | null;
  volume?: string | null;
  snapshot?: string | null;
  disk?: string | null;
  old?: string | null;
  new?: string | null;
  message?: string;
  details?: Record<string, unknown>;
}

/** Apply one `storage.event` to the cache; returns the query families that need a refetch. */
export function applyStorageEvent(qc: QueryClient, d: StorageEvent): QueryKey[] {
  switch (d.kind) {
    case "pool_state":
      if (d.pool && d.new) upsertIn<Pool>(qc, ["storage", "pools"], { name: d.pool, state: d.new } as Pool, (p) => p.name);
      return [];
    case "scrub_progress":
    case "scrub_finished":
      if (d.pool) {
        qc.setQueryData<ScrubStatus>(["storage", "scrub", d.pool], (old) => ({
          ...(old ?? { errors: 0, started: null, finished: null, percent: null }),
          ...(d.details as Partial<ScrubStatus> | undefined),
          state: d.kind === "scrub_finished" ? (d.new ?? "finished") : "running",
        }) as ScrubStatus);
      }
      return [];
    case "snapshot_created":
    case "snapshot_deleted":
      return [["storage", "snapshots", d.pool, d.volume]];
    case "volume_created":
    case "volume_deleted":
      return [["storage", "volumes", d.pool]];
    case "disk_added":
    case "disk_removed":
    case "smart_health":
      return [["storage", "disks"]];
    default:
      return [["storage", "pools"]];
  }
}

function useStorageEvents(enabled: boolean) {
  const qc = useQueryClient();
  const invalidate = useThrottledInvalidate(1000);
  useWebSocket(["storage.*"], (e) => {
    for (const key of applyStorageEvent(qc, (e.data ?? {}) as StorageEvent)) invalidate(key);
  }, enabled);
}

export function usePools(enabled = true) {
  useStorageEvents(enabled);
  return useQuery({ queryKey: ["storage", "pools"], queryFn: () => get<Pool[] | Page<Pool>>(`storage/pools`).then(itemsOf), enabled });
}

export function useBackends(enabled = true) {
  return useQuery({ queryKey: ["storage", "backends"], queryFn: () => get<Backend[] | Page<Backend>>("storage/backends").then(itemsOf), enabled, staleTime: 300000 });
}

export function useVolumes(pool: string | null) {
  return useQuery({ queryKey: ["storage", "volumes", pool], queryFn: () => get<Volume[] | Page<Volume>>(`${poolPath(pool!)}/volumes`).then(itemsOf), enabled: !!pool });
}

export function useSnapshots(pool: string | null, volume: string | null) {
  return useQuery({
    queryKey: ["storage", "snapshots", pool, volume],
    queryFn: () => get<Snapshot[] | Page<Snapshot>>(`${volPath(pool!, volume!)}/snapshots`, { limit: 200 }).then(itemsOf),
    enabled: !!pool && !!volume,
  });
}

export function useDisks(enabled = true) {
  return useQuery({ queryKey: ["storage", "disks"], queryFn: () => get<Disk[] | Page<Disk>>("storage/disks").then(itemsOf), enabled });
}

export function useSmart(disk: string | null) {
  return useQuery({ queryKey: ["storage", "smart", disk], queryFn: () => get<Record<string, unknown>>(`storage/disks/${enc(disk!)}/smart`), enabled: !!disk });
}

export function useScrub(pool: string | null) {
  return useQuery({ queryKey: ["storage", "scrub", pool], queryFn: () => get<ScrubStatus>(`${poolPath(pool!)}/scrub`), enabled: !!pool, retry: false });
}

export interface PoolCreate {
  name: string;
  backend: string;
  topology: { layout?: string | null };
  devices: string[];
  options: Record<string, unknown>;
}

export function useCreatePool() {
  return useOptimisticMutation<PoolCreate, Pool[], Pool>({
    mutationFn: (body) => post<Pool>("storage/pools", body),
    queryKey: ["storage", "pools"],
    update: (old, v) => [...(old ?? []), { name: v.name, backend: v.backend, state: "creating", size: null, used: null, free: null, devices: [] }],
    success: (p) => `Pool ${p.name} created`,
  });
}

export function useDeletePool() {
  return useOptimisticMutation<string, Pool[]>({
    mutationFn: (name) => del(poolPath(name), { confirm: name }),
    queryKey: ["storage", "pools"],
    update: (old, name) => old?.filter((p) => p.name !== name),
    success: (_d, name) => `Pool ${name} destroyed`,
  });
}

/** Export: the pool leaves this machine with its data (POST /pools/{pool}/export; import brings it back). */
export function useExportPool() {
  return useOptimisticMutation<string, Pool[]>({
    mutationFn: (name) => post(`${poolPath(name)}/export`),
    queryKey: ["storage", "pools"],
    update: (old, name) => old?.filter((p) => p.name !== name),
    success: (_d, name) => `Pool ${name} exported`,
  });
}

export function useScrubStart(pool: string) {
  return useOptimisticMutation<void, ScrubStatus, Job>({
    mutationFn: () => post<Job>(`${poolPath(pool)}/scrub`),
    queryKey: ["storage", "scrub", pool],
    update: (old) => ({ ...(old ?? { errors: 0, started: null, finished: null }), state: "running", percent: 0 }) as ScrubStatus,
    onSuccess: (job) => job?.id && watchJob(job.id),
    success: `Scrub of ${pool} started`,
  });
}

export function useCreateVolume(pool: string) {
  return useOptimisticMutation<{ name: string; quota?: number | null; compression?: string | null }, Volume[], Volume>({
    mutationFn: (body) => post<Volume>(`${poolPath(pool)}/volumes`, body),
    queryKey: ["storage", "volumes", pool],
    update: (old, v) => [...(old ?? []), { name: v.name, pool, used: null, quota: v.quota ?? null, compression: v.compression ?? null }],
    success: (v) => `Volume ${v.name} created`,
  });
}

export function useDeleteVolume(pool: string) {
  return useOptimisticMutation<string, Volume[]>({
    mutationFn: (name) => del(volPath(pool, name), { confirm: name }),
    queryKey: ["storage", "volumes", pool],
    update: (old, name) => old?.filter((v) => v.name !== name),
    success: (_d, name) => `Volume ${name} deleted`,
  });
}

export function useCreateSnapshot(pool: string, volume: string) {
  return useOptimisticMutation<{ name?: string; writable?: boolean }, Snapshot[], Snapshot>({
    mutationFn: (body) => post<Snapshot>(`${volPath(pool, volume)}/snapshots`, body),
    queryKey: ["storage", "snapshots", pool, volume],
    update: (old, v) => [{ name: v.name ?? "…", pool, volume, created: new Date().toISOString(), writable: !!v.writable, used: null }, ...(old ?? [])],
    success: (s) => `Snapshot ${s.name} created`,
  });
}

export function useDeleteSnapshot(pool: string, volume: string) {
  return useOptimisticMutation<string, Snapshot[]>({
    mutationFn: (name) => del(`${volPath(pool, volume)}/snapshots/${enc(name)}`),
    queryKey: ["storage", "snapshots", pool, volume],
    update: (old, name) => old?.filter((s) => s.name !== name),
    success: (_d, name) => `Snapshot ${name} deleted`,
  });
}

export function useRollback(pool: string, volume: string) {
  return useOptimisticMutation<{ name: string; force?: boolean }, Volume[]>({
    mutationFn: ({ name, force }) => post(`${volPath(pool, volume)}/snapshots/${enc(name)}/rollback`, force ? { force } : {}),
    queryKey: ["storage", "volumes", pool],
    invalidate: [["storage", "snapshots", pool, volume]],
    success: (_d, v) => `${volume} rolled back to ${v.name}`,
  });
}

export interface Restored { path: string; target: string; type: string; replaced: boolean }

/** Copy one file or folder from a snapshot back into the live volume. */
export function useRestore(pool: string, volume: string) {
  return useOptimisticMutation<{ snapshot: string; path: string; overwrite: boolean }, unknown, Restored>({
    mutationFn: ({ snapshot, path, overwrite }) =>
      post(`${volPath(pool, volume)}/snapshots/${enc(snapshot)}/restore`, { path, overwrite }),
    queryKey: ["storage", "volumes", pool],
    invalidate: [["storage", "files", pool, volume]],
    success: (d) => `Restored ${d.path}${d.replaced ? " (replaced the live copy)" : ""}`,
  });
}

export { mapList };

export interface PoolHealth {
  state: string;
  problems: { severity: string; message: string; device: string | null }[];
}

export function usePoolHealth(pool: string | null) {
  return useQuery({ queryKey: ["storage", "health", pool], queryFn: () => get<PoolHealth>(`${poolPath(pool!)}/health`), enabled: !!pool, retry: false });
}

export function useSmartTest(disk: string) {
  return useOptimisticMutation<string, unknown, Job>({
    mutationFn: (type) => post<Job>(`storage/disks/${enc(disk)}/smart/test`, { type }),
    queryKey: ["storage", "smart", disk],
    onSuccess: (job) => job?.id && watchJob(job.id),
    success: (_j, type) => `SMART ${type} self-test started on ${disk}`,
  });
}

export interface DiffEntry { path: string; change: string; type: string; old_path: string | null }

/** What changed in a volume since a snapshot (backends with the `diff` capability). */
export function useSnapshotDiff(pool: string, volume: string, snapshot: string | null) {
  return useQuery({
    queryKey: ["storage", "diff", pool, volume, snapshot],
    queryFn: () => get<DiffEntry[]>(`${volPath(pool, volume)}/diff`, { old: snapshot }),
    enabled: !!snapshot,
    staleTime: 0,
  });
}
