import { act, renderHook, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket, mockFetch, setup } from "../test/fakes";
import { useMetrics } from "./useSystem";
import { useJobToasts, useJobs, watchJob } from "./useJobs";
import { useAgentTasks, useAgents, useDispatch } from "./useAgents";
import { useCreateSnapshot, useDeletePool, useExportPool, usePools, useScrub } from "./useStorage";
import { useCompressionJobs } from "./useCompression";
import { useLockKey, useKeys } from "./useEncryption";
import { useMesh } from "./useMesh";
import { useMe } from "./useAuth";
import type { Job, Metrics, Pool, Snapshot } from "../lib/types";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  vi.unstubAllGlobals();
});

function sample(ts: number, cpu: number): Metrics {
  return {
    ts, interval: 1,
    cpu: { percent: cpu, user: cpu, system: 0, iowait: 0, idle: 100 - cpu, count: 1, per_core: [{ core: 0, percent: cpu, user: cpu, system: 0, iowait: 0, idle: 100 - cpu }] },
    memory: { total: 100, available: 50, used: 50, free: 50, percent: 50 },
    swap: { total: 0, used: 0, free: 0, percent: 0 },
    load: [0, 0, 0], network: [], disks: [], temperatures: [], filesystems: [],
  };
}

function job(id: string, state: Job["state"], percent = 0, kind = "test.kind"): Job {
  return { id, kind, description: id, state, params: {}, owner: "admin", created_by: "admin", progress: { percent, description: "", bytes_done: null, bytes_total: null }, result: null, error: null, created_at: "2026-11-27T00:00:00Z", started_at: null, finished_at: null };
}

/** Deliver a server message and let the query cache notify its observers (batched on a timer). */
async function emit(ws: FakeWebSocket, msg: Parameters<FakeWebSocket["emit"]>[0]) {
  act(() => ws.emit(msg));
  await act(async () => {
    await new Promise((r) => setTimeout(r, 5));
  });
}

/** Connect the fake socket; returns it. */
async function connected() {
  await waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
  const ws = FakeWebSocket.last();
  act(() => ws.open(100));
  return ws;
}

