import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { mockFetch, setup } from "../test/fakes";
import { nfsClientProblem } from "../hooks/useNfs";
import Shares from "./Shares";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

// jsdom has no modal dialogs: open one as a browser would, so its content is accessible
const { showModal, close } = HTMLDialogElement.prototype;
beforeAll(() => {
  HTMLDialogElement.prototype.showModal = function (this: HTMLDialogElement) { this.setAttribute("open", ""); };
  HTMLDialogElement.prototype.close = function (this: HTMLDialogElement) { this.removeAttribute("open"); };
});
afterAll(() => { Object.assign(HTMLDialogElement.prototype, { showModal, close }); });

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const docs = { name: "docs", pool: "tank", volume: "team", subfolder: null, description: "", enabled: true, read_only: false, guest_ok: false, browseable: true, hosts_allow: [], hosts_deny: [], protocols: ["smb"], access: [{ kind: "user", name: "alice", level: "write" }], options: {}, path: "/p" };
const users = [{ name: "alice", uid: 3801, full_name: "Alice Liddell", groups: [], enabled: true }, { name: "bob", uid: 3802, full_name: "", groups: [], enabled: true }];

/** The page against a stubbed daemon with the shares, SMB and NFS APIs; `patch` answers the edit. */
function daemon(patch: (body: Record<string, unknown>) => { status?: number; body?: unknown } = (b) => ({ body: { ...docs, ...b } })) {
  const patches: Record<string, unknown>[] = [];
  const fetch = mockFetch((url, init) => {
    if (url.pathname === "/api/v1/shares/docs" && init.method === "PATCH") {
      const b = JSON.parse(String(init.body)) as Record<string, unknown>;
      patches.push(b);
      return patch(b);
    }
    switch (url.pathname) {
      case "/api/v1/openapi.json": return { body: { paths: { "/api/v1/shares": {}, "/api/v1/smb/status": {}, "/api/v1/smb/sessions": {}, "/api/v1/nfs/status": {}, "/api/v1/nfs/clients": {} } } };
      case "/api/v1/plugins": case "/api/v1/ui/pages": case "/api/v1/shares/groups": return { body: [] };
      case "/api/v1/shares/users": return { body: users };
      case "/api/v1/shares": return { body: [docs] };
      case "/api/v1/smb/status": return { body: { enabled: true, running: true, pid: 1, port: 445, restarts: 0, version: null, shares: 1 } };
      case "/api/v1/smb/sessions": return { body: { sessions: [], open_files: [] } };
      case "/api/v1/nfs/status": return { body: { enabled: true, server: "ganesha", kernel_nfsd: false, running: true, pid: 7, port: 2049, bind_addr: "0.0.0.0", versions: [4], rpcbind: null, restarts: 0, version: "5.7", exports: 1, config_check: "probe" } };
      case "/api/v1/nfs/clients": return { body: { connections: [{ address: "192.168.1.30", port: 871 }], v4_clients: [{ address: "192.168.1.30", owner: "Linux NFSv4.2 laptop" }, { address: "192.168.1.31", owner: "Linux NFSv4.2 gone" }], source: "ganesha" } };
      default: return { status: 404, body: { error: { code: "not_found", message: url.pathname } } };
    }
  });
  const { wrapper: Providers } = setup();
  render(<MemoryRouter><Providers><Shares /></Providers></MemoryRouter>);
  return { fetch, patches };
}

/** Open docs' editor and tick NFS. */
async function editWithNfs() {
  fireEvent.click(within(await screen.findByTestId("share-docs")).getByRole("button", { name: "Edit" }));
  const form = await screen.findByRole("form", { name: "edit share docs" });
  fireEvent.click(within(form).getByRole("checkbox", { name: /NFS/ }));
  return { form, section: within(form).getByTestId("nfs-section") };
}

const addClient = (section: HTMLElement, host: string, access?: "ro" | "rw") => {
  fireEvent.click(within(section).getByRole("button", { name: "Add a computer or network" }));
  const n = within(section).getAllByRole("textbox").length;
  const input = within(section).getByLabelText(`NFS client ${n}`);
  fireEvent.change(input, { target: { value: host } });
  fireEvent.blur(input);
  if (access) fireEvent.change(within(section).getByLabelText(`Access for NFS client ${n}`), { target: { value: access } });
};

