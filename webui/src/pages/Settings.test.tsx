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

function serve() {
  return mockFetch((url, init) => {
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