describe("useMetrics", () => {
  it("appends system.metrics events to the cached history without refetching", async () => {
    const fetch = mockFetch((url) => {
      expect(url.pathname).toBe("/api/v1/system/metrics/history");
      return { body: { interval: 1, capacity: 300, samples: [sample(1000, 10)] } };
    });
    const { wrapper, qc } = setup();
    const { result } = renderHook(() => useMetrics(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.samples).toHaveLength(1));
    expect(ws.sent).toContainEqual({ type: "client.subscribe", events: ["system.metrics"] });
    await emit(ws, { type: "system.metrics", seq: 101, data: sample(1001, 42) });
    await emit(ws, { type: "system.metrics", seq: 102, data: sample(1002, 77) });
    expect(result.current.samples.map((s) => s.cpu.percent)).toEqual([10, 42, 77]);
    expect(result.current.latest?.cpu.percent).toBe(77);
    expect(qc.getQueryData<Metrics>(["system", "metrics"])?.ts).toBe(1002);
    // an old sample (replayed after a reconnect) is not appended twice
    await emit(ws, { type: "system.metrics", seq: 103, data: sample(1002, 1) });
    expect(result.current.samples).toHaveLength(3);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("drops samples older than the window", async () => {
    mockFetch(() => ({ body: { interval: 1, capacity: 300, samples: [sample(1000, 1), sample(1200, 2)] } }));
    const { wrapper } = setup();
    const { result } = renderHook(() => useMetrics(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.samples).toHaveLength(2));
    await emit(ws, { type: "system.metrics", seq: 101, data: sample(1400, 3) });
    expect(result.current.samples.map((s) => s.ts)).toEqual([1200, 1400]);
  });
});

describe("useJobs", () => {
  it("patches job state and progress from job.progress events and prepends new jobs", async () => {
    const fetch = mockFetch(() => ({ body: { items: [job("a", "RUNNING", 10)], total: 1, limit: 50, offset: 0 } }));
    const { wrapper } = setup();
    const { result } = renderHook(() => useJobs(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.data?.items).toHaveLength(1));
    await emit(ws, { type: "job.progress", seq: 101, data: job("a", "RUNNING", 55) });
    expect(result.current.data?.items[0]?.progress.percent).toBe(55);
    await emit(ws, { type: "job.progress", seq: 102, data: job("a", "SUCCESS", 100) });
    expect(result.current.data?.items[0]?.state).toBe("SUCCESS");
    await emit(ws, { type: "job.progress", seq: 103, data: job("b", "WAITING") });
    expect(result.current.data?.items.map((j) => j.id)).toEqual(["b", "a"]);
    expect(result.current.data?.total).toBe(2);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("useAgents", () => {
  it("sets an agent's live status from agent.status events", async () => {
    const agent = (name: string) => ({ id: name, name, tier: "core", specialty: "", description: "", owner: "x", status: "idle", running: 0, queued: 0, concurrency: 1, counters: { tasks_done: 0, tasks_failed: 0, mean_duration: null, last_active: null }, params_schema: {} });
    mockFetch(() => ({ body: [agent("ATLAS"), agent("WAVE")] }));
    const { wrapper } = setup();
    const { result } = renderHook(() => useAgents(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.data).toHaveLength(2));
    await emit(ws, { type: "agent.status", seq: 101, data: { agent: "WAVE", state: "busy", previous: "idle", running: 1, queued: 2 } });
    const wave = result.current.data!.find((a) => a.name === "WAVE")!;
    expect([wave.status, wave.running, wave.queued]).toEqual(["busy", 1, 2]);
    expect(result.current.data!.find((a) => a.name === "ATLAS")!.status).toBe("idle");
  });

  it("shows a dispatched task at once and removes it when the server refuses", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    mockFetch(async (_url, init) => {
      if (init.method === "POST") {
        await gate;
        return { status: 422, body: { error: { code: "validation_error", message: "path: field required", details: {} } } };
      }
      return { body: { items: [], total: 0, limit: 25, offset: 0 } };
    });
    const { wrapper } = setup();
    const { result } = renderHook(() => ({ tasks: useAgentTasks("ATLAS"), dispatch: useDispatch("ATLAS") }), { wrapper });
    await connected();
    await waitFor(() => expect(result.current.tasks.data).toEqual([]));
    act(() => result.current.dispatch.mutate({ path: "/x" }));
    await waitFor(() => expect(result.current.tasks.data?.map((t) => [t.state, t.params])).toEqual([["WAITING", { path: "/x" }]]));
    release();
    await waitFor(() => expect(result.current.dispatch.isError).toBe(true));
    await waitFor(() => expect(result.current.tasks.data).toEqual([]));
    expect(result.current.dispatch.error?.message).toBe("path: field required");
  });
});

describe("useStorage", () => {
  const pools: Pool[] = [{ name: "tank", backend: "dir", state: "online", size: 100, used: 1, free: 99, devices: [] }];

  it("applies pool_state and scrub_progress events to the cache", async () => {
    mockFetch((url) => {
      if (url.pathname.endsWith("/scrub")) return { body: { state: "idle", percent: null, errors: 0, started: null, finished: null } };
      return { body: pools };
    });
    const { wrapper } = setup();
    const { result } = renderHook(() => ({ pools: usePools(), scrub: useScrub("tank") }), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.pools.data).toHaveLength(1));
    await waitFor(() => expect(result.current.scrub.data?.state).toBe("idle"));
    await emit(ws, { type: "storage.event", seq: 101, data: { kind: "pool_state", pool: "tank", old: "online", new: "degraded" } });
    expect(result.current.pools.data?.[0]?.state).toBe("degraded");
    await emit(ws, { type: "storage.event", seq: 102, data: { kind: "scrub_progress", pool: "tank", details: { state: "running", percent: 42.5, errors: 0 } } });
    expect(result.current.scrub.data).toMatchObject({ state: "running", percent: 42.5 });
    await emit(ws, { type: "storage.event", seq: 103, data: { kind: "scrub_finished", pool: "tank", new: "finished", details: { state: "finished", percent: 100, errors: 0 } } });
    expect(result.current.scrub.data).toMatchObject({ state: "finished", percent: 100 });
  });

  it("rolls an optimistic snapshot back when the create fails", async () => {
    const snaps: Snapshot[] = [{ name: "old", pool: "tank", volume: "data", created: "2026-01-01T00:00:00Z", writable: false, used: null }];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    mockFetch(async (_url, init) => {
      if (init.method === "POST") {
        await gate;
        return { status: 409, body: { error: { code: "conflict", message: "snapshot new exists", details: {} } } };
      }
      return { body: { items: snaps, total: 1, limit: 200, offset: 0 } };
    });
    const { wrapper, qc } = setup();
    const { result } = renderHook(() => useCreateSnapshot("tank", "data"), { wrapper });
    await act(async () => {
      await qc.fetchQuery({ queryKey: ["storage", "snapshots", "tank", "data"], queryFn: () => snaps });
    });
    act(() => result.current.mutate({ name: "new" }));
    await waitFor(() => expect(qc.getQueryData<Snapshot[]>(["storage", "snapshots", "tank", "data"])?.map((s) => s.name)).toEqual(["new", "old"]));
    release();
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(qc.getQueryData<Snapshot[]>(["storage", "snapshots", "tank", "data"])?.map((s) => s.name)).toEqual(["old"]);
    const { toast } = await import("sonner");
    expect(toast.error).toHaveBeenCalledWith("Snapshot new exists.");
  });

  it("removes a pool optimistically, sends the confirmation and restores it on error", async () => {
    const calls: string[] = [];
    mockFetch((url, init) => {
      calls.push(`${init.method ?? "GET"} ${url.pathname}${url.search}`);
      if (init.method === "DELETE") return { status: 400, body: { error: { code: "busy", message: "pool busy", details: {} } } };
      return { body: pools };
    });
    const { wrapper, qc } = setup();
    const { result } = renderHook(() => ({ pools: usePools(), del: useDeletePool() }), { wrapper });
    await waitFor(() => expect(result.current.pools.data).toHaveLength(1));
    act(() => result.current.del.mutate("tank"));
    await waitFor(() => expect(result.current.del.isError).toBe(true));
    expect(calls).toContain("DELETE /api/v1/storage/pools/tank?confirm=tank");
    await waitFor(() => expect(qc.getQueryData<Pool[]>(["storage", "pools"])?.map((p) => p.name)).toEqual(["tank"]));
  });

  it("exports a pool with a POST and drops it from the list", async () => {
    const calls: string[] = [];
    let exported = false;
    mockFetch((url, init) => {
      calls.push(`${init.method ?? "GET"} ${url.pathname}`);
      if (init.method === "POST") { exported = true; return { status: 204 }; }
      return { body: exported ? [] : pools };
    });
    const { wrapper, qc } = setup();
    const { result } = renderHook(() => ({ pools: usePools(), exp: useExportPool() }), { wrapper });
    await waitFor(() => expect(result.current.pools.data).toHaveLength(1));
    act(() => result.current.exp.mutate("tank"));
    await waitFor(() => expect(result.current.exp.isSuccess).toBe(true));
    expect(calls).toContain("POST /api/v1/storage/pools/tank/export");
    await waitFor(() => expect(qc.getQueryData<Pool[]>(["storage", "pools"])).toEqual([]));
  });
});

describe("useCompressionJobs", () => {
  it("moves progress bars from compression.progress and finishes from job.progress", async () => {
    const fetch = mockFetch(() => ({ body: { items: [job("c1", "RUNNING", 0, "compression.compress")], total: 1, limit: 50, offset: 0 } }));
    const { wrapper } = setup();
    const { result } = renderHook(() => useCompressionJobs(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.data?.items).toHaveLength(1));
    await emit(ws, { type: "compression.progress", seq: 101, data: { job_id: "c1", percent: 37.5, bytes_in: 375, bytes_out: 100, ratio_text: "3.75x", throughput: 1000 } });
    const j = result.current.data!.items[0]!;
    expect(j.progress.percent).toBe(37.5);
    expect(j.live?.ratio_text).toBe("3.75x");
    await emit(ws, { type: "job.progress", seq: 102, data: job("c1", "SUCCESS", 100, "compression.compress") });
    expect(result.current.data!.items[0]!.state).toBe("SUCCESS");
    expect(result.current.data!.items[0]!.live?.bytes_in).toBe(375);
    // jobs of other kinds are ignored
    await emit(ws, { type: "job.progress", seq: 103, data: job("zz", "RUNNING", 5, "storage.scrub") });
    expect(result.current.data!.items).toHaveLength(1);
    // a compression job started elsewhere appears from its first event, without a refetch
    await emit(ws, { type: "job.progress", seq: 104, data: job("c2", "RUNNING", 1, "compression.verify") });
    expect(result.current.data!.items.map((j) => j.id)).toEqual(["c2", "c1"]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("useEncryption", () => {
  it("flips lock state at once and flips it back when unlock is refused", async () => {
    const key = { id: "k1", name: "main", kind: "x25519", state: "locked", fingerprint: "ab", created_at: "" };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    mockFetch(async (url, init) => {
      if (init.method === "POST") {
        expect(url.pathname).toBe("/api/v1/encryption/keys/k1/unlock");
        expect(JSON.parse(String(init.body))).toEqual({ passphrase: "wrong" });
        await gate;
        return { status: 403, body: { error: { code: "bad_passphrase", message: "wrong passphrase", details: {} } } };
      }
      return { body: [key] };
    });
    const { wrapper, qc } = setup();
    const { result } = renderHook(() => ({ keys: useKeys(), lock: useLockKey() }), { wrapper });
    await waitFor(() => expect(result.current.keys.data).toHaveLength(1));
    act(() => result.current.lock.mutate({ id: "k1", lock: false, passphrase: "wrong" }));
    await waitFor(() => expect(result.current.keys.data?.[0]?.state).toBe("unlocked"));
    release();
    await waitFor(() => expect(result.current.lock.isError).toBe(true));
    expect(qc.getQueryData<{ state: string }[]>(["encryption", "keys"])?.[0]?.state).toBe("locked");
  });
});

describe("useMesh", () => {
  it("marks peers up/down and removes them from network.event", async () => {
    const peer = (name: string) => ({ name, public_key: `${name}-key`, endpoint: null, allowed_ips: [], address: null, keepalive: 25, preshared_key: false, last_handshake_age: 3, rx_bytes: 0, tx_bytes: 0, up: true });
    mockFetch(() => ({ body: { node_name: "a", interface: "pm0", driver: "userspace", running: true, public_key: "k", listen_port: 1, address: null, mesh_cidr: "10.0.0.0/24", post_quantum: false, peers: [peer("b"), peer("c")] } }));
    const { wrapper } = setup();
    const { result } = renderHook(() => useMesh(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.data?.peers).toHaveLength(2));
    await emit(ws, { type: "network.event", seq: 101, data: { kind: "peer.down", interface: "pm0", peer: "b" } });
    expect(result.current.data!.peers.map((p) => p.up)).toEqual([false, true]);
    await emit(ws, { type: "network.event", seq: 102, data: { kind: "peer.removed", interface: "pm0", public_key: "c-key" } });
    expect(result.current.data!.peers.map((p) => p.name)).toEqual(["b"]);
  });
});

describe("reconnect", () => {
  it("refetches active queries after a gap", async () => {
    let n = 0;
    mockFetch(() => ({ body: [{ name: `p${++n}`, backend: "dir", state: "online", size: 1, used: 0, free: 1, devices: [] }] }));
    const { wrapper } = setup();
    const { result } = renderHook(() => usePools(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.data?.[0]?.name).toBe("p1"));
    await emit(ws, { type: "client.gap", seq: 500, data: { since: 1 } });
    await waitFor(() => expect(result.current.data?.[0]?.name).toBe("p2"));
  });
});

describe("credentials", () => {
  it("a 4401 close re-reads who is signed in, so the app shows the sign-in screen", async () => {
    let signedIn = true;
    mockFetch((url) => {
      if (url.pathname.endsWith("/auth/me")) {
        return signedIn ? { body: { username: "viewer", role: "readonly", via: "session" } } : { status: 401, body: { error: { code: "unauthenticated", message: "sign in" } } };
      }
      return { body: [] };
    });
    const { wrapper, socket } = setup();
    const { result } = renderHook(() => useMe(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.data?.username).toBe("viewer"));
    signedIn = false;
    act(() => ws.drop(4401, "session expired or ended: sign in again"));
    await waitFor(() => expect(result.current.data).toBeNull());
    expect(socket.status).toBe("closed");
    await act(async () => {
      await new Promise((r) => setTimeout(r, 50));
    });
    expect(FakeWebSocket.instances).toHaveLength(1); // no reconnect loop
  });

  it("a 4403 close re-reads the role and reconnects", async () => {
    let role = "admin";
    mockFetch((url) => (url.pathname.endsWith("/auth/me") ? { body: { username: "boss", role, via: "session" } } : { body: [] }));
    const { wrapper } = setup();
    const { result } = renderHook(() => useMe(), { wrapper });
    const ws = await connected();
    await waitFor(() => expect(result.current.data?.role).toBe("admin"));
    role = "readonly";
    act(() => ws.drop(4403, "role changed to readonly: reconnect"));
    await waitFor(() => expect(result.current.data?.role).toBe("readonly"));
    await waitFor(() => expect(FakeWebSocket.instances).toHaveLength(2));
  });
});

describe("useJobToasts", () => {
  it("announces the end of jobs started here, and any failure", async () => {
    mockFetch(() => ({ body: {} }));
    const { toast } = await import("sonner");
    vi.mocked(toast.success).mockClear();
    vi.mocked(toast.error).mockClear();
    const { wrapper } = setup();
    renderHook(() => useJobToasts(), { wrapper });
    const ws = await connected();
    watchJob("mine");
    await emit(ws, { type: "job.progress", seq: 101, data: { ...job("mine", "RUNNING", 50), description: "scrub tank" } });
    expect(toast.success).not.toHaveBeenCalled();
    await emit(ws, { type: "job.progress", seq: 102, data: { ...job("mine", "SUCCESS", 100), description: "scrub tank" } });
    expect(toast.success).toHaveBeenCalledWith("Finished: scrub tank");
    await emit(ws, { type: "job.progress", seq: 103, data: { ...job("other", "SUCCESS", 100), description: "not mine" } });
    expect(toast.success).toHaveBeenCalledTimes(1);
    await emit(ws, { type: "job.progress", seq: 104, data: { ...job("other2", "FAILED"), description: "backup", error: "disk full" } });
    expect(toast.error).toHaveBeenCalledWith("Failed: backup", { description: "disk full" });
  });
});
