import { useMemo, useState } from "react";
import { Link } from "react-router";
import Chart from "../components/Chart";
import PluginWidgets from "../components/PluginWidgets";
import { Fleet } from "../components/Fleet";
import { Badge, Card, Empty, ErrorState, Loading, ProgressBar, QueryState } from "../components/ui";
import { useCapabilities } from "../hooks/useCapabilities";
import { HISTORY_RANGES, useAlerts, useMetrics, useMetricsHistory, useSystemStatus, type HistoryRange, type MetricsRange, type StoredHistory } from "../hooks/useSystem";
import { usePools } from "../hooks/useStorage";
import { bytes, duration, percent, rate } from "../lib/format";
import type { Metrics } from "../lib/types";

/** x values with a null point inserted where sampling paused (nobody watched), so lines break there. */
function withGaps(samples: Metrics[]): (Metrics | null)[] {
  const out: (Metrics | null)[] = [];
  samples.forEach((s, i) => {
    const prev = samples[i - 1];
    if (prev && s.ts - prev.ts > Math.max(3 * s.interval, 5)) out.push(null);
    out.push(s);
  });
  return out;
}

function xs(samples: Metrics[]): number[] {
  const out: number[] = [];
  withGaps(samples).forEach((s, i, all) => out.push(s ? s.ts : (all[i - 1]!.ts + all[i + 1]!.ts) / 2));
  return out;
}

function series(samples: Metrics[], pick: (m: Metrics) => Record<string, number>) {
  const labels = new Set<string>();
  const rows = withGaps(samples).map((s) => {
    if (!s) return null;
    const r = pick(s);
    Object.keys(r).forEach((k) => labels.add(k));
    return r;
  });
  return [...labels].map((label) => ({ label, values: rows.map((r) => (r ? (r[label] ?? null) : null)) }));
}

function LiveCharts() {
  const m = useMetrics();
  const x = useMemo(() => xs(m.samples), [m.samples]);
  const cpu = useMemo(() => series(m.samples, (s) => Object.fromEntries(s.cpu.per_core.map((c) => [`cpu${c.core}`, c.percent]))), [m.samples]);
  const mem = useMemo(() => series(m.samples, (s) => ({ used: s.memory.used, cached: s.memory.cached ?? 0, swap: s.swap.used })), [m.samples]);
  const net = useMemo(() => series(m.samples, (s) => {
    const r: Record<string, number> = {};
    for (const n of s.network) if (n.interface !== "lo") {
      r[`${n.interface} rx`] = n.rx_bytes_per_s;
      r[`${n.interface} tx`] = n.tx_bytes_per_s;
    }
    return r;
  }), [m.samples]);
  const disk = useMemo(() => series(m.samples, (s) => {
    const r: Record<string, number> = {};
    for (const d of s.disks) {
      r[`${d.device} read`] = d.read_bytes_per_s;
      r[`${d.device} write`] = d.write_bytes_per_s;
    }
    return r;
  }), [m.samples]);
  if (m.isLoading) return <Loading label="Loading metrics…" />;
  if (m.error && !m.data) return <ErrorState error={m.error} retry={() => void m.refetch()} />;
  const l = m.latest;
  return (
    <>
      <div className="tiles">
        <div className="tile"><span>CPU</span><strong data-testid="cpu-percent">{percent(l?.cpu.percent, 1)}</strong></div>
        <div className="tile"><span>Memory</span><strong>{percent(l?.memory.percent, 1)}</strong><small>{bytes(l?.memory.used)} / {bytes(l?.memory.total)}</small></div>
        <div className="tile"><span>Load</span><strong>{l?.load.map((v) => v.toFixed(2)).join(" ") ?? "—"}</strong></div>
        <div className="tile"><span>Samples</span><strong data-testid="sample-count">{m.samples.length}</strong><small data-testid="last-sample">{l ? new Date(l.ts * 1000).toLocaleTimeString() : "—"}</small></div>
      </div>
      <div className="grid2">
        <Card><Chart title="CPU per core (%)" x={x} series={cpu} format={(v) => `${v.toFixed(0)}%`} max={100} /></Card>
        <Card><Chart title="Memory" x={x} series={mem} format={(v) => bytes(v, 0)} /></Card>
        <Card><Chart title="Network I/O" x={x} series={net} format={(v) => rate(v)} /></Card>
        <Card><Chart title="Disk I/O" x={x} series={disk} format={(v) => rate(v)} /></Card>
      </div>
      {l && (
        <div className="grid2">
          <Card title="Filesystems">
            {l.filesystems.length === 0 ? <p className="muted">None reported.</p> : (
              <ul className="plain">
                {l.filesystems.map((f) => (
                  <li key={f.mountpoint} className="pool-usage">
                    <span><strong>{f.mountpoint}</strong> <small className="muted">{f.device} · {f.fstype} · {bytes(f.used)} of {bytes(f.total)}</small></span>
                    <ProgressBar label={`${f.mountpoint} usage`} value={f.percent} />
                  </li>
                ))}
              </ul>
            )}
          </Card>
          <Card title="Temperatures">
            {l.temperatures.length === 0 ? <p className="muted">No sensors on this machine.</p> : (
              <table>
                <tbody>{l.temperatures.map((t) => <tr key={`${t.chip}/${t.label}`}><td>{t.chip}</td><td>{t.label}</td><td>{t.celsius.toFixed(1)} °C</td></tr>)}</tbody>
              </table>
            )}
          </Card>
        </div>
      )}
    </>
  );
}