describe("Shares page, NFS", () => {
  it("shows the NFS server and who is connected, and sends the NFS section as options.nfs", async () => {
    const { patches } = daemon();
    expect((await screen.findByTestId("nfs-state")).textContent).toBe("NFS service: runningNFS-Ganesha 5.7, port 2049, NFSv4, 1 export");
    const rows = within(await screen.findByTestId("nfs-clients")).getAllByRole("row").slice(1).map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent));
    expect(rows).toEqual([
      ["192.168.1.30", "yes (port 871)", "Linux NFSv4.2 laptop"],
      ["192.168.1.31", "no (state kept until its lease ends)", "Linux NFSv4.2 gone"],
    ]);

    const { form, section } = await editWithNfs();
    expect(within(section).getByTestId("nfs-clients-default").textContent).toContain("every computer, read-write");
    addClient(section, " 10.0.0.0/24 ", "ro");
    addClient(section, "*.lan");
    addClient(section, "gone.example");
    fireEvent.click(within(section).getByRole("button", { name: "Remove NFS client 3" }));
    fireEvent.change(within(section).getByLabelText(/^Squash/), { target: { value: "all" } });
    fireEvent.change(within(section).getByLabelText(/^NAS user every request acts as/), { target: { value: "bob" } });
    fireEvent.click(within(section).getByRole("checkbox", { name: /Snapshots browsable at \/.snapshots\/docs/ }));
    fireEvent.click(within(form).getByRole("button", { name: "Save share" }));
    await waitFor(() => expect(patches).toHaveLength(1));
    expect(patches[0]!.protocols).toEqual(["smb", "nfs"]);
    expect((patches[0]!.options as Record<string, unknown>).nfs).toEqual({
      clients: [{ host: "10.0.0.0/24", access: "ro" }, { host: "*.lan", access: "rw" }], squash: "all", anon_user: "bob", snapshots: true,
    });
  });

  it("refuses a malformed network or a missing user inline, and sends nothing", async () => {
    const { patches } = daemon();
    const { form, section } = await editWithNfs();
    addClient(section, "10.0.0.0/33");
    expect(within(section).getByRole("alert").textContent).toBe("“10.0.0.0/33” is not a network: the prefix length after “/” is 0 to 32.");
    addClient(section, "10.0.0.1/24");
    fireEvent.change(within(section).getByLabelText(/^Squash/), { target: { value: "all" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save share" }));
    const alerts = within(section).getAllByRole("alert").map((a) => a.textContent);
    expect(alerts).toEqual([
      "“10.0.0.0/33” is not a network: the prefix length after “/” is 0 to 32.",
      "“10.0.0.1/24” has host bits set: a network ends in zeros (e.g. 192.168.1.0/24).",
      "Choose the NAS user every request acts as.",
    ]);
    // fixed, it goes out
    fireEvent.change(within(section).getByLabelText("NFS client 1"), { target: { value: "10.0.0.0/8" } });
    fireEvent.change(within(section).getByLabelText("NFS client 2"), { target: { value: "10.0.0.0/24" } });
    expect(patches).toHaveLength(0);
    fireEvent.change(within(section).getByLabelText(/^Squash/), { target: { value: "root" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save share" }));
    await waitFor(() => expect(patches).toHaveLength(1));
  });

  it("puts the server's 422 on the client it names and a 409 on the NFS section", async () => {
    let answer: { status: number; body: unknown } = { status: 422, body: { error: { code: "validation_error", message: "x", details: { errors: [{ loc: ["options.nfs", "clients", 1, "host"], msg: "Value error, 'a..b' is not a host name", type: "value_error" }] } } } };
    daemon(() => answer);
    const { form, section } = await editWithNfs();
    addClient(section, "*");
    addClient(section, "bad-but-valid-here");
    fireEvent.click(within(form).getByRole("button", { name: "Save share" }));
    await waitFor(() => expect(within(section).getByLabelText("NFS client 2").getAttribute("aria-invalid")).toBe("true"));
    expect(within(section).getAllByRole("alert").map((a) => a.textContent)).toEqual(["'a..b' is not a host name."]);
    expect(within(section).getByLabelText("NFS client 1").getAttribute("aria-invalid")).toBe("false");

    answer = { status: 409, body: { error: { code: "nfs_per_user_access", message: "options.nfs: mode bits cannot express this access list (two users with write)", details: { field: "options.nfs" } } } };
    fireEvent.click(within(form).getByRole("button", { name: "Save share" }));
    await waitFor(() => expect(within(section).getAllByRole("alert").map((a) => a.textContent)).toEqual(["Mode bits cannot express this access list (two users with write)."]));
    expect(section.className).toContain("invalid");
    expect(within(form).queryByText(/Mode bits cannot/, { selector: ".form-error" })).toBeNull();
  });
});

describe("nfsClientProblem", () => {
  it("accepts what the plugin accepts and says what is wrong otherwise", () => {
    for (const ok of ["*", "192.168.1.20", "192.168.1.0/24", "0.0.0.0/0", "fd00::/8", "::1", "2001:db8::1", "*.lan", "host?.example.com", "nas"]) expect(nfsClientProblem(ok)).toBeNull();
    for (const bad of ["10.0.0.0/33", "10.0.0.1/24", "10.0.0/24", "300.1.1.1", "fd00::1/8", "a..b", "-x", "a b", "", "10.0.0.0/24/1"]) expect(nfsClientProblem(bad)).not.toBeNull();
  });
});
