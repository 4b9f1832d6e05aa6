import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup } from "@testing-library/react";
import { mockFetch, setup } from "../test/fakes";
import Settings from "./Settings";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const user = (username: string, role: string) =>
  ({ id: username.length, username, role, created_at: "2026-12-01T00:00:00+00:00", password_changed_at: "2026-12-01T00:00:00+00:00" });

type Answer = { status?: number; body?: unknown };

function serve(posts: Record<string, () => Answer> = {}) {
  return mockFetch((url, init) => {
    if (init.method === "POST" && posts[url.pathname]) return posts[url.pathname]!();
    switch (`${init.method ?? "GET"} ${url.pathname}`) {
      case "GET /api/v1/auth/me":
        return { body: { username: "admin", role: "admin", via: "session", csrf_token: "t" } };
      case "GET /api/v1/auth/users":
        return { body: [user("admin", "admin"), user("viewer", "readonly")] };
      case "GET /api/v1/auth/keys":
        return { body: [] };
      default:
        return { status: 204 };
    }
  });
}

async function setPassword(username: string, fields: Record<string, string>) {
  const rows = await screen.findAllByRole("row");
  const row = rows.find((r) => r.textContent?.startsWith(username))!;
  fireEvent.click(row.querySelector("button")!);
  for (const [label, value] of Object.entries(fields)) fireEvent.change(screen.getByLabelText(new RegExp(`^${label}`)), { target: { value } });
  fireEvent.click(screen.getByRole("button", { name: "Save", hidden: true }));
}

const putBodies = (fetch: ReturnType<typeof mockFetch>) =>
  fetch.mock.calls.filter(([, init]) => init?.method === "PUT").map(([u, init]) => [String(u), JSON.parse(String(init!.body))]);

describe("Settings: passwords", () => {
  it("asks for the new password twice and says what is wrong", async () => {
    const fetch = serve();
    const { wrapper: Providers } = setup();
    render(<Providers><Settings /></Providers>);
    await screen.findByText("(you)");
    await setPassword("viewer", { "New password": "short", "Repeat new password": "shorter" });
    expect(screen.getByText("Use at least 8 characters.")).toBeTruthy();
    expect(screen.getByText("The two passwords differ.")).toBeTruthy();
    expect(putBodies(fetch)).toEqual([]);
  });

  it("asks for your current password to change your own", async () => {
    const fetch = serve();
    const { wrapper: Providers } = setup();
    render(<Providers><Settings /></Providers>);
    await screen.findByText("(you)");
    await setPassword("admin", { "Current password": "old-secret", "New password": "new-secret-1", "Repeat new password": "new-secret-1" });
    await waitFor(() => expect(putBodies(fetch)).toEqual([
      ["/api/v1/auth/users/admin/password", { password: "new-secret-1", current_password: "old-secret" }]]));
    // the sign-out is announced before it happens, and on the sign-in page after
    await screen.findByText(/Your password is changed/);
    expect(sessionStorage.getItem("sv-signed-out-note")).toMatch(/password was changed/);
  });

  it("resets another user's password without asking for theirs", async () => {
    const fetch = serve();
    const { wrapper: Providers } = setup();
    render(<Providers><Settings /></Providers>);
    await screen.findByText("(you)");
    await setPassword("viewer", { "New password": "reset-secret", "Repeat new password": "reset-secret" });
    expect(screen.queryByLabelText("Current password")).toBeNull();
    await waitFor(() => expect(putBodies(fetch)).toEqual([
      ["/api/v1/auth/users/viewer/password", { password: "reset-secret" }]]));
  });
});

const postBodies = (fetch: ReturnType<typeof mockFetch>, path: string) =>
  fetch.mock.calls.filter(([u, init]) => init?.method === "POST" && String(u).endsWith(path)).map(([, init]) => JSON.parse(String(init!.body)));

const refusal = (status: number, code: string, message: string, details: Record<string, unknown> = {}) =>
  () => ({ status, body: { error: { code, message, details } } });

const fill = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });

