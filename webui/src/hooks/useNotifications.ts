/** The notifications plugin: the centre (bell), channels, rules and the delivery history. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { del, get, post, put } from "../lib/api";
import { useWebSocket } from "./useWebSocket";

export type Severity = "info" | "warning" | "critical";
export const SEVERITIES: Severity[] = ["info", "warning", "critical"];
/** What the API shows instead of a stored secret; sent back, it keeps the secret. */
export const MASK = "**********";

export interface Notification {
  id: number;
  alert_id: string;
  kind: "alert" | "resolved";
  source: string;
  severity: Severity;
  message: string;
  active: boolean;
  value: number | null;
  threshold: number | null;
  details: Record<string, unknown> | null;
  created: string;
  updated: string;
  repeats: number;
  acked: boolean;
  acked_at: string | null;
  resolved_at: string | null;
}

export interface NotificationPage {
  items: Notification[];
  total: number;
  unread: number;
  limit: number;
  offset: number;
}

export interface WebhookSettings { type: "webhook"; url: string; secret: string | null }
export interface EmailSettings {
  type: "email";
  host: string;
  port: number;
  security: "none" | "starttls" | "tls";
  verify_tls: boolean;
  username: string | null;
  password: string | null;
  sender: string;
  to: string[];
}
export type ChannelSettings = WebhookSettings | EmailSettings;

export interface Channel {
  id: string;
  name: string;
  type: "webhook" | "email" | "centre";
  enabled: boolean;
  min_severity: Severity;
  settings: ChannelSettings | { type: "centre" };
  builtin: boolean;
  created: string | null;
  updated: string | null;
}

export interface ChannelBody {
  name: string;
  enabled: boolean;
  min_severity: Severity;
  settings: ChannelSettings;
}

export interface RuleBody {
  name: string;
  enabled: boolean;
  sources: string[];
  alert_ids: string[];
  min_severity: Severity;
  channels: string[];
}
export interface Rule extends RuleBody { id: string; created: string; updated: string }

export interface TestResult { delivered: boolean; channel: string; kind: string; detail: string; seconds: number }

export interface Delivery {
  id: number;
  notification_id: number | null;
  channel_id: string;
  channel_name: string;
  kind: "alert" | "resolved" | "test";
  status: "pending" | "retrying" | "delivered" | "failed";
  attempts: number;
  error: string | null;
  reason: string | null;
  detail: string | null;
  created: string;
  updated: string;
  alert_id: string | null;
  message: string | null;
}
export interface DeliveryPage { items: Delivery[]; total: number; limit: number; offset: number }

export interface NotificationEvent {
  action: "new" | "updated" | "acked";
  notification: Notification | null;
  unread: number;
}

const KEY = ["notifications"] as const;

export interface NotificationFilter { limit?: number; offset?: number; unread?: boolean; severity?: Severity | ""; source?: string }

/**
 * Keeps every cached notifications query fresh from the `notification` event: the unread count
 * is set at once, lists are refetched. Mount it once (the bell does).
 */
export function useNotificationEvents(enabled = true) {
  const qc = useQueryClient();
  useWebSocket(["notification"], (e) => {
    const ev = e.data as NotificationEvent;
    qc.setQueryData<NotificationPage>([...KEY, "list", { limit: 8 }], (old) => (old ? { ...old, unread: ev.unread } : old));
    void qc.invalidateQueries({ queryKey: [...KEY, "list"] });
    if (ev.action !== "acked") void qc.invalidateQueries({ queryKey: [...KEY, "deliveries"] });
  }, enabled);
}

export function useNotifications(filter: NotificationFilter = {}, enabled = true) {
  const query: Record<string, string | number | boolean | undefined> = {
    limit: filter.limit ?? 50,
    offset: filter.offset || undefined,
    unread: filter.unread,
    severity: filter.severity || undefined,
    source: filter.source || undefined,
  };
  return useQuery({
    queryKey: [...KEY, "list", filter],
    queryFn: () => get<NotificationPage>("notifications", query),
    enabled,
    refetchInterval: 60000, // a safety net; the event keeps it live
  });
}

function useInvalidating<TVars, TData>(fn: (v: TVars) => Promise<TData>, ...keys: string[]) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: () => Promise.all(keys.map((k) => qc.invalidateQueries({ queryKey: [...KEY, k] }))),
  });
}

export const useAck = () => useInvalidating((id: number) => post<Notification>(`notifications/${id}/ack`), "list");
export const useAckAll = () => useInvalidating((upTo?: number) => post<{ acked: number; unread: number }>("notifications/ack", upTo === undefined ? {} : { up_to: upTo }), "list");

export function useChannels() {
  return useQuery({ queryKey: [...KEY, "channels"], queryFn: () => get<Channel[]>("notifications/channels") });
}

export const useSaveChannel = () =>
  useInvalidating(({ id, body }: { id?: string; body: ChannelBody }) =>
    id ? put<Channel>(`notifications/channels/${id}`, body) : post<Channel>("notifications/channels", body), "channels");

export const useDeleteChannel = () => useInvalidating((id: string) => del<void>(`notifications/channels/${id}`), "channels");

export const useTestChannel = () =>
  useInvalidating((id: string) => post<TestResult>(`notifications/channels/${id}/test`), "deliveries", "list");

export function useRules() {
  return useQuery({ queryKey: [...KEY, "rules"], queryFn: () => get<Rule[]>("notifications/rules") });
}

export const useSaveRule = () =>
  useInvalidating(({ id, body }: { id?: string; body: RuleBody }) =>
    id ? put<Rule>(`notifications/rules/${id}`, body) : post<Rule>("notifications/rules", body), "rules");

export const useDeleteRule = () => useInvalidating((id: string) => del<void>(`notifications/rules/${id}`), "rules");

export function useSources() {
  return useQuery({ queryKey: [...KEY, "sources"], queryFn: () => get<{ sources: string[]; alert_ids: string[] }>("notifications/sources"), staleTime: 30000 });
}

export function useDeliveries(filter: { limit?: number; offset?: number; channel?: string; status?: string } = {}) {
  return useQuery({
    queryKey: [...KEY, "deliveries", filter],
    queryFn: () => get<DeliveryPage>("notifications/deliveries", { limit: filter.limit ?? 50, offset: filter.offset || undefined, channel: filter.channel || undefined, status: filter.status || undefined }),
    refetchInterval: 10000,
  });
}

/** PULSE's alert thresholds (the system plugin): percent values 0-100, null = not checked. */
export interface Thresholds {
  cpu_percent: number | null;
  memory_percent: number | null;
  filesystem_percent: number | null;
  temperature_celsius: number | null;
  window_seconds: number;
  hysteresis: number;
}

const THRESHOLDS = "/system/alerts/thresholds";

export function useThresholds() {
  return useQuery({ queryKey: ["system", "thresholds"], queryFn: () => get<Thresholds>(THRESHOLDS) });
}

export function useSaveThresholds() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: Thresholds) => put<Thresholds>(THRESHOLDS, body),
    onSuccess: (saved) => qc.setQueryData(["system", "thresholds"], saved),
  });
}
