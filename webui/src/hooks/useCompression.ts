import { useQuery, useQueryClient } from "@tanstack/react-query";
import { del, get, post } from "../lib/api";
import type { Job, Page } from "../lib/types";
import { FINISHED } from "../lib/types";
import { itemsOf, useOptimisticMutation } from "./cache";
import { watchJob } from "./useJobs";
import { useWebSocket } from "./useWebSocket";

/** Live figures of a running compression job, from `compression.progress`. */
export interface CompressionLive {
  percent?: number | null;
  bytes_in?: number;
  bytes_out?: number;
  bytes_total?: number | null;
  ratio?: number | null;
  ratio_text?: string | null;
  saved_percent?: number | null;
  throughput?: number;
  eta_seconds?: number | null;
}

/** A compression job: the core job plus the live figures of its last progress event. */
export type CompressionJob = Job & { live?: CompressionLive };

export interface CompressionProgress extends CompressionLive {
  job_id: string;
  operation?: string;
  codec?: string;
  source?: string;
  done?: boolean;
}

type JobsCache = Page<CompressionJob> | undefined;

/** A compression `source`/`target` as the API takes it: an absolute path, or a location. */
export type CompressionLocation = string | { pool?: string; volume?: string; subpath?: string | null; path?: string | null };

/** A location in words: "/srv/x" as it is, `{pool, volume, subpath}` as "tank / media / photos". */
export function locationWords(l: unknown): string {
  if (typeof l === "string") return l;
  if (!l || typeof l !== "object") return "";
  const o = l as Exclude<CompressionLocation, string>;
  if (typeof o.path === "string" && o.path) return o.path;
  const sub = (o.subpath ?? "").replace(/^\/+|\/+$/g, "");
  return [o.pool, o.volume, ...(sub ? [sub] : [])].filter((x): x is string => typeof x === "string" && x !== "").join(" / ");
}

/** Where a job reads and writes, for the jobs table: a location given as `{pool, volume, subpath}`
 * in words ("tank / media / photos"), a path as the path; `*Title` the resolved host paths the daemon
 * reports (`source_path`/`target_path`). A target beside its source is just its name. */
export function jobPaths(j: Pick<Job, "params">): { source: string; target: string; sourceTitle: string; targetTitle: string } {
  const p = j.params;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const sourceTitle = str(p.source_path) || locationWords(p.source);
  const targetTitle = str(p.target_path) || locationWords(p.target);
  const source = typeof p.source === "object" && p.source ? locationWords(p.source) : sourceTitle;
  let target = typeof p.target === "object" && p.target ? locationWords(p.target) : targetTitle;
  const dir = (x: string) => x.replace(/\/[^/]*$/, "");
  if (sourceTitle.startsWith("/") && targetTitle.startsWith("/") && dir(sourceTitle) === dir(targetTitle)) target = targetTitle.slice(dir(targetTitle).length + 1);
  return { source, target, sourceTitle, targetTitle };
}

/** Merge a `compression.progress` event into the cached job list. */
export function applyCompressionProgress(old: JobsCache, ev: CompressionProgress): JobsCache {
  if (!old) return old;
  const { job_id, operation: _o, codec: _c, source: _s, done: _d, ...live } = ev;
  void _o; void _c; void _s; void _d;
  return {
    ...old,
    items: old.items.map((j) => {
      if (j.id !== job_id) return j;
      const percent = live.percent ?? j.progress.percent;
      return { ...j, live: { ...j.live, ...live }, progress: { ...j.progress, percent: Math.max(j.progress.percent, percent ?? 0) } };
    }),
  };
}

/**
 * Merge a `job.progress` event of a compression job: update it in place, or put a new job at the
 * top (replacing the optimistic placeholder of the same request, if any).
 */
export function applyCompressionJob(old: JobsCache, job: Job): JobsCache {
  if (!old) return old;
  if (old.items.some((j) => j.id === job.id)) {
    return { ...old, items: old.items.map((j) => (j.id === job.id ? { ...j, ...job, live: j.live } : j)) };
  }
  const same = locationWords(job.params.source);
  const rest = old.items.filter((j) => !(j.id.startsWith("pending-") && locationWords(j.params.source) === same));
  return { ...old, items: [job, ...rest].slice(0, old.limit), total: old.total + 1 - (old.items.length - rest.length) };
}

export function percentOf(j: CompressionJob): number {
  if (j.state === "SUCCESS") return 100;
  return j.live?.percent ?? j.progress?.percent ?? 0;
}

const KEY = ["compression", "jobs"] as const;