/** The text under an inline input: its rule, or the problem with it. */
const under = (label: string) => screen.getByLabelText(label).closest("label")!.querySelector(".hint, .field-error")!.textContent;

describe("Settings: new user form", () => {
  it("has no native bubbles: the rules are written under the inputs, problems replace them", async () => {
    const fetch = serve();
    const { wrapper: Providers } = setup();
    render(<Providers><Settings /></Providers>);
    await screen.findByText("(you)");
    const form = screen.getByRole("form", { name: "new user" }) as HTMLFormElement;
    expect(form.noValidate).toBe(true);
    expect(form.querySelector("[required], [minlength]")).toBeNull();
    expect(under("new username")).toMatch(/^1–64 letters/);
    expect(under("new password")).toBe("at least 8 characters");
    fill("new password", "short");
    expect(under("new password")).toBe("Use at least 8 characters.");
    fireEvent.click(screen.getByRole("button", { name: "Add user" }));
    expect(under("new username")).toBe("Enter a username.");
    expect(postBodies(fetch, "/auth/users")).toEqual([]);
  });

  it("puts the server's refusals on their fields and keeps what was typed", async () => {
    let answer = refusal(422, "validation_error", "invalid body: username: …", { errors: [{ loc: ["body", "username"], msg: "Value error, use 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit, without '..'", type: "value_error" }] });
    const fetch = serve({ "/api/v1/auth/users": () => answer() });
    const { wrapper: Providers } = setup();
    render(<Providers><Settings /></Providers>);
    await screen.findByText("(you)");
    fill("new username", "bad name");
    fill("new password", "long-enough-1");
    fireEvent.click(screen.getByRole("button", { name: "Add user" }));
    await waitFor(() => expect(under("new username")).toMatch(/^Use 1–64 letters.*without “..”\.$/));
    expect((screen.getByLabelText("new username") as HTMLInputElement).value).toBe("bad name");
    expect((screen.getByLabelText("new password") as HTMLInputElement).value).toBe("long-enough-1");
    expect(screen.getByLabelText("new username").getAttribute("aria-invalid")).toBe("true");
    // a taken name (409, no field named) lands on the username too
    answer = refusal(409, "user_exists", "user 'viewer' already exists");
    fill("new username", "viewer");
    fireEvent.click(screen.getByRole("button", { name: "Add user" }));
    await waitFor(() => expect(under("new username")).toBe("User 'viewer' already exists."));
    expect(postBodies(fetch, "/auth/users")).toEqual([
      { username: "bad name", password: "long-enough-1", role: "readonly" },
      { username: "viewer", password: "long-enough-1", role: "readonly" }]);
  });
});

describe("Settings: new API key form", () => {
  it("checks the expiry before sending and maps the server's refusal onto the name", async () => {
    const fetch = serve({ "/api/v1/auth/keys": refusal(422, "validation_error", "invalid body", { errors: [{ loc: ["body", "name"], msg: "String should have at most 64 characters", type: "string_too_long" }] }) });
    const { wrapper: Providers } = setup();
    render(<Providers><Settings /></Providers>);
    await screen.findByText("(you)");
    const form = screen.getByRole("form", { name: "new API key" }) as HTMLFormElement;
    expect(form.noValidate).toBe(true);
    expect(under("expires in days")).toMatch(/1–3650/);
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect(under("key name")).toBe("Enter a name for the key.");
    fill("key name", "backup script");
    fill("expires in days", "0");
    expect(under("expires in days")).toBe("Enter a whole number of days from 1 to 3650.");
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect(postBodies(fetch, "/auth/keys")).toEqual([]);
    fill("expires in days", "30");
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    await waitFor(() => expect(under("key name")).toBe("Use at most 64 characters."));
    expect(postBodies(fetch, "/auth/keys")).toEqual([{ name: "backup script", role: null, expires_days: 30 }]);
    expect((screen.getByLabelText("key name") as HTMLInputElement).value).toBe("backup script");
    expect((screen.getByLabelText("expires in days") as HTMLInputElement).value).toBe("30");
  });
});
