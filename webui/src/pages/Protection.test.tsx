import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, setup } from "../test/fakes";
import { describeCron, fromCron, toCron, type ProtectionTask } from "../hooks/useProtection";
import Protection from "./Protection";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const nightly: ProtectionTask = {
  id: "t1", kind: "snapshot", name: "", target: "tank/data", schedule: "0 2 * * *", enabled: true,
  params: { pool: "tank", volume: "data", naming_schema: "auto-%Y%m%d-%H%M", retention: { keep_last: 2, hourly: 0, daily: 7, weekly: 0, monthly: 0, yearly: 0 } },
  next_run: "2026-12-07T02:00:00Z", running: false, runs: 1, created_at: "2026-12-01T00:00:00Z", updated_at: "2026-12-01T00:00:00Z",
  last_run: { id: 3, task_id: "t1", trigger: "schedule", state: "failed", job_id: "j3", started_at: "2026-12-06T02:00:00Z", finished_at: "2026-12-06T02:00:01Z", result: null, error: "snapshot exists" },
};

function serve(onPost?: (body: Record<string, unknown>) => { status?: number; body?: unknown }) {
  return mockFetch((url, init) => {
    const key = `${init.method ?? "GET"} ${url.pathname}`;
    switch (key) {
      case "GET /api/v1/storage/protection/tasks":
        return { body: [nightly] };
      case "GET /api/v1/storage/pools":
        return { body: [{ name: "tank", backend: "dir", state: "online", size: 1, used: 0, free: 1, devices: [] }] };
      case "GET /api/v1/storage/backends":
        return { body: [{ name: "dir", description: "", capabilities: { snapshots: true, scrub: false } }] };
      case "GET /api/v1/storage/pools/tank/volumes":
        return { body: [{ name: "data", pool: "tank", used: 0, quota: null, compression: null }, { name: "media", pool: "tank", used: 0, quota: null, compression: null }] };
      case "POST /api/v1/storage/protection/schedule": {
        const { schedule } = JSON.parse(String(init.body));
        return { body: { schedule, next: ["2026-12-07T03:30:00Z"] } };
      }
      case "POST /api/v1/storage/protection/tasks":
        return onPost?.(JSON.parse(String(init.body))) ?? { status: 201, body: nightly };
      default:
        return { status: 404, body: { error: { code: "not_found", message: key, details: {} } } };
    }
  });
}

const posted = (fetch: ReturnType<typeof mockFetch>) =>
  fetch.mock.calls.filter(([u, init]) => init?.method === "POST" && String(u).endsWith("/protection/tasks")).map(([, init]) => JSON.parse(String(init!.body)));

async function openNewSnapshotTask() {
  const { wrapper: Providers } = setup();
  render(<Providers><Protection /></Providers>);
  await screen.findByText("tank/data");
  fireEvent.click(screen.getByRole("button", { name: "New task" }));
  const dialog = screen.getAllByRole("dialog", { hidden: true }).find((d) => d.textContent?.includes("New data protection task"))!;
  const form = within(dialog);
  const pool = form.getByRole("combobox", { name: "Pool", hidden: true });
  await waitFor(() => expect(within(pool).getAllByRole("option", { hidden: true }).map((o) => o.textContent)).toContain("tank (dir)"));
  fireEvent.change(pool, { target: { value: "tank" } });
  const volume = form.getByRole("combobox", { name: "Volume", hidden: true });
  await waitFor(() => expect(within(volume).getAllByRole("option", { hidden: true }).length).toBe(3));
  fireEvent.change(volume, { target: { value: "media" } });
  return form;
}