export function useCompressionJobs(enabled = true) {
  const qc = useQueryClient();
  useWebSocket(["compression.*", "job.progress"], (e) => {
    if (e.type === "compression.progress") {
      qc.setQueryData<JobsCache>(KEY, (old) => applyCompressionProgress(old, e.data as CompressionProgress));
    } else if (e.type === "job.progress") {
      const job = e.data as Job;
      if (!job.kind.startsWith("compression")) return;
      qc.setQueryData<JobsCache>(KEY, (old) => applyCompressionJob(old, job));
      if (FINISHED.includes(job.state)) void qc.invalidateQueries({ queryKey: ["compression", "stats"] });
    }
  }, enabled);
  return useQuery({ queryKey: KEY, queryFn: () => get<Page<CompressionJob>>("compression/jobs", { limit: 50 }), enabled });
}

export interface CodecTotals {
  codec: string | null;
  jobs: number;
  bytes_in: number;
  bytes_out: number;
  ratio: number | null;
  ratio_text: string | null;
  saved_percent: number | null;
  mean_throughput: number | null;
}

export interface CompressionStats {
  codecs: CodecTotals[];
  total: CodecTotals;
  storage_available: boolean;
  storage: Record<string, unknown>[];
  available_codecs: string[];
}

export function useCompressionStats(enabled = true) {
  return useQuery({ queryKey: ["compression", "stats"], queryFn: () => get<CompressionStats>("compression/stats"), enabled });
}

export function useCodecs(enabled = true) {
  return useQuery({
    queryKey: ["compression", "codecs"],
    queryFn: () => get<{ name: string; levels: Record<string, number> }[] | Page<{ name: string; levels: Record<string, number> }>>("compression/codecs").then(itemsOf),
    enabled,
    staleTime: 300000,
  });
}

export function useCreateCompressionJob() {
  return useOptimisticMutation<Record<string, unknown>, JobsCache, Job>({
    mutationFn: (body) => post<Job>("compression/jobs", body),
    queryKey: KEY,
    update: (old, body) => old && {
      ...old,
      items: [{
        id: `pending-${Date.now()}`, kind: `compression.${String(body.operation)}`, description: `${String(body.operation)} ${locationWords(body.source)}`,
        state: "WAITING", params: body, owner: "", created_by: null, result: null, error: null,
        progress: { percent: 0, description: "", bytes_done: null, bytes_total: null }, created_at: new Date().toISOString(), started_at: null, finished_at: null,
      }, ...old.items],
      total: old.total + 1,
    },
    onSuccess: (j) => watchJob(j.id),
    success: "Compression job started",
  });
}

export function useCancelCompressionJob() {
  return useOptimisticMutation<string, JobsCache>({
    mutationFn: (id) => del(`compression/jobs/${encodeURIComponent(id)}`),
    queryKey: KEY,
    update: (old, id) => old && { ...old, items: old.items.map((j) => (j.id === id ? { ...j, state: "ABORTED" as const } : j)) },
    success: "Job cancelled",
  });
}

/** Live figures, or the finished job's result when the events were not seen (e.g. after a reload). */
export function liveOf(j: CompressionJob): CompressionLive {
  const raw = j.result && typeof j.result === "object" ? (j.result as CompressionLive & { uncompressed?: number; compressed?: number; operation?: string }) : {};
  const result: CompressionLive = { ...raw };
  // a finished job's result names its sizes uncompressed/compressed: in → out by operation
  if (raw.bytes_in == null && typeof raw.uncompressed === "number" && typeof raw.compressed === "number") {
    const unpacking = (raw.operation ?? j.kind).includes("decompress");
    result.bytes_in = unpacking ? raw.compressed : raw.uncompressed;
    result.bytes_out = unpacking ? raw.uncompressed : raw.compressed;
  }
  // the job's own progress detail (bytes written, ratio, speed, ETA) when no event carried it
  const detail = (j as { progress?: { bytes_done?: number | null; detail?: { bytes_out?: number | null; ratio?: number | null; speed_bps?: number | null; eta_s?: number | null } | null } }).progress;
  const fromJob: CompressionLive = {};
  if (detail?.detail) {
    if (detail.bytes_done != null) fromJob.bytes_in = detail.bytes_done;
    if (detail.detail.bytes_out != null) fromJob.bytes_out = detail.detail.bytes_out;
    if (detail.detail.speed_bps != null) fromJob.throughput = detail.detail.speed_bps;
    if (detail.detail.eta_s != null) fromJob.eta_seconds = detail.detail.eta_s;
    if (detail.detail.ratio != null) { fromJob.ratio = detail.detail.ratio; fromJob.ratio_text = `${detail.detail.ratio.toFixed(2)}x`; }
  }
  return { ...fromJob, ...result, ...j.live };
}
