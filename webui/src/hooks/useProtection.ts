/** Data protection tasks (`/storage/protection/tasks`): snapshot, scrub, SMART test and replication
 * schedules with their last and next runs and history. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import { del, errorMessage, get, patch, post } from "../lib/api";
import type { Job } from "../lib/types";
import { useOptimisticMutation, useThrottledInvalidate } from "./cache";
import { watchJob } from "./useJobs";
import { useWebSocket } from "./useWebSocket";

export type TaskKind = "snapshot" | "scrub" | "smart_test" | "replication";
export type RunState = "running" | "success" | "failed" | "aborted" | "skipped";

export interface Retention { keep_last: number; hourly: number; daily: number; weekly: number; monthly: number; yearly: number }

export interface ProtectionRun {
  id: number;
  task_id: string;
  trigger: "schedule" | "manual";
  state: RunState;
  job_id: string | null;
  started_at: string;
  finished_at: string | null;
  result: unknown;
  error: string | null;
}

export interface ProtectionTask {
  id: string;
  kind: TaskKind;
  name: string;
  target: string;
  params: Record<string, unknown>;
  schedule: string;
  enabled: boolean;
  next_run: string | null;
  last_run: ProtectionRun | null;
  running: boolean;
  runs: number;
  created_at: string;
  updated_at: string;
}

export interface TaskBody {
  kind: TaskKind;
  schedule: string;
  params: Record<string, unknown>;
  enabled?: boolean;
  name?: string;
}

export interface RunPage { items: ProtectionRun[]; total: number; limit: number; offset: number }

const TASKS = "storage/protection/tasks";
const KEY = ["storage", "protection", "tasks"];
const enc = encodeURIComponent;

/** The tasks; refetched when one of their jobs moves, and every few seconds while one runs. */
export function useProtectionTasks() {
  const invalidate = useThrottledInvalidate(500);
  useWebSocket(["job.progress"], (e) => {
    const job = e.data as Job;
    if (job.kind?.startsWith("storage.protection.")) {
      invalidate(KEY);
      invalidate(["storage", "protection", "runs", job.params?.task]);
    }
  });
  return useQuery({
    queryKey: KEY,
    queryFn: () => get<ProtectionTask[]>(TASKS),
    refetchInterval: (q) => ((q.state.data ?? []).some((t) => t.running) ? 3000 : 30000),
  });
}

export function useTaskRuns(task: string | null, limit = 50) {
  return useQuery({
    queryKey: ["storage", "protection", "runs", task],
    queryFn: () => get<RunPage>(`${TASKS}/${enc(task!)}/runs`, { limit }),
    enabled: !!task,
  });
}

/** Create (no id) or change (id) a task; errors stay on the mutation for the form's fields. */
export function useSaveTask() {
  const qc = useQueryClient();
  return useMutation<ProtectionTask, Error, { id?: string; body: TaskBody }>({
    mutationFn: ({ id, body }) => {
      if (!id) return post<ProtectionTask>(TASKS, body);
      const { kind: _kind, ...changes } = body;
      return patch<ProtectionTask>(`${TASKS}/${enc(id)}`, changes);
    },
    onSuccess: (t, v) => {
      toast.success(v.id ? `Task ${label(t)} saved` : `Task ${label(t)} created`);
      void qc.invalidateQueries({ queryKey: KEY });
    },
  });
}

export function useToggleTask() {
  return useOptimisticMutation<{ id: string; enabled: boolean }, ProtectionTask[], ProtectionTask>({
    mutationFn: ({ id, enabled }) => patch<ProtectionTask>(`${TASKS}/${enc(id)}`, { enabled }),
    queryKey: KEY,
    update: (old, v) => old?.map((t) => (t.id === v.id ? { ...t, enabled: v.enabled } : t)),
    success: (t) => `${label(t)} ${t.enabled ? "enabled" : "disabled"}`,
  });
}

export function useDeleteTask() {
  return useOptimisticMutation<ProtectionTask, ProtectionTask[]>({
    mutationFn: (t) => del(`${TASKS}/${enc(t.id)}`),
    queryKey: KEY,
    update: (old, v) => old?.filter((t) => t.id !== v.id),
    success: (_d, t) => `Task ${label(t)} deleted`,
  });
}

