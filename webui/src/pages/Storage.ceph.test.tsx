import { cleanup, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, setup } from "../test/fakes";
import { ConfirmProvider } from "../components/confirm";
import Storage, { diskUse, osdsByHost, type CephOsd, type CephPgs } from "./Storage";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const FSID = "560f3fc6-8477-4768-8158-eda66874cc84";

// GET /ceph/clusters/{fsid}/pgs and /osds as the API answered them for the recorded Ceph 16.2.15
// answers of plugins/ceph/tests/fixtures/pacific-16.2.15/recovering.* (osd.1 back after a stop)
const PGS: CephPgs = {
  fsid: FSID, health: "HEALTH_WARN",
  checks: { PG_DEGRADED: "Degraded data redundancy: 829/4332 objects degraded (19.137%), 8 pgs degraded", POOL_APP_NOT_ENABLED: "1 pool(s) do not have an application enabled" },
  osds: { total: 2, up: 2, in: 2 }, num_pgs: 17,
  states: { "active+clean": 9, "active+recovery_wait+undersized+degraded+remapped": 7, "active+recovering+undersized+degraded+remapped": 1 },
  recovery: { degraded_objects: 829, degraded_total: 4332, degraded_ratio: 0.19136657433056325, recovering_objects_per_sec: 6, recovering_bytes_per_sec: 7127713 },
  progress: [],
};
const OSDS: CephOsd[] = [
  { id: 0, name: "osd.0", fsid: FSID, host: "vm", up: true, in: true, device: "/tmp/h7x/r/osd/h7r-0/block", size: 3221225472, used: 2577768448, utilization: 80.02, pgs: 16, local: false },
  { id: 1, name: "osd.1", fsid: FSID, host: "vm", up: true, in: true, device: "/tmp/h7x/r/osd/h7r-1/block", size: 3221225472, used: 1737658368, utilization: 53.94, pgs: 9, local: false },
];
// a second node's OSD (the recorded cluster had one host): down, still in
const NODE_B: CephOsd = { ...OSDS[1]!, id: 2, name: "osd.2", host: "nodeb", up: false, device: "/dev/vdb", used: 0, utilization: 0, pgs: 0 };

const POOL = {
  name: "tank", backend: "ceph", state: "degraded", layout: "replicated x2", mountpoint: "/var/lib/sigmavault/ceph/mnt/tank",
  size: 6442450944, used: 2269118512, free: 2154287104, devices: [], properties: { cluster: FSID, replicas: 2 },
};

function route(url: URL) {
  const p = url.pathname.replace(/^\/api\/v1\//, "");
  if (p === "storage/pools") return { body: [POOL] };
  if (p === "storage/backends") return { body: [{ name: "ceph", description: "Ceph", available: true, capabilities: { snapshots: true, scrub: false } }] };
  if (p === "storage/pools/tank/volumes") return { body: [] };
  if (p === "storage/pools/tank/health") return { body: { state: "degraded", problems: [], devices: [] } };
  if (p === `ceph/clusters/${FSID}/pgs`) return { body: PGS };
  if (p === `ceph/clusters/${FSID}/osds`) return { body: [...OSDS, NODE_B] };
  if (p === "openapi.json") return { body: { paths: {} } };
  return { body: [] };
}

describe("the pool page of a Ceph pool", () => {
  it("shows Ceph health, PG states, recovery and OSDs per node from the API", async () => {
    const fetch = mockFetch(route);
    const { wrapper: P } = setup();
    render(<MemoryRouter initialEntries={["/storage?pool=tank"]}><P><ConfirmProvider><Storage /></ConfirmProvider></P></MemoryRouter>);
    const card = (await screen.findByRole("heading", { name: "Ceph cluster" })).closest("section")!;
    const c = within(card as HTMLElement);
    expect(await c.findByText("warning")).toBeTruthy();   // HEALTH_WARN
    expect(card.textContent).toContain("OSDs 2 up, 2 in of 2");
    expect(c.getByText("PG_DEGRADED")).toBeTruthy();
    const pgs = c.getByRole("table", { name: "placement groups" });
    expect(within(pgs).getByText("9 of 17")).toBeTruthy();
    expect(within(pgs).getByText("7 of 17")).toBeTruthy();
    expect(within(pgs).getAllByText("recovering")).toHaveLength(1);
    const recovery = c.getByRole("list", { name: "recovery" });
    expect(recovery.textContent).toContain("829 of 4332 object copies degraded (19.1 %)");
    expect(recovery.textContent).toMatch(/recovering 6\.8 MiB\/s, 6 objects\/s/);
    const osds = await c.findByRole("table", { name: "OSDs per host" });
    const groups = within(osds).getAllByRole("rowheader").map((h) => h.textContent);
    expect(groups).toEqual(["nodeb — 0 of 1 up, 1 in", "vm — 2 of 2 up, 2 in"]);
    const osd0 = within(osds).getByTestId("osd-0");
    expect(within(osd0).getByRole("progressbar", { name: "osd.0 usage" }).getAttribute("aria-valuenow")).toBe("80");
    expect(osd0.textContent).toContain("2.4 GiB / 3.0 GiB");
    expect(within(within(osds).getByTestId("osd-2")).getByText("down")).toBeTruthy();
    // read from the cluster's own routes, named by the pool's properties.cluster
    const asked = fetch.mock.calls.map(([u]) => new URL(String(u), "http://localhost/").pathname);
    expect(asked).toContain(`/api/v1/ceph/clusters/${FSID}/osds`);
  }, 20000);
});

describe("helpers", () => {
  it("groups OSDs by host in name order", () => {
    expect(osdsByHost([NODE_B, ...OSDS]).map(([h, rows]) => [h, rows.map((o) => o.id)])).toEqual([["nodeb", [2]], ["vm", [0, 1]]]);
    expect(osdsByHost([{ ...OSDS[0]!, host: null }])[0]![0]).toBe("unknown host");
  });

  it("says what uses a disk: a pool, a Ceph OSD, or what a plugin describes", () => {
    expect(diskUse({ pool: "tank" })).toBe("tank");
    expect(diskUse({ kind: "ceph_osd", osd: 3, cluster_name: "ceph" })).toBe("Ceph osd.3 (ceph)");
    expect(diskUse({ kind: "other", description: "held by x" })).toBe("held by x");
    expect(diskUse(null)).toBe("in use");
  });
});
