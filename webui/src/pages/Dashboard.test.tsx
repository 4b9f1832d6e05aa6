import { cleanup, fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, setup } from "../test/fakes";
import { HISTORY_RANGES, historyQuery, useMetricsHistory, type HistoryRange, type MetricsRange, type StoredHistory } from "../hooks/useSystem";
import Dashboard, { RangeSelector, storedSeries } from "./Dashboard";

vi.mock("../components/Chart", () => ({ default: () => null }));  // uPlot needs a real browser

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const stored = (step: number): StoredHistory => ({
  interval: 1, capacity: 900, samples: [], from: 1000, to: 1000 + 2 * step, step, tier: 10, timestamps: [1000, 1000 + step],
  series: [
    { metric: "cpu.percent", label: "", avg: [10, null], min: [5, null], max: [20, null] },
    { metric: "net.rx", label: "eth0", avg: [1, 2], min: [1, 2], max: [1, 2] },
    { metric: "net.rx", label: "lo", avg: [3, 4], min: [3, 4], max: [3, 4] },
  ],
});

describe("history ranges", () => {
  it("asks for a range relative to the server's clock with a step giving a few hundred points", () => {
    expect(historyQuery("1h")).toEqual({ from: -3600, step: 10 });
    expect(historyQuery("24h")).toEqual({ from: -86400, step: 300 });
    expect(historyQuery("7d")).toEqual({ from: -604800, step: 1800 });
    expect(historyQuery("30d")).toEqual({ from: -2592000, step: 7200 });
    expect(historyQuery("1y")).toEqual({ from: -31536000, step: 86400 });
    for (const r of Object.values(HISTORY_RANGES)) expect(r.seconds / r.step).toBeLessThanOrEqual(400);
  });

  it("fetches the stored history of the chosen range", async () => {
    const fetch = mockFetch((url) => {
      expect(url.pathname).toBe("/api/v1/system/metrics/history");
      return { body: stored(Number(url.searchParams.get("step"))) };
    });
    const { wrapper } = setup();
    const { result, rerender } = renderHook(({ range }: { range: HistoryRange | null }) => useMetricsHistory(range), { wrapper, initialProps: { range: null as HistoryRange | null } });
    expect(fetch).not.toHaveBeenCalled();  // live: nothing read from disk
    rerender({ range: "24h" });
    await waitFor(() => expect(result.current.data?.step).toBe(300));
    const url = new URL(String(fetch.mock.calls[0]![0]), "http://localhost/");
    expect(Object.fromEntries(url.searchParams)).toEqual({ from: "-86400", step: "300" });
    rerender({ range: "1y" });
    await waitFor(() => expect(result.current.data?.step).toBe(86400));
  });

  it("lines come from the stored series, filtered and renamed", () => {
    const net = storedSeries(stored(10), (m, l) => (m === "net.rx" && l !== "lo" ? `${l} rx` : null));
    expect(net).toEqual([{ label: "eth0 rx", values: [1, 2] }]);
    expect(storedSeries(undefined, () => "x")).toEqual([]);
  });

  it("the selector offers live and the five ranges and reports the choice", () => {
    const seen: MetricsRange[] = [];
    function Harness() {
      const [r, setR] = useState<MetricsRange>("live");
      return <RangeSelector value={r} onChange={(v) => { seen.push(v); setR(v); }} />;
    }
    const { wrapper: Providers } = setup();
    render(<Providers><Harness /></Providers>);
    const tabs = screen.getAllByRole("tab");
    expect(tabs.map((t) => t.textContent)).toEqual(["Live", "1 h", "24 h", "7 d", "30 d", "1 y"]);
    expect(screen.getByRole("tab", { name: "Live" }).getAttribute("aria-selected")).toBe("true");
    fireEvent.click(screen.getByRole("tab", { name: "7 d" }));
    expect(seen).toEqual(["7d"]);
    expect(screen.getByRole("tab", { name: "7 d" }).getAttribute("aria-selected")).toBe("true");
  });

  it("the dashboard switches from live to a stored range and says what it shows", async () => {
    const fetch = mockFetch((url) => {
      switch (url.pathname) {
        case "/api/v1/openapi.json":
          return { body: { paths: { "/api/v1/system/metrics/history": {} } } };
        case "/api/v1/system/metrics/history":
          return url.searchParams.has("from")
            ? { body: { ...stored(300), tier: 300 } }
            : { body: { interval: 1, capacity: 900, samples: [] } };
        default:
          return { status: 404, body: { error: { code: "not_found", message: url.pathname, details: {} } } };
      }
    });
    const { wrapper: Providers } = setup();
    render(<Providers><Dashboard /></Providers>);
    fireEvent.click(await screen.findByRole("tab", { name: "24 h" }));
    const info = await screen.findByTestId("history-info");
    await waitFor(() => expect(info.textContent).toContain("one point per 5 min (stored every 5 min)"));
    expect(info.textContent).toContain("1 of 2 points have data");
    const asked = fetch.mock.calls.map(([u]) => new URL(String(u), "http://localhost/")).filter((u) => u.searchParams.has("from"));
    expect(asked.map((u) => u.search)).toEqual(["?from=-86400&step=300"]);
  });
});