const RANGE_OPTIONS: [MetricsRange, string][] = [["live", "Live"], ...Object.entries(HISTORY_RANGES).map(([k, r]) => [k as HistoryRange, r.label] as [MetricsRange, string])];

/** Live (in-memory, moving with events) or a stored range: 1 h, 24 h, 7 d, 30 d, 1 y. */
export function RangeSelector({ value, onChange }: { value: MetricsRange; onChange: (r: MetricsRange) => void }) {
  return (
    <div className="inline" role="tablist" aria-label="Metrics range">
      {RANGE_OPTIONS.map(([id, label]) => (
        <button key={id} type="button" role="tab" aria-selected={value === id} className={`btn${value === id ? " primary" : ""}`} onClick={() => onChange(id)}>
          {label}
        </button>
      ))}
    </div>
  );
}

/** Chart series from stored series: `pick` names the line of a series, or null to leave it out. */
export function storedSeries(h: StoredHistory | undefined, pick: (metric: string, label: string) => string | null) {
  const out: { label: string; values: (number | null)[] }[] = [];
  for (const s of h?.series ?? []) {
    const name = pick(s.metric, s.label);
    if (name !== null) out.push({ label: name, values: s.avg });
  }
  return out;
}

const STORED_CPU: Record<string, string> = { "cpu.percent": "busy", "cpu.user": "user", "cpu.system": "system", "cpu.iowait": "iowait" };
const STORED_MEM: Record<string, string> = { "memory.used": "used", "memory.cached": "cached", "swap.used": "swap" };

/** Lines in the order of `names` (busy before user …), not the server's alphabetical one. */
function inOrder<T extends { label: string }>(lines: T[], names: Record<string, string>): T[] {
  const rank = Object.values(names);
  return [...lines].sort((a, b) => rank.indexOf(a.label) - rank.indexOf(b.label));
}