describe("Protection page", () => {
  it("lists tasks by kind with the schedule in words, last and next run", async () => {
    serve();
    const { wrapper: Providers } = setup();
    render(<Providers><Protection /></Providers>);
    const row = await screen.findByTestId("task-t1");
    expect(row.textContent).toContain("every day at 02:00");
    expect(row.textContent).toContain("failed");
    expect(within(row).getByTestId("next-run").textContent).toBe(new Date("2026-12-07T02:00:00Z").toLocaleString());
    expect(screen.getByText("No scrub schedules yet.")).toBeTruthy();
  });

  it("creates a snapshot task from pickers and presets", async () => {
    const fetch = serve();
    const form = await openNewSnapshotTask();
    fireEvent.change(form.getByRole("combobox", { name: "Repeat", hidden: true }), { target: { value: "daily" } });
    fireEvent.change(form.getByLabelText("Time (UTC)"), { target: { value: "03:30" } });
    fireEvent.change(form.getByLabelText("Keep last"), { target: { value: "5" } });
    await form.findByText(/every day at 03:30/);
    fireEvent.click(form.getByRole("button", { name: "Create task", hidden: true }));
    await waitFor(() => expect(posted(fetch)).toEqual([{
      kind: "snapshot", name: "", enabled: true, schedule: "30 3 * * *",
      params: { pool: "tank", volume: "media", naming_schema: "auto-%Y%m%d-%H%M", retention: { keep_last: 5, hourly: 24, daily: 7, weekly: 4, monthly: 6, yearly: 0 } },
    }]));
  });

  it("shows the server's refusal on the field it names", async () => {
    serve(() => ({ status: 422, body: { error: { code: "unknown_volume", message: "volume 'media' does not exist in pool tank", details: { field: "params.volume" } } } }));
    const form = await openNewSnapshotTask();
    fireEvent.click(form.getByRole("button", { name: "Create task", hidden: true }));
    const problem = await form.findByText("Volume 'media' does not exist in pool tank.");
    expect(problem.closest("label")?.textContent).toContain("Volume");
  });
});

describe("schedules", () => {
  it("round-trips presets and describes them", () => {
    expect(toCron({ preset: "hourly", minute: 15, time: "00:00", weekday: 0, day: 1, cron: "" })).toBe("15 * * * *");
    expect(toCron({ preset: "weekly", minute: 0, time: "04:05", weekday: 6, day: 1, cron: "" })).toBe("5 4 * * 6");
    expect(toCron({ preset: "monthly", minute: 0, time: "23:00", weekday: 0, day: 2, cron: "" })).toBe("0 23 2 * *");
    expect(fromCron("5 4 * * 6")).toMatchObject({ preset: "weekly", time: "04:05", weekday: 6 });
    expect(fromCron("*/5 * * * *").preset).toBe("custom");
    expect(describeCron("0 * * * *")).toBe("every hour");
    expect(describeCron("0 2 * * *")).toBe("every day at 02:00");
    expect(describeCron("30 1 * * 0")).toBe("every Sunday at 01:30");
    expect(describeCron("0 3 1 * *")).toBe("on the 1st of every month at 03:00");
    expect(describeCron("*/5 * * * *")).toBe("cron */5 * * * *");
  });
});

describe("replication to other nodes", () => {
  it("has its section, and the allow-list of this node, only when the daemon has the replication plugin", async () => {
    const answer = (paths: Record<string, unknown>) => mockFetch((url) => {
      switch (url.pathname) {
        case "/api/v1/openapi.json": return { body: { paths } };
        case "/api/v1/storage/protection/tasks": return { body: [nightly] };
        case "/api/v1/replication/targets": return { body: [{ peer: "beta", pool: "tank", created: 1796000000 }] };
        default: return { body: [] };
      }
    });
    answer({ "/api/v1/storage/protection/tasks": {} });
    const first = setup();
    render(<first.wrapper><Protection /></first.wrapper>);
    await screen.findByTestId("task-t1");
    await waitFor(() => expect(first.qc.getQueryData(["meta", "openapi"])).toBeTruthy());
    expect(screen.queryByText("Replication to other nodes")).toBeNull();
    cleanup();
    answer({ "/api/v1/storage/protection/tasks": {}, "/api/v1/replication": {}, "/api/v1/replication/targets": {} });
    const { wrapper: P } = setup();
    render(<P><Protection /></P>);
    expect(await screen.findByText("Replication to other nodes")).toBeTruthy();
    expect(await screen.findByText("No replication to another node yet.")).toBeTruthy();
    expect((await screen.findByTestId("repl-target-beta-tank")).textContent).toContain("Revoke");
  });
});
