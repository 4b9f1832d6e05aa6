import { useQuery, useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import { get, post } from "../lib/api";
import { FINISHED, type Job, type JobState, type Page } from "../lib/types";
import { useOptimisticMutation, upsertIn } from "./cache";
import { useWebSocket } from "./useWebSocket";

export interface JobFilter {
  state?: JobState | "";
  kind?: string;
  limit?: number;
  offset?: number;
}

/** Jobs started from this tab: their end is announced with a toast. */
const watched = new Set<string>();
export function watchJob(id: string): void {
  watched.add(id);
}

/** Keep every cached job list and job current from `job.progress` events. */
export function applyJobEvent(qc: ReturnType<typeof useQueryClient>, job: Job): void {
  upsertIn<Job>(qc, ["jobs", "list"], job, (j) => j.id);
  qc.setQueriesData<Page<Job>>({ queryKey: ["jobs", "list"] }, (old) => {
    if (!old || old.offset !== 0 || old.items.some((j) => j.id === job.id)) return old;
    return { ...old, items: [job, ...old.items].slice(0, old.limit), total: old.total + 1 };
  });
  qc.setQueryData(["jobs", "one", job.id], job);
}

export function useJobs(filter: JobFilter = {}) {
  const qc = useQueryClient();
  useWebSocket(["job.*"], (e) => {
    if (e.type === "job.progress") applyJobEvent(qc, e.data as Job);
  });
  return useQuery({
    queryKey: ["jobs", "list", filter],
    queryFn: () => get<Page<Job>>("jobs", { limit: filter.limit ?? 50, offset: filter.offset ?? 0, state: filter.state, kind: filter.kind }),
  });
}

export function useJob(id: string | null | undefined) {
  const qc = useQueryClient();
  useWebSocket(["job.progress"], (e) => {
    const job = e.data as Job;
    if (job.id === id) qc.setQueryData(["jobs", "one", id], job);
  }, !!id);
  return useQuery({ queryKey: ["jobs", "one", id], queryFn: () => get<Job>(`jobs/${id}`), enabled: !!id });
}

export function useJobLogs(id: string | null) {
  return useQuery({ queryKey: ["jobs", "logs", id], queryFn: () => get<{ ts: string; message: string }[]>(`jobs/${id}/logs`), enabled: !!id });
}

export function useCancelJob() {
  return useOptimisticMutation<string, Page<Job>, Job>({
    mutationFn: (id) => post<Job>(`jobs/${id}/cancel`),
    queryKey: ["jobs", "list"],
    success: "Cancellation requested",
  });
}

/** Mounted once: toasts when a watched job ends, and when any job fails. */
export function useJobToasts(): void {
  useWebSocket(["job.progress"], (e) => {
    const job = e.data as Job;
    if (!FINISHED.includes(job.state)) return;
    const mine = watched.delete(job.id);
    const label = job.description || job.kind;
    if (job.state === "SUCCESS" && mine) toast.success(`Finished: ${label}`);
    else if (job.state === "FAILED") toast.error(`Failed: ${label}`, { description: job.error ?? undefined });
    else if (job.state === "ABORTED" && mine) toast.message(`Cancelled: ${label}`);
  });
}