function stepLabel(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function HistoryCharts({ range }: { range: HistoryRange }) {
  const h = useMetricsHistory(range);
  const d = h.data;
  const x = d?.timestamps ?? [];
  const cpu = useMemo(() => inOrder(storedSeries(d, (m) => STORED_CPU[m] ?? null), STORED_CPU), [d]);
  const mem = useMemo(() => inOrder(storedSeries(d, (m) => STORED_MEM[m] ?? null), STORED_MEM), [d]);
  const net = useMemo(() => storedSeries(d, (m, l) => (l !== "lo" && m.startsWith("net.") ? `${l} ${m === "net.rx" ? "rx" : "tx"}` : null)), [d]);
  const disk = useMemo(() => storedSeries(d, (m, l) => (m === "disk.read" ? `${l} read` : m === "disk.write" ? `${l} write` : null)), [d]);
  const load = useMemo(() => storedSeries(d, (m) => (m.startsWith("load.") ? `${m.slice(5)} min` : null)), [d]);
  const temps = useMemo(() => storedSeries(d, (m, l) => (m === "temperature" ? l : null)), [d]);
  const pools = useMemo(() => storedSeries(d, (m, l) => (m === "pool.used" ? l : null)), [d]);
  if (h.isLoading) return <Loading label="Loading history…" />;
  if (h.error && !d) return <ErrorState error={h.error} retry={() => void h.refetch()} />;
  const points = cpu[0]?.values.filter((v) => v !== null).length ?? 0;
  return (
    <>
      <p className="muted" data-testid="history-info">
        {HISTORY_RANGES[range].label} · one point per {stepLabel(d?.step ?? HISTORY_RANGES[range].step)} (stored every {stepLabel(d?.tier ?? 10)}) · {points} of {x.length} points have data{h.isFetching ? " · updating…" : ""}
      </p>
      <div className="grid2">
        <Card><Chart title="CPU (%)" x={x} series={cpu} format={(v) => `${v.toFixed(0)}%`} max={100} /></Card>
        <Card><Chart title="Memory" x={x} series={mem} format={(v) => bytes(v, 0)} /></Card>
        <Card><Chart title="Network I/O" x={x} series={net} format={(v) => rate(v)} /></Card>
        <Card><Chart title="Disk I/O" x={x} series={disk} format={(v) => rate(v)} /></Card>
        <Card><Chart title="Load" x={x} series={load} format={(v) => v.toFixed(2)} /></Card>
        {temps.length > 0 && <Card><Chart title="Temperatures (°C)" x={x} series={temps} format={(v) => `${v.toFixed(0)}°`} /></Card>}
        {pools.length > 0 && <Card><Chart title="Pool usage" x={x} series={pools} format={(v) => bytes(v, 0)} /></Card>}
      </div>
    </>
  );
}

function MetricsSection() {
  const [range, setRange] = useState<MetricsRange>("live");
  return (
    <>
      <RangeSelector value={range} onChange={setRange} />
      {range === "live" ? <LiveCharts /> : <HistoryCharts range={range} />}
    </>
  );
}

function PoolUsage() {
  const pools = usePools();
  return (
    <Card title="Pools" actions={<Link to="/storage">Manage</Link>}>
      <QueryState q={pools} empty={(d) => d.length === 0 && "No pools yet."}>
        {(list) => (
          <ul className="plain">
            {list.map((p) => (
              <li key={p.name} className="pool-usage">
                <span><strong>{p.name}</strong> <Badge value={p.state} /> <small className="muted">{bytes(p.used)} of {bytes(p.size)}</small></span>
                <ProgressBar label={`${p.name} usage`} value={p.size ? ((p.used ?? 0) / p.size) * 100 : 0} />
              </li>
            ))}
          </ul>
        )}
      </QueryState>
    </Card>
  );
}

function Alerts() {
  const alerts = useAlerts();
  return (
    <Card title="Alerts">
      <QueryState q={alerts} empty={(d) => d.length === 0 && "No active alerts."}>
        {(list) => (
          <ul className="plain">
            {list.map((a) => (
              <li key={a.id}><Badge value={a.severity} /> {a.message ?? String(a.title ?? a.id)}</li>
            ))}
          </ul>
        )}
      </QueryState>
    </Card>
  );
}

export default function Dashboard() {
  const caps = useCapabilities();
  const status = useSystemStatus();
  const hasSystem = caps.has("/system/metrics/history");
  return (
    <div className="page">
      <h1>Dashboard</h1>
      {hasSystem ? (
        <>
          {status.data && (
            <p className="muted host">
              <strong>{status.data.hostname}</strong> · {status.data.os} · kernel {status.data.kernel} · {status.data.cpu_count} CPUs · up {duration(status.data.uptime)}
            </p>
          )}
          <MetricsSection />
        </>
      ) : (
        <Empty>System metrics need the system plugin.</Empty>
      )}
      <div className="grid2">
        {caps.has("/storage/pools") && <PoolUsage />}
        {caps.has("/system/alerts") && <Alerts />}
      </div>
      {caps.has("/replication/fleet") && <Fleet />}
      <PluginWidgets />
    </div>
  );
}
