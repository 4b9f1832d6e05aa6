import { useQuery, useQueryClient } from "@tanstack/react-query";
import { get, post } from "../lib/api";
import type { AgentInfo, AgentTask, Job, Page } from "../lib/types";
import { FINISHED } from "../lib/types";
import { itemsOf, upsertIn, useOptimisticMutation, useThrottledInvalidate } from "./cache";
import { watchJob } from "./useJobs";
import { useWebSocket } from "./useWebSocket";

interface AgentStatusEvent {
  agent: string;
  state: AgentInfo["status"];
  running: number;
  queued: number;
  task_id?: string | null;
}

/** Patch one agent in the cached list from an `agent.status` event. */
export function applyAgentStatus(list: AgentInfo[] | undefined, ev: AgentStatusEvent): AgentInfo[] | undefined {
  return list?.map((a) => (a.name === ev.agent || a.id === ev.agent ? { ...a, status: ev.state, running: ev.running, queued: ev.queued } : a));
}

/** All agents with live status; counters refresh (throttled) when a task ends. */
export function useAgents(enabled = true) {
  const qc = useQueryClient();
  const invalidate = useThrottledInvalidate(2000);
  useWebSocket(["agent.*"], (e) => {
    if (e.type !== "agent.status") return;
    const ev = e.data as AgentStatusEvent;
    qc.setQueryData<AgentInfo[]>(["agents", "list"], (old) => applyAgentStatus(old, ev));
    if (ev.state !== "busy") invalidate(["agents", "list"]);
  }, enabled);
  return useQuery({ queryKey: ["agents", "list"], queryFn: () => get<AgentInfo[] | Page<AgentInfo>>("agents").then(itemsOf), enabled });
}

export function useSwarm(enabled = true) {
  return useQuery({ queryKey: ["agents", "swarm"], queryFn: () => get<Record<string, unknown>>("agents/swarm"), enabled, refetchInterval: 15000 });
}

/** One agent's task history; job events keep the visible tasks' state and progress current. */
export function useAgentTasks(agent: string | null) {
  const qc = useQueryClient();
  const invalidate = useThrottledInvalidate(500);
  useWebSocket(["job.progress", "agent.status"], (e) => {
    if (e.type === "agent.status") {
      // a task of this agent ended: its final job event may have come before its row was listed
      const ev = e.data as AgentStatusEvent;
      if (ev.agent === agent && ev.state !== "busy") invalidate(["agents", "tasks", agent]);
      return;
    }
    const job = e.data as Job;
    const patch: Partial<AgentTask> & { id: string } = { id: job.id, state: job.state, error: job.error, result: job.result, finished_at: job.finished_at, progress: job.progress };
    upsertIn<AgentTask>(qc, ["agents", "tasks", agent], patch as AgentTask, (t) => t.job_id ?? t.id);
  }, !!agent);
  return useQuery({
    queryKey: ["agents", "tasks", agent],
    queryFn: () => get<Page<AgentTask> | AgentTask[]>(`agents/${encodeURIComponent(agent!)}/tasks`, { limit: 25 }).then(itemsOf),
    enabled: !!agent,
  });
}

/** Dispatch a task: it shows at once as WAITING in the history and is rolled back if refused. */
export function useDispatch(agent: string) {
  return useOptimisticMutation<Record<string, unknown>, AgentTask[], AgentTask>({
    mutationFn: (params) => post<AgentTask>(`agents/${encodeURIComponent(agent)}/task`, { params }),
    queryKey: ["agents", "tasks", agent],
    update: (old, params) => [
      { id: `pending-${Date.now()}`, job_id: "", agent, state: "WAITING", params, result: null, error: null, created_at: new Date().toISOString(), finished_at: null, duration: null },
      ...(old ?? []),
    ],
    onSuccess: (task) => watchJob(task.job_id ?? task.id),
    success: (t) => `Task ${t.id.slice(0, 8)} dispatched to ${agent}`,
  });
}

export const taskFinished = (t: AgentTask) => FINISHED.includes(t.state);
