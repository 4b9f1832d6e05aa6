/** Shapes of the API's answers (only the fields the UI reads; plugins may send more). */

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export type JobState = "WAITING" | "RUNNING" | "SUCCESS" | "FAILED" | "ABORTED";
export const FINISHED: JobState[] = ["SUCCESS", "FAILED", "ABORTED"];

export interface Job {
  id: string;
  kind: string;
  description: string;
  state: JobState;
  params: Record<string, unknown>;
  owner: string;
  created_by: string | null;
  progress: { percent: number; description: string; bytes_done: number | null; bytes_total: number | null };
  result: unknown;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface Me {
  username: string;
  role: "admin" | "readonly";
  via: string;
  csrf_token: string | null;
}

export interface PluginInfo {
  name: string;
  version: string;
  module: string;
  status: string;
  error: string | null;
  hooks: string[];
}

export interface UiPage {
  id: string;
  title: string;
  path: string;
  icon: string | null;
  section: string;
  plugin: string;
  /** "page": a sidebar page at `path`; "widget": a dashboard card showing GET /api/v1`path` */
  kind: "page" | "widget";
}

export interface CpuCore { core: number; percent: number; user: number; system: number; iowait: number; idle: number }
export interface Metrics {
  ts: number;
  interval: number;
  cpu: { percent: number; user: number; system: number; iowait: number; idle: number; count: number; per_core: CpuCore[] };
  memory: { total: number; available: number; used: number; free: number; percent: number; cached?: number; buffers?: number };
  swap: { total: number; used: number; free: number; percent: number };
  load: number[];
  network: { interface: string; rx_bytes_per_s: number; tx_bytes_per_s: number }[];
  disks: { device: string; read_bytes_per_s: number; write_bytes_per_s: number; busy_percent: number | null }[];
  temperatures: { chip: string; label: string; celsius: number }[];
  filesystems: { mountpoint: string; device: string; fstype: string; total: number; used: number; percent: number }[];
}

export interface MetricsHistory { interval: number; capacity: number; samples: Metrics[] }

export interface SystemStatus {
  hostname: string;
  os: string;
  kernel: string;
  arch: string;
  uptime: number;
  cpu_count: number;
  cpu_percent: number;
  memory: Metrics["memory"];
  load: number[];
}

export interface Alert {
  id: string;
  severity: string;
  message: string;
  active?: boolean;
  [k: string]: unknown;
}

export interface NetInterface {
  index: number;
  name: string;
  kind: string;
  mac: string | null;
  mtu: number;
  state: string;
  speed_mbps: number | null;
  addresses: { family: string; address: string; prefixlen: number }[];
  rx_bytes: number;
  tx_bytes: number;
}

export interface PoolDevice { path: string; state: string; size?: number | null; errors?: Record<string, number> }
export interface Pool {
  name: string;
  backend: string;
  state: string;
  layout?: string | null;
  mountpoint?: string | null;
  size: number | null;
  used: number | null;
  free: number | null;
  devices: PoolDevice[];
  properties?: Record<string, unknown>;
}
export interface Volume { name: string; pool: string; path?: string; used: number | null; quota: number | null; compression: string | null; created?: string | null }
export interface Snapshot { name: string; pool: string; volume: string; created: string; writable: boolean; used: number | null }
export interface ScrubStatus { state: string; percent: number | null; errors: number; started: string | null; finished: string | null }
export interface Disk { name: string; path?: string; model?: string | null; serial?: string | null; size?: number | null; type?: string; rotational?: boolean | null; pool?: string | null; in_use?: unknown; health?: string | null; [k: string]: unknown }
export interface Backend { name: string; description: string; capabilities: Record<string, unknown>; available?: boolean | { available: boolean; reason: string | null } }

export interface AgentInfo {
  id: string;
  name: string;
  tier: string;
  specialty: string;
  description: string;
  owner: string;
  status: "idle" | "busy" | "error";
  running: number;
  queued: number;
  concurrency: number;
  counters: { tasks_done: number; tasks_failed: number; tasks_aborted?: number; mean_duration: number | null; last_active: string | null };
  params_schema: JsonSchema;
}
export interface AgentTask {
  id: string;
  job_id: string;
  agent: string;
  state: JobState;
  params: Record<string, unknown>;
  result: unknown;
  error: string | null;
  created_at: string;
  finished_at: string | null;
  duration: number | null;
  progress?: { percent?: number } | null;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
  const?: unknown;
  format?: string;
}
