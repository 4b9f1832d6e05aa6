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

/** Dashboard ranges read from the on-disk history: how far back, and seconds per bucket. */
export const HISTORY_RANGES = {
  "1h": { label: "1 h", seconds: 3600, step: 10 },
  "24h": { label: "24 h", seconds: 86400, step: 300 },
  "7d": { label: "7 d", seconds: 7 * 86400, step: 1800 },
  "30d": { label: "30 d", seconds: 30 * 86400, step: 7200 },
  "1y": { label: "1 y", seconds: 365 * 86400, step: 86400 },
} as const;
export type HistoryRange = keyof typeof HISTORY_RANGES;
/** "live" is the in-memory window moved by `system.metrics` events; the others come from disk. */
export type MetricsRange = "live" | HistoryRange;

/** One stored series: bucket means (and extremes) aligned with `timestamps`; null = no data. */
export interface HistorySeries { metric: string; label: string; avg: (number | null)[]; min: (number | null)[]; max: (number | null)[] }
export interface StoredHistory extends MetricsHistory { from: number; to: number; step: number; tier: number; timestamps: number[]; series: HistorySeries[] }

/** The query for a range: `from` relative to the server's clock (negative seconds), `step` in seconds. */
export function historyQuery(range: HistoryRange): { from: number; step: number } {
  const r = HISTORY_RANGES[range];
  return { from: -r.seconds, step: r.step };
}

/**
 * The stored history of `range` (null: nothing fetched), refetched once per bucket (at least
 * every 10 s); the previous range's data stays on screen while the next one loads.
 */
export function useMetricsHistory(range: HistoryRange | null) {
  const q = range ? historyQuery(range) : null;
  return useQuery({
    queryKey: ["system", "history", "stored", range],
    queryFn: () => get<StoredHistory>("system/metrics/history", q!),
    enabled: range !== null,
    refetchInterval: q ? Math.max(10, q.step) * 1000 : false,
    placeholderData: (prev) => prev,
  });
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
