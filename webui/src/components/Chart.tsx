import { useEffect, useRef, useState } from "react";

/** The current theme, following changes of `data-theme` on <html>. */
function useThemeName(): string {
  const [theme, setTheme] = useState(() => document.documentElement.dataset.theme ?? "");
  useEffect(() => {
    const mo = new MutationObserver(() => setTheme(document.documentElement.dataset.theme ?? ""));
    mo.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    return () => mo.disconnect();
  }, []);
  return theme;
}
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const PALETTE = ["#4f8cff", "#22c55e", "#f59e0b", "#ef4444", "#a855f7", "#06b6d4", "#ec4899", "#84cc16"];

export interface ChartProps {
  title: string;
  /** x values: seconds since the epoch */
  x: number[];
  series: { label: string; values: (number | null)[] }[];
  format?: (v: number) => string;
  height?: number;
  max?: number;
}

/** A live time-series chart (uPlot); updates data in place without re-creating the plot. */
export default function Chart({ title, x, series, format = (v) => v.toFixed(1), height = 180, max }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("|");
  const theme = useThemeName();
  const fmt = useRef(format);
  fmt.current = format;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const styles = getComputedStyle(document.documentElement);
    const axisColor = styles.getPropertyValue("--muted").trim() || "#888";
    const gridColor = styles.getPropertyValue("--grid").trim() || "rgba(128,128,128,.15)";
    const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, lo, hi) => [Math.min(0, lo), max ?? Math.max(hi * 1.1, 1e-9)] } },
      axes: [axis, {
        ...axis,
        values: (_u, vals) => vals.map((v) => fmt.current(v)),
        // as wide as the longest label (measured), so no digit is clipped
        size: (u, values, axisIdx, cycleNum) => {
          const a = u.axes[axisIdx] as uPlot.Axis & { _size?: number; font?: unknown; ticks?: { size?: number }; gap?: number };
          if (cycleNum > 1 && a._size) return a._size;
          const longest = (values ?? []).map(String).reduce((acc, v) => (v.length > acc.length ? v : acc), "");
          let size = (a.ticks?.size ?? 10) + (a.gap ?? 5) + 6;
          if (longest) {
            const f = a.font;
            u.ctx.save();
            u.ctx.font = Array.isArray(f) ? String(f[0]) : typeof f === "string" ? f : "12px system-ui";
            size += u.ctx.measureText(longest).width / (Array.isArray(f) ? devicePixelRatio : 1);
            u.ctx.restore();
          }
          return Math.ceil(size);
        },
      }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, points: { show: false }, value: (_u: uPlot, v: number | null) => (v == null ? "—" : fmt.current(v)) }))],
    };
    plot.current = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // re-create only when the set of series changes
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, height, max, theme]);

  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);

  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      <div ref={box} data-points={x.length} data-last={x[x.length - 1] ?? ""} />
    </figure>
  );
}
