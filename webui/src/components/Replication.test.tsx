import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket, mockFetch, setup } from "../test/fakes";
import { ConfirmProvider } from "./confirm";
import { ReplicationForm, ReplicationSection, runSummary } from "./Replication";
import { Fleet, nodeHealth } from "./Fleet";
import type { FleetNode, ReplRun, ReplTask } from "./ReplicationApi";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const run = (over: Partial<ReplRun> = {}): ReplRun => ({
  id: "run-1", task: "r-1", trigger: "manual", state: "success", job_id: "j1", started: 1796000000, ended: 1796000010,
  result: { bytes: 3 * 1048576, sent: [{ snapshot: "s1" }, { snapshot: "s2" }], up_to_date: false, seconds: 10, retries: 0 }, error: null, ...over,
});

const task = (over: Partial<ReplTask> = {}): ReplTask => ({
  id: "r-1", name: "", pool: "tank", volume: "docs", peer: "beta", target_pool: "backup", target_volume: "docs", schedule: "0 2 * * *",
  enabled: true, match: "*", take_snapshot: true, retention: { keep_last: 0 }, bwlimit: null, encrypt: false, pad: false, recipients: [],
  created: 1796000000, next_run: 1796086400, last_run: run(), running: false, ...over,
});

const beta: FleetNode = {
  peer: "beta", reachable: true, latency_ms: 3.2, node_name: "beta", tasks: 1, last_replication: run(), error: null,
  health: { state: "ok", reasons: [] }, alerts: [], last_replication_from: null,
  system: { hostname: "beta-host", os: "Debian", uptime: 100, cpu_percent: 12.4, load: [0.1, 0.2, 0.3], memory_percent: 40.2 },
  pools: [{ name: "backup", backend: "btrfs", state: "online", size: 4 * 2 ** 30, free: 3 * 2 ** 30 }, { name: "cold", backend: "dir", state: "online", size: null, free: null }],
};

function serve(extra: (key: string, url: URL, init: RequestInit) => { status?: number; body?: unknown } | undefined = () => undefined) {
  return mockFetch((url, init) => {
    const key = `${init.method ?? "GET"} ${url.pathname.replace(/^\/api\/v1/, "")}`;
    const own = extra(key, url, init);
    if (own) return own;
    switch (key) {
      case "GET /replication": return { body: [task()] };
      case "GET /replication/fleet": return { body: [beta] };
      case "GET /network/phantommesh": return { body: { node_name: "alpha", running: true, peers: [
        { name: "beta", node: true, up: true }, { name: "laptop", node: false, up: true }, { name: "gamma", node: true, up: false }] } };
      case "GET /storage/pools": return { body: [{ name: "tank", backend: "btrfs", state: "online" }, { name: "plain", backend: "dir", state: "online" }] };
      case "GET /storage/backends": return { body: [{ name: "btrfs", capabilities: { send_receive: true } }, { name: "dir", capabilities: { send_receive: false } }] };
      case "GET /storage/pools/tank/volumes": return { body: [{ name: "docs", pool: "tank" }, { name: "media", pool: "tank" }] };
      default: return { status: 404, body: { error: { code: "not_found", message: key, details: {} } } };
    }
  });
}

const sent = (fetch: ReturnType<typeof mockFetch>, method: string, suffix: string) =>
  fetch.mock.calls.filter(([u, init]) => init?.method === method && new URL(String(u), "http://x/").pathname.endsWith(suffix)).map(([, init]) => JSON.parse(String(init!.body)));

