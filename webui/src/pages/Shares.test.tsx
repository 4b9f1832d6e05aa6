import { useState } from "react";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket, mockFetch, setup } from "../test/fakes";
import { ApiError } from "../lib/api";
import { accessHeadline, accessSummary, inUseMessage, plainReason, shareFieldErrors, type AccessEntry, type NasGroup, type NasUser } from "../hooks/useShares";
import Shares, { AccessEditor, ExplainPanel } from "./Shares";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const users: NasUser[] = [
  { name: "alice", uid: 3801, full_name: "Alice Liddell", groups: [], enabled: true },
  { name: "bob", uid: 3802, full_name: "", groups: ["readers"], enabled: true },
];
const groups: NasGroup[] = [{ name: "readers", gid: 3800, members: ["bob"] }];

function Editor({ initial = [], errors, seen }: { initial?: AccessEntry[]; errors?: Record<string, string>; seen: (v: AccessEntry[]) => void }) {
  const [v, setV] = useState<AccessEntry[]>(initial);
  return <AccessEditor value={v} onChange={(x) => { setV(x); seen(x); }} users={users} groups={groups} errors={errors} />;
}

describe("AccessEditor", () => {
  it("builds the access list from pickers: users, groups, levels and everyone else", () => {
    const seen = vi.fn();
    render(<Editor seen={seen} />);
    fireEvent.change(screen.getByLabelText("Add a user"), { target: { value: "alice" } });
    fireEvent.change(screen.getByLabelText("Access for alice"), { target: { value: "write" } });
    fireEvent.change(screen.getByLabelText("Add a group"), { target: { value: "readers" } });
    fireEvent.change(screen.getByLabelText("Access for everyone else"), { target: { value: "read" } });
    expect(seen).toHaveBeenLastCalledWith([
      { kind: "user", name: "alice", level: "write" },
      { kind: "group", name: "readers", level: "read" },
      { kind: "everyone", name: null, level: "read" },
    ]);
    // a listed account is no longer offered; "no access" for everyone removes its entry
    expect(within(screen.getByLabelText("Add a user")).queryByRole("option", { name: /alice/ })).toBeNull();
    fireEvent.change(screen.getByLabelText("Access for everyone else"), { target: { value: "none" } });
    fireEvent.click(screen.getByRole("button", { name: "Remove group readers" }));
    expect(seen).toHaveBeenLastCalledWith([{ kind: "user", name: "alice", level: "write" }]);
  });

  it("shows the server's problem on the entry it names", () => {
    render(<Editor seen={vi.fn()} initial={[{ kind: "user", name: "alice", level: "read" }, { kind: "user", name: "bob", level: "read" }]}
      errors={shareFieldErrors(new ApiError(422, "validation_error", "x", { errors: [{ loc: ["body", "access", 1, "name"], msg: "Value error, no such NAS user", type: "value_error" }] }))} />);
    const row = screen.getByText("bob").closest("tr")!;
    expect(within(row).getByRole("alert").textContent).toBe("No such NAS user.");
    expect(within(screen.getByText("alice").closest("tr")!).queryByRole("alert")).toBeNull();
  });
});

describe("ExplainPanel", () => {
  it("answers 'can bob write here?' with the chain of reasons in plain words", async () => {
    const fetch = mockFetch((url) => {
      if (url.pathname === "/api/v1/shares/docs/access" && url.searchParams.get("user") === "bob") {
        return { body: { access: "read", reasons: ["via group readers: read", "filesystem ACL on the folder allows read"], user: "bob", path: "/p", acl: [] } };
      }
      return { status: 404, body: { error: { code: "not_found", message: "no" } } };
    });
    const { wrapper: Providers } = setup();
    render(<Providers><ExplainPanel share="docs" users={users} /></Providers>);
    fireEvent.change(screen.getByLabelText("Check access for"), { target: { value: "bob" } });
    const answer = await screen.findByTestId("access-answer");
    expect(answer.textContent).toContain("Can bob write here? No");
    expect(screen.getByTestId("access-headline").textContent).toBe("read only, because bob is in group readers");
    const reasons = within(screen.getByTestId("access-reasons")).getAllByRole("listitem").map((li) => li.textContent);
    expect(reasons).toEqual([
      "bob is in group readers, which gives read, and has no entry of their own.",
      "The folder's permissions on disk agree (read).",
    ]);
    expect(fetch.mock.calls.map(([u]) => String(u))).toEqual(["/api/v1/shares/docs/access?user=bob"]);
  });

  it("asks for a guest without a user and says why they are out", async () => {
    mockFetch((url) => (url.pathname === "/api/v1/shares/docs/access" && !url.searchParams.has("user")
      ? { body: { access: "none", reasons: ["guests are not allowed on this share"], user: null, path: "/p", acl: [] } }
      : { status: 500 }));
    const { wrapper: Providers } = setup();
    render(<Providers><ExplainPanel share="docs" users={users} /></Providers>);
    const select = screen.getByLabelText("Check access for") as HTMLSelectElement;
    const guest = within(select).getByRole("option", { name: "a guest (no account)" }) as HTMLOptionElement;
    fireEvent.change(select, { target: { value: guest.value } });
    await waitFor(() => expect(screen.getByTestId("access-headline").textContent).toBe("no access, because guests are not allowed"));
    expect(screen.getByTestId("access-reasons").textContent).toContain("Guests (people without an account) are not allowed");
  });
});