export function useRunTask() {
  const qc = useQueryClient();
  return useMutation<ProtectionRun, Error, ProtectionTask>({
    mutationFn: (t) => post<ProtectionRun>(`${TASKS}/${enc(t.id)}/run`),
    onSuccess: (run, t) => {
      if (run.job_id) watchJob(run.job_id);
      toast.success(`Started: ${label(t)}`);
      qc.setQueryData<ProtectionTask[]>(KEY, (old) => old?.map((x) => (x.id === t.id ? { ...x, running: true, last_run: run } : x)));
      void qc.invalidateQueries({ queryKey: ["storage", "protection", "runs", t.id] });
    },
    onError: (e) => toast.error(errorMessage(e)),
    onSettled: () => void qc.invalidateQueries({ queryKey: KEY }),
  });
}

export const KIND_TITLE: Record<TaskKind, string> = {
  snapshot: "Periodic snapshots",
  scrub: "Scrub schedules",
  smart_test: "SMART self-tests",
  replication: "Replication",
};

const KIND_SHORT: Record<TaskKind, string> = { snapshot: "snapshots", scrub: "scrub", smart_test: "SMART test", replication: "replication" };

export function label(t: Pick<ProtectionTask, "name" | "kind" | "target">): string {
  return t.name || `${KIND_SHORT[t.kind]} of ${t.target}`;
}

// --- schedules -----------------------------------------------------------------------------------

export type Preset = "hourly" | "daily" | "weekly" | "monthly" | "custom";
export interface ScheduleForm { preset: Preset; minute: number; time: string; weekday: number; day: number; cron: string }

export const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const pad = (n: number) => String(n).padStart(2, "0");

/** The cron expression (UTC) of a schedule form. */
export function toCron(s: ScheduleForm): string {
  const [h, m] = s.time.split(":").map((x) => Number.parseInt(x, 10));
  const hh = Number.isFinite(h) ? h : 0;
  const mm = Number.isFinite(m) ? m : 0;
  switch (s.preset) {
    case "hourly": return `${s.minute} * * * *`;
    case "daily": return `${mm} ${hh} * * *`;
    case "weekly": return `${mm} ${hh} * * ${s.weekday}`;
    case "monthly": return `${mm} ${hh} ${s.day} * *`;
    default: return s.cron.trim();
  }
}

const num = (x: string, lo: number, hi: number) => (/^\d+$/.test(x) && +x >= lo && +x <= hi ? +x : null);

/** The form that shows a cron expression: a preset when it is one, else "custom". */
export function fromCron(expr: string): ScheduleForm {
  const base: ScheduleForm = { preset: "custom", minute: 0, time: "02:00", weekday: 0, day: 1, cron: expr };
  const f = expr.trim().split(/\s+/);
  if (f.length !== 5) return base;
  const [mi, ho, dom, mon, dow] = f as [string, string, string, string, string];
  const m = num(mi, 0, 59);
  const h = num(ho, 0, 23);
  if (m === null || mon !== "*") return base;
  if (ho === "*" && dom === "*" && dow === "*") return { ...base, preset: "hourly", minute: m };
  if (h === null) return base;
  const time = `${pad(h)}:${pad(m)}`;
  if (dom === "*" && dow === "*") return { ...base, preset: "daily", time };
  const wd = num(dow, 0, 7);
  if (dom === "*" && wd !== null) return { ...base, preset: "weekly", time, weekday: wd % 7 };
  const d = num(dom, 1, 31);
  if (d !== null && dow === "*") return { ...base, preset: "monthly", time, day: d };
  return base;
}

const ordinal = (n: number) => `${n}${n % 10 === 1 && n !== 11 ? "st" : n % 10 === 2 && n !== 12 ? "nd" : n % 10 === 3 && n !== 13 ? "rd" : "th"}`;

/** A cron expression in words: "every day at 02:00", or the expression itself when not a preset. */
export function describeCron(expr: string): string {
  const s = fromCron(expr);
  switch (s.preset) {
    case "hourly": return s.minute === 0 ? "every hour" : `every hour at :${pad(s.minute)}`;
    case "daily": return `every day at ${s.time}`;
    case "weekly": return `every ${WEEKDAYS[s.weekday]} at ${s.time}`;
    case "monthly": return `on the ${ordinal(s.day)} of every month at ${s.time}`;
    default: return expr.trim() === "* * * * *" ? "every minute" : `cron ${expr}`;
  }
}

/** Next run times of a cron expression (the server checks it: errors name the schedule). */
export function useSchedulePreview(expr: string) {
  return useQuery({
    queryKey: ["storage", "protection", "schedule", expr],
    queryFn: () => post<{ schedule: string; next: string[] }>("storage/protection/schedule", { schedule: expr, count: 3 }),
    enabled: expr.trim().length > 0,
    retry: false,
    staleTime: 30000,
  });
}