describe("replication tasks", () => {
  it("lists a task in words and follows a running one's progress from its job's events", async () => {
    serve((key) => {
      if (key === "GET /replication") return { body: [task(), task({ id: "r-2", volume: "media", schedule: null, running: true, last_run: run({ id: "run-2", state: "running", job_id: "j2", ended: null, result: null }) })] };
      if (key === "GET /jobs/j2") return { body: { id: "j2", kind: "replication.run", state: "RUNNING", progress: { percent: 40, description: "sending s3", bytes_done: 1048576, bytes_total: 4194304 } } };
      return undefined;
    });
    const { wrapper: P, qc } = setup();
    qc.setQueryData(["replication", "fleet"], [beta]);
    render(<P><ConfirmProvider><ReplicationSection /></ConfirmProvider></P>);
    const row = await screen.findByTestId("repl-r-1");
    expect(row.textContent).toContain("tank / docs");
    expect(row.textContent).toContain("beta");
    expect(row.textContent).toContain("pool backup");
    expect(row.textContent).toContain("every day at 02:00");
    expect(within(row).getByTestId("repl-state").textContent).toContain("2 snapshots sent, 3.0 MiB");
    const other = screen.getByTestId("repl-r-2");
    expect(other.textContent).toContain("by hand");
    const bar = await within(other).findByRole("progressbar");
    await waitFor(() => expect(bar.getAttribute("aria-valuenow")).toBe("40"));
    expect(other.textContent).toContain("sending s3 · 1.0 MiB of 4.0 MiB");
    const ws = FakeWebSocket.last();
    act(() => ws.open());
    act(() => ws.emit({ type: "job.progress", seq: 2, data: { id: "j2", kind: "replication.run", state: "RUNNING", progress: { percent: 75, description: "sending s4", bytes_done: 3145728, bytes_total: 4194304 } } }));
    await waitFor(() => expect(within(other).getByRole("progressbar").getAttribute("aria-valuenow")).toBe("75"));
    // a replication job moving refetches the family: the tasks here, the fleet's last run wherever it is cached
    await waitFor(() => expect(qc.getQueryState(["replication", "fleet"])?.isInvalidated).toBe(true));
    expect(within(other).getByRole("button", { name: "Run now" })).toHaveProperty("disabled", true);
  });

  it("runs a task now and shows its history", async () => {
    const fetch = serve((key) => {
      if (key === "POST /replication/r-1/run") return { status: 202, body: run({ id: "run-9", state: "running", job_id: "j9" }) };
      if (key === "GET /replication/r-1/runs") return { body: [run({ id: "run-9", state: "failed", error: "peer_unreachable: beta: timed out", result: null }), run()] };
      return undefined;
    });
    const { wrapper: P } = setup();
    render(<P><ConfirmProvider><ReplicationSection /></ConfirmProvider></P>);
    const row = await screen.findByTestId("repl-r-1");
    fireEvent.click(within(row).getByRole("button", { name: "Run now" }));
    await waitFor(() => expect(fetch.mock.calls.some(([u, i]) => i?.method === "POST" && String(u).endsWith("/replication/r-1/run"))).toBe(true));
    fireEvent.click(within(row).getByRole("button", { name: "History" }));
    const runs = await screen.findAllByTestId("repl-run");
    expect(runs[0]!.textContent).toContain("beta: timed out");
    expect(runs[1]!.textContent).toContain("2 snapshots sent");
  });

  it("says a run in words", () => {
    expect(runSummary(run({ result: { up_to_date: true, sent: [] } }))).toBe("already up to date");
    expect(runSummary(run({ state: "failed", result: null, error: "not_authorised: beta: this node does not accept replicas" }))).toBe("beta: this node does not accept replicas");
    expect(runSummary(run({ result: { bytes: 1024, sent: [{ snapshot: "a" }], seconds: 2, retries: 1 } }))).toBe("1 snapshot sent, 1.0 KiB in 2.0 s, 1 retries");
  });
});