describe("plain words", () => {
  it("summarises an access list", () => {
    expect(accessSummary({ read_only: false, guest_ok: false, access: [{ kind: "user", name: "alice", level: "write" }, { kind: "group", name: "readers", level: "read" }] }))
      .toBe("alice can write, readers can read, everyone else: no access");
    expect(accessSummary({ read_only: true, guest_ok: true, access: [{ kind: "everyone", name: null, level: "write" }] }))
      .toBe("everyone else can read, guests too (read-only share)");
  });

  it("explains caps and the 409 for an account still in use", () => {
    expect(accessHeadline({ access: "read", reasons: ["entry for user alice: write", "share is read-only"] }, "alice")).toBe("read only, because the share is read-only");
    expect(plainReason("account bob is disabled")).toBe("The account bob is disabled.");
    expect(inUseMessage("user", "alice", new ApiError(409, "account_in_use", "user alice is in the access list of share(s) docs", { shares: ["docs"] })))
      .toBe("alice is used by share 'docs'; remove alice from its access list first.");
  });

  it("maps the plugin's own field errors and options.smb locations", () => {
    expect(shareFieldErrors(new ApiError(422, "weak_password", "password: a password needs at least 8 characters", { field: "password" })))
      .toEqual({ password: "A password needs at least 8 characters." });
    const e = shareFieldErrors(new ApiError(422, "validation_error", "x", { errors: [{ loc: ["options.smb", "encryption"], msg: "Input should be 'off', 'desired' or 'required'", type: "literal_error" }] }));
    expect(e["options.smb.encryption"]).toBe("Choose one of the offered values.");
  });
});

describe("Shares page", () => {
  it("shows the SMB service going down and a client connecting, live from share.event", async () => {
    const server = { running: true, sessions: [] as unknown[] };
    mockFetch((url) => {
      switch (url.pathname) {
        case "/api/v1/openapi.json": return { body: { paths: { "/api/v1/shares": {}, "/api/v1/smb/status": {}, "/api/v1/smb/sessions": {} } } };
        case "/api/v1/plugins": case "/api/v1/ui/pages": case "/api/v1/shares/users": case "/api/v1/shares/groups": return { body: [] };
        case "/api/v1/shares": return { body: [{ name: "docs", pool: "tank", volume: "team", subfolder: null, description: "", enabled: true, read_only: false, guest_ok: false, browseable: true, hosts_allow: [], hosts_deny: [], protocols: ["smb"], access: [{ kind: "user", name: "alice", level: "write" }], options: {}, path: "/p" }] };
        case "/api/v1/smb/status": return { body: { enabled: true, running: server.running, pid: 1, port: 445, restarts: 0, version: null, shares: 1 } };
        case "/api/v1/smb/sessions": return { body: { sessions: server.sessions, open_files: [] } };
        default: return { status: 404, body: { error: { code: "not_found", message: url.pathname } } };
      }
    });
    const { wrapper: Providers } = setup();
    render(<MemoryRouter><Providers><Shares /></Providers></MemoryRouter>);
    await screen.findByText("alice can write, everyone else: no access");
    await screen.findByText("running");
    await waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
    const ws = FakeWebSocket.last();
    act(() => ws.open(100));
    await waitFor(() => expect(ws.sent).toContainEqual({ type: "client.subscribe", events: ["share.event"] }));
    server.running = false;
    act(() => ws.emit({ type: "share.event", seq: 101, data: { kind: "service_down", protocol: "smb", message: "smbd died" } }));
    expect((await screen.findByTestId("smb-banner")).textContent).toContain("The SMB service is down.");
    server.sessions = [{ session_id: "1", pid: 2, username: "alice", group: "users", uid: 3801, remote: "ipv4:192.168.1.20:50123", dialect: "SMB3_11", encryption: "-", signing: "-", shares: ["docs"] }];
    act(() => ws.emit({ type: "share.event", seq: 102, data: { kind: "client_connected", share: "docs", user: "alice", remote: "192.168.1.20" } }));
    await waitFor(() => expect(screen.getByTestId("share-clients").textContent).toBe("Connected nowalice (192.168.1.20)"), { timeout: 3000 });
  });
});
