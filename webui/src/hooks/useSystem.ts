import { useQuery, useQueryClient } from "@tanstack/react-query";
import { get } from "../lib/api";
import type { Alert, Metrics, MetricsHistory, NetInterface, SystemStatus } from "../lib/types";
import { useThrottledInvalidate } from "./cache";
import { useWebSocket } from "./useWebSocket";

export const HISTORY_SECONDS = 300;

/** Append a live sample to the cached history, keeping the last `HISTORY_SECONDS`. */
export function appendSample(old: MetricsHistory | undefined, m: Metrics): MetricsHistory {
  const samples = old?.samples ?? [];
  if (samples.length && samples[samples.length - 1]!.ts >= m.ts) return old!;
  const cutoff = m.ts - HISTORY_SECONDS;
  return {
    interval: old?.interval ?? m.interval,
    capacity: old?.capacity ?? HISTORY_SECONDS,
    samples: [...samples.filter((s) => s.ts >= cutoff), m],
  };
}

export function useSystemStatus() {
  return useQuery({ queryKey: ["system", "status"], queryFn: () => get<SystemStatus>("system/status"), refetchInterval: 30000 });
}

/**
 * The metrics history of the last minutes, moving live: each `system.metrics` event is appended to
 * the cached history (no refetch). The server only samples while someone subscribes.
 */
export function useMetrics(enabled = true) {
  const qc = useQueryClient();
  useWebSocket(["system.metrics"], (e) => {
    const m = e.data as Metrics;
    qc.setQueryData<MetricsHistory>(["system", "history"], (old) => appendSample(old, m));
    qc.setQueryData(["system", "metrics"], m);
  }, enabled);
  const history = useQuery({
    queryKey: ["system", "history"],
    queryFn: () => get<MetricsHistory>("system/metrics/history", { seconds: HISTORY_SECONDS }),
    enabled,
  });
  const samples = history.data?.samples ?? [];
  return { ...history, samples, latest: samples[samples.length - 1] };
}

export function useInterfaces() {
  return useQuery({ queryKey: ["system", "interfaces"], queryFn: () => get<NetInterface[]>("system/network/interfaces"), refetchInterval: 10000 });
}

export function useAlerts(enabled = true) {
  const invalidate = useThrottledInvalidate(500);
  useWebSocket(["alert"], () => invalidate(["system", "alerts"]), enabled);
  return useQuery({ queryKey: ["system", "alerts"], queryFn: () => get<Alert[]>("system/alerts"), enabled });
}

export function useServices(enabled = true) {
  return useQuery({ queryKey: ["system", "services"], queryFn: () => get<Record<string, unknown>[]>("system/services"), enabled, refetchInterval: 30000 });
}