describe("new replication", () => {
  it("is made of pickers: source pool and volume, a node by name, that node's pool; only mesh nodes offered", async () => {
    const fetch = serve((key) => (key === "POST /replication" ? { status: 201, body: task({ id: "r-3", volume: "media" }) } : undefined));
    const { wrapper: P } = setup();
    const done = vi.fn();
    render(<P><ReplicationForm onDone={done} /></P>);
    const pool = screen.getByRole("combobox", { name: /^Source pool/ });
    await waitFor(() => expect(within(pool).getAllByRole("option").map((o) => o.textContent)).toEqual(["Choose a pool", "tank (btrfs)", "plain (dir) — cannot send snapshots"]));
    fireEvent.change(pool, { target: { value: "tank" } });
    const volume = screen.getByRole("combobox", { name: /^Source volume/ });
    await within(volume).findByRole("option", { name: "media" });
    fireEvent.change(volume, { target: { value: "media" } });
    const peer = screen.getByRole("combobox", { name: /Target node/ });
    await waitFor(() => expect(within(peer).getAllByRole("option").map((o) => o.textContent)).toEqual(["Choose a node", "beta", "gamma (not connected)"]));
    fireEvent.change(peer, { target: { value: "beta" } });
    const tpool = screen.getByRole("combobox", { name: /Pool on the target node/ });
    await waitFor(() => expect(within(tpool).getAllByRole("option").map((o) => o.textContent)).toEqual(["Choose a pool", "backup (btrfs) — 3.0 GiB free", "cold (dir)"]));
    fireEvent.change(tpool, { target: { value: "backup" } });
    fireEvent.change(screen.getByRole("combobox", { name: "Repeat" }), { target: { value: "weekly" } });
    fireEvent.change(screen.getByRole("combobox", { name: "Weekday" }), { target: { value: "6" } });
    fireEvent.change(screen.getByLabelText("Time (UTC)"), { target: { value: "03:15" } });
    expect(screen.getByText("every Saturday at 03:15 (UTC)")).toBeTruthy();
    fireEvent.change(screen.getByLabelText(/Snapshots kept on the target/), { target: { value: "5" } });
    fireEvent.change(screen.getByLabelText(/Bandwidth limit/), { target: { value: "2" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    await waitFor(() => expect(done).toHaveBeenCalled());
    expect(sent(fetch, "POST", "/replication")).toEqual([{ name: "", pool: "tank", volume: "media", peer: "beta", target_pool: "backup", schedule: "15 3 * * 6",
      take_snapshot: true, retention: { keep_last: 5 }, bwlimit: 2 * 1048576, encrypt: false }]);
  });

  it("names what is missing, and puts the server's refusal on its field", async () => {
    const fetch = serve((key) => (key === "POST /replication"
      ? { status: 404, body: { error: { code: "unknown_peer", message: "gamma is not a PhantomMesh peer", details: { field: "peer" } } } } : undefined));
    const { wrapper: P } = setup();
    const done = vi.fn();
    render(<P><ReplicationForm onDone={done} /></P>);
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    expect(screen.getByText("Choose the pool to replicate from.")).toBeTruthy();
    expect(screen.getByText("Choose a pool on that node.")).toBeTruthy();
    expect(sent(fetch, "POST", "/replication")).toEqual([]);
    const pool = screen.getByRole("combobox", { name: /^Source pool/ });
    await within(pool).findByRole("option", { name: "tank (btrfs)" });
    fireEvent.change(pool, { target: { value: "tank" } });
    await within(screen.getByRole("combobox", { name: /^Source volume/ })).findByRole("option", { name: "docs" });
    fireEvent.change(screen.getByRole("combobox", { name: /^Source volume/ }), { target: { value: "docs" } });
    await within(screen.getByRole("combobox", { name: /Target node/ })).findByRole("option", { name: "beta" });
    fireEvent.change(screen.getByRole("combobox", { name: /Target node/ }), { target: { value: "beta" } });
    await within(screen.getByRole("combobox", { name: /Pool on the target node/ })).findByRole("option", { name: /backup/ });
    fireEvent.change(screen.getByRole("combobox", { name: /Pool on the target node/ }), { target: { value: "backup" } });
    fireEvent.change(screen.getByLabelText(/Label/), { target: { value: "offsite" } });
    fireEvent.change(screen.getByLabelText(/Volume name on the target/), { target: { value: " docs-offsite " } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    await waitFor(() => expect(sent(fetch, "POST", "/replication")[0]).toMatchObject({ name: "offsite", target_volume: "docs-offsite" }));
    const err = await screen.findByText(/gamma is not a PhantomMesh peer/i);
    expect(err.closest("label")?.textContent).toContain("Target node");
    expect((screen.getByLabelText(/Label/) as HTMLInputElement).value).toBe("offsite");
    expect(done).not.toHaveBeenCalled();
  });
});

const page = (path: string, items: { name: string; type: string; size?: number }[]) => ({ body: {
  path, parent: path ? "" : null, total: items.length, limit: 200, offset: 0, peer: "beta", snapshot: "s1",
  items: items.map((i) => ({ size: 12, mtime: "2026-12-01T00:00:00Z", mode: "0644", ...i, path: path ? `${path}/${i.name}` : i.name })) } });

describe("restore from the replica", () => {
  it("lists the target's snapshots; restores a volume, or one file picked in the replica snapshot as the target lists it", async () => {
    const fetch = serve((key, url) => {
      if (key === "GET /replication/r-1/replica") return { body: { peer: "beta", pool: "backup", volume: "docs", encrypted: false, exists: true,
        snapshots: [{ name: "s1", created: "2026-12-01T00:00:00Z" }, { name: "s0", created: "2026-11-01T00:00:00Z" }] } };
      if (key === "GET /replication/r-1/replica/snapshots/s1/files") {
        const path = url.searchParams.get("path") ?? "";
        return path === "" ? page("", [{ name: "sub", type: "dir" }, { name: "top.txt", type: "file" }]) : page(path, [{ name: "report.txt", type: "file" }]);
      }
      if (key === "POST /replication/r-1/restore") return { status: 202, body: { id: "j5", kind: "replication.restore", state: "WAITING", progress: { percent: 0 } } };
      return undefined;
    });
    const { wrapper: P } = setup();
    render(<P><ConfirmProvider><ReplicationSection /></ConfirmProvider></P>);
    fireEvent.click(within(await screen.findByTestId("repl-r-1")).getByRole("button", { name: "Restore…" }));
    const s0 = await screen.findByTestId("replica-snap-s0");
    // the target lists its own snapshot: no local copy needed (none is even asked for)
    expect(within(s0).getByRole("button", { name: "Restore a file…", hidden: true })).toHaveProperty("disabled", false);
    fireEvent.click(within(s0).getByRole("button", { name: "Restore volume…", hidden: true }));
    fireEvent.change(screen.getByLabelText(/New volume in tank/), { target: { value: "docs-back" } });
    fireEvent.click(screen.getByRole("button", { name: "Restore the volume", hidden: true }));
    await waitFor(() => expect(sent(fetch, "POST", "/replication/r-1/restore")).toEqual([{ snapshot: "s0", target_volume: "docs-back" }]));
    fireEvent.click(within(await screen.findByTestId("repl-r-1")).getByRole("button", { name: "Restore…" }));
    fireEvent.click(within(await screen.findByTestId("replica-snap-s1")).getByRole("button", { name: "Restore a file…", hidden: true }));
    const browser = await screen.findByTestId("replica-browser");
    expect(within(browser).getByRole("button", { name: "beta: docs @ s1", hidden: true })).toBeTruthy();
    fireEvent.click(await within(browser).findByRole("button", { name: "open folder sub", hidden: true }));
    fireEvent.click(await within(browser).findByRole("button", { name: "choose report.txt", hidden: true }));
    fireEvent.click(screen.getByRole("button", { name: "Restore sub/report.txt", hidden: true }));
    await waitFor(() => expect(sent(fetch, "POST", "/replication/r-1/restore")[1]).toEqual({ snapshot: "s1", path: "sub/report.txt", overwrite: false }));
    const asked = fetch.mock.calls.map(([u]) => new URL(String(u), "http://x/").pathname);
    expect(asked.filter((u) => u.includes("/storage/pools/tank/volumes/docs/snapshots"))).toEqual([]);
  });

  it("a sealed replica cannot be listed on the target: its file is picked in this node's snapshot, or named by path", async () => {
    const fetch = serve((key, url) => {
      if (key === "GET /replication") return { body: [task({ encrypt: true })] };
      if (key === "GET /replication/r-1/replica") return { body: { peer: "beta", pool: "backup", volume: "docs", encrypted: true, exists: true,
        snapshots: [{ name: "s1", created: 1796000000, stored_bytes: 100 }, { name: "s0", created: 1795000000, stored_bytes: 100 }] } };
      if (key === "GET /storage/pools/tank/volumes/docs/snapshots") return { body: [{ name: "s1", created: "2026-12-01T00:00:00Z" }] };
      if (key === "GET /storage/pools/tank/volumes/docs/snapshots/s1/files" && (url.searchParams.get("path") ?? "") === "")
        return page("", [{ name: "report.txt", type: "file" }]);
      if (key === "POST /replication/r-1/restore") return { status: 202, body: { id: "j5", kind: "replication.restore", state: "WAITING", progress: { percent: 0 } } };
      return undefined;
    });
    const { wrapper: P } = setup();
    render(<P><ConfirmProvider><ReplicationSection /></ConfirmProvider></P>);
    fireEvent.click(within(await screen.findByTestId("repl-r-1")).getByRole("button", { name: "Restore…" }));
    fireEvent.click(within(await screen.findByTestId("replica-snap-s1")).getByRole("button", { name: "Restore a file…", hidden: true }));
    expect((await screen.findByTestId("repl-file-restore")).textContent).toContain("beta keeps this replica sealed and cannot list its files");
    fireEvent.click(await screen.findByRole("button", { name: "choose report.txt", hidden: true }));
    fireEvent.click(screen.getByRole("button", { name: "Restore report.txt", hidden: true }));
    await waitFor(() => expect(sent(fetch, "POST", "/replication/r-1/restore")).toEqual([{ snapshot: "s1", path: "report.txt", overwrite: false }]));
    fireEvent.click(within(await screen.findByTestId("repl-r-1")).getByRole("button", { name: "Restore…" }));
    fireEvent.click(within(await screen.findByTestId("replica-snap-s0")).getByRole("button", { name: "Restore a file…", hidden: true }));
    fireEvent.change(await screen.findByLabelText(/Path of the file inside s0/), { target: { value: "/old/notes.txt" } });
    fireEvent.click(screen.getByRole("button", { name: "Restore old/notes.txt", hidden: true }));
    await waitFor(() => expect(sent(fetch, "POST", "/replication/r-1/restore")[1]).toEqual({ snapshot: "s0", path: "old/notes.txt", overwrite: false }));
    expect(fetch.mock.calls.some(([u]) => String(u).includes("/replica/snapshots/"))).toBe(false);
  });
});

describe("fleet", () => {
  it("shows every node with the server's health and its reasons, pools and the last replication to and from it", async () => {
    serve((key) => (key === "GET /replication/fleet" ? { body: [
      { ...beta, last_replication_from: { pool: "backup", volume: "photos", sealed: true, snapshot: null, bytes: 2 * 1048576, at: 1796000000 } },
      { ...beta, peer: "gamma", node_name: "gamma", reachable: false, latency_ms: null, pools: [], tasks: 0, last_replication: null, error: "timed out",
        system: null, alerts: null, health: { state: "down", reasons: [{ kind: "unreachable", message: "timed out" }] } },
      { ...beta, peer: "delta", node_name: "delta", pools: [{ name: "z", backend: "zfs", state: "degraded", size: null, free: null }], last_replication: null, tasks: 2,
        alerts: [{ id: "a1", severity: "warning", message: "disk sda is hot" }],
        health: { state: "degraded", reasons: [{ kind: "pool_degraded", message: "pool z is degraded" }, { kind: "alert", message: "warning: disk sda is hot" }] } },
      // the server judges: an odd pool state the client does not know is not guessed at
      { ...beta, peer: "eps", node_name: "eps", pools: [{ name: "q", backend: "dir", state: "weird", size: null, free: null }], last_replication: null, tasks: 0 }] } : undefined));
    const { wrapper: P } = setup();
    render(<MemoryRouter><P><Fleet /></P></MemoryRouter>);
    const b = await screen.findByTestId("fleet-beta");
    expect(b.textContent).toContain("healthy");
    expect(b.textContent).toContain("beta-host · CPU 12 % · memory 40 %");
    expect(b.textContent).toContain("backup btrfs · 1.0 GiB of 4.0 GiB used");
    expect(b.textContent).toContain("2 snapshots sent");
    expect(b.textContent).toMatch(/backup\/photos\s*encrypted.*2\.0 MiB/);
    expect(screen.getByTestId("fleet-gamma").textContent).toContain("down");
    expect(screen.getByTestId("fleet-gamma").textContent).toContain("timed out");
    const d = screen.getByTestId("fleet-delta");
    expect(d.textContent).toMatch(/degraded.*pool z is degraded.*warning: disk sda is hot/);
    expect(d.textContent).toContain("not run yet");
    expect(within(d).getByRole("list", { name: "Why delta is degraded" })).toBeTruthy();
    expect(screen.getByTestId("fleet-eps").textContent).toContain("healthy");
    expect(nodeHealth({ ...beta, health: { state: "down", reasons: [] } })).toBe("down");
  });
});
