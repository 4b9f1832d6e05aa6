import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryRouter, MemoryRouter, RouterProvider } from "react-router";
import { FakeWebSocket, mockFetch, setup } from "../test/fakes";
import { NotificationCentre } from "../components/NotificationCentre";
import Notifications, { ChannelForm, RuleForm, ThresholdsForm } from "./Notifications";
import type { Channel, Notification } from "../hooks/useNotifications";
import { coveredByNav, NAV, pageHref } from "../nav";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const CENTRE: Channel = { id: "centre", name: "Notification centre", type: "centre", enabled: true, min_severity: "info", settings: { type: "centre" }, builtin: true, created: null, updated: null };
const MAIL: Channel = {
  id: "m1", name: "on-call mail", type: "email", enabled: true, min_severity: "warning", builtin: false, created: "2026-12-06T10:00:00Z", updated: "2026-12-06T10:00:00Z",
  settings: { type: "email", host: "smtp.example.net", port: 587, security: "starttls", verify_tls: true, username: "nas", password: "**********", sender: "nas@example.net", to: ["ops@example.net"] },
};
const HOOK: Channel = { ...MAIL, id: "h1", name: "ops hook", type: "webhook", settings: { type: "webhook", url: "https://hooks.example.net/x", secret: null } };

const note = (id: number, over: Partial<Notification> = {}): Notification => ({
  id, alert_id: "sentry:pool:tank", kind: "alert", source: "SENTRY", severity: "critical", message: `pool tank is DEGRADED ${id}`, active: true,
  value: null, threshold: null, details: null, created: "2026-12-06T10:00:00Z", updated: "2026-12-06T10:00:00Z", repeats: 0, acked: false,
  acked_at: null, resolved_at: null, ...over,
});

const bodies = (fetch: ReturnType<typeof mockFetch>, method: string) =>
  fetch.mock.calls.filter(([, init]) => init?.method === method).map(([u, init]) => [new URL(String(u), "http://localhost/").pathname, init?.body ? JSON.parse(String(init.body)) : undefined]);

describe("ChannelForm", () => {
  it("shows the server's validation error on the field it names", async () => {
    mockFetch(() => ({ status: 422, body: { error: { code: "validation_error", message: "invalid body: settings.webhook.url: …", details: { errors: [{ loc: ["body", "settings", "webhook", "url"], msg: "Value error, must be an http:// or https:// URL with a host", type: "value_error" }] } } } }));
    const { wrapper: P } = setup();
    render(<P><ChannelForm onDone={() => undefined} /></P>);
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "hook" } });
    fireEvent.change(screen.getByLabelText(/URL/), { target: { value: "ftp://x" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const err = await screen.findByText("Must be an http:// or https:// URL with a host.");
    expect(err.closest("label")?.textContent).toContain("URL");
  });

  it("keeps a stored password (sends the mask) unless a new one is typed, and splits the recipients", async () => {
    const fetch = mockFetch(() => ({ body: MAIL }));
    const { wrapper: P } = setup();
    const done = vi.fn();
    render(<P><ChannelForm channel={MAIL} onDone={done} /></P>);
    fireEvent.change(screen.getByPlaceholderText("ops@example.net, admin@example.net"), { target: { value: "ops@example.net, admin@example.net" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(done).toHaveBeenCalled());
    const [path, body] = bodies(fetch, "PUT")[0]!;
    expect(path).toBe("/api/v1/notifications/channels/m1");
    expect(body.settings.password).toBe("**********");
    expect(body.settings.to).toEqual(["ops@example.net", "admin@example.net"]);
  });
});

describe("Notifications page", () => {
  function serve(testAnswer: { status?: number; body: unknown }) {
    return mockFetch((url, init) => {
      switch (`${init.method ?? "GET"} ${url.pathname}`) {
        case "GET /api/v1/auth/me": return { body: { username: "admin", role: "admin", via: "session", csrf_token: "t" } };
        case "GET /api/v1/notifications/channels": return { body: [CENTRE, MAIL, HOOK] };
        case "POST /api/v1/notifications/channels/m1/test": return testAnswer;
        case "GET /api/v1/notifications": return { body: { items: [note(2), note(1, { acked: true })], total: 2, unread: 1, limit: 25, offset: 0 } };
        case "GET /api/v1/notifications/sources": return { body: { sources: ["PULSE", "SENTRY"], alert_ids: [] } };
        default: return { body: [] };
      }
    });
  }

  it("sends a test and shows the reason it failed", async () => {
    serve({ status: 502, body: { error: { code: "auth_failed", message: "SMTP server smtp.example.net:587 refused the login for 'nas': 535 5.7.8 Authentication credentials invalid", details: { reason: "auth_failed" } } } });
    const { wrapper: P } = setup();
    render(<MemoryRouter initialEntries={["/notifications?tab=channels"]}><P><Notifications /></P></MemoryRouter>);
    await screen.findByText("on-call mail");
    const row = screen.getByText("on-call mail").closest("tr")!;
    fireEvent.click(row.querySelector("button")!);
    const result = await screen.findByTestId("test-result-m1");
    expect(result.textContent).toContain("refused the login");
  });

  it("sends a test and shows what the server answered", async () => {
    serve({ body: { delivered: true, channel: "m1", kind: "email", detail: "accepted: 250 OK queued", seconds: 0.12 } });
    const { wrapper: P } = setup();
    render(<MemoryRouter initialEntries={["/notifications?tab=channels"]}><P><Notifications /></P></MemoryRouter>);
    await screen.findByText("on-call mail");
    fireEvent.click(screen.getByText("on-call mail").closest("tr")!.querySelector("button")!);
    expect((await screen.findByTestId("test-result-m1")).textContent).toContain("✓ delivered: accepted: 250 OK queued");
  });

  it("lists the centre with its unread count", async () => {
    serve({ body: {} });
    const { wrapper: P } = setup();
    render(<MemoryRouter><P><Notifications /></P></MemoryRouter>);
    expect(await screen.findByText("1 unread")).toBeTruthy();
    expect(screen.getByText("pool tank is DEGRADED 2")).toBeTruthy();
    expect(screen.getAllByRole("button", { name: /^Mark read: “.*”$/ })).toHaveLength(1);
  });
});

describe("Notifications tabs in the URL", () => {
  it("puts the selected tab in the URL; Back, Forward and a reload keep it", async () => {
    mockFetch((url) => {
      switch (url.pathname) {
        case "/api/v1/auth/me": return { body: { username: "admin", role: "admin", via: "session", csrf_token: "t" } };
        case "/api/v1/notifications/channels": return { body: [CENTRE, MAIL] };
        case "/api/v1/notifications": return { body: { items: [note(1)], total: 1, unread: 1, limit: 25, offset: 0 } };
        default: return { body: { items: [], total: 0, limit: 25, offset: 0 } };
      }
    });
    const { wrapper: P } = setup();
    const routes = [{ path: "/notifications", element: <P><Notifications /></P> }];
    const router = createMemoryRouter(routes, { initialEntries: ["/notifications"] });
    render(<RouterProvider router={router} />);
    const selected = () => screen.getByRole("tab", { selected: true }).textContent;
    expect(selected()).toBe("Notifications");
    fireEvent.click(screen.getByRole("tab", { name: "Channels" }));
    expect(router.state.location.search).toBe("?tab=channels");
    expect(await screen.findByText("on-call mail")).toBeTruthy();
    fireEvent.click(screen.getByRole("tab", { name: "Delivery history" }));
    expect(router.state.location.search).toBe("?tab=deliveries");
    await act(() => router.navigate(-1));
    expect(router.state.location.search).toBe("?tab=channels");
    expect(selected()).toBe("Channels");
    await act(() => router.navigate(-1));
    expect(selected()).toBe("Notifications");
    await act(() => router.navigate(1));
    expect(selected()).toBe("Channels");
    cleanup();
    // a reload (or a shared link) opens the tab the URL names; an unknown one falls back to the centre
    const again = createMemoryRouter(routes, { initialEntries: ["/notifications?tab=rules"] });
    render(<RouterProvider router={again} />);
    expect(selected()).toBe("Rules");
    cleanup();
    render(<RouterProvider router={createMemoryRouter(routes, { initialEntries: ["/notifications?tab=nope"] })} />);
    expect(selected()).toBe("Notifications");
  });
});

describe("RuleForm", () => {
  it("picks sources, severity and channels", async () => {
    const fetch = mockFetch((url, init) => {
      if (url.pathname === "/api/v1/notifications/sources") return { body: { sources: ["PULSE", "SENTRY"], alert_ids: ["sentry:pool:tank"] } };
      return { status: 201, body: { id: "r1", ...JSON.parse(String(init.body ?? "{}")) } };
    });
    const { wrapper: P } = setup();
    const done = vi.fn();
    render(<P><RuleForm channels={[CENTRE, MAIL, HOOK]} onDone={done} /></P>);
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "storage" } });
    fireEvent.click(screen.getByLabelText("any source"));
    fireEvent.click(await screen.findByLabelText("SENTRY"));
    fireEvent.change(screen.getByLabelText("Minimum severity"), { target: { value: "critical" } });
    fireEvent.click(screen.getByLabelText(/ops hook/));
    expect(screen.queryByLabelText(/Notification centre/)).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(done).toHaveBeenCalled());
    expect(bodies(fetch, "POST")).toEqual([["/api/v1/notifications/rules",
      { name: "storage", enabled: true, sources: ["SENTRY"], alert_ids: ["*"], min_severity: "critical", channels: ["h1"] }]]);
  });
});

describe("NotificationCentre (the bell)", () => {
  it("shows the unread count and follows the notification event", async () => {
    let unread = 2;
    mockFetch((url) => {
      switch (url.pathname) {
        case "/api/v1/openapi.json": return { body: { paths: { "/api/v1/notifications": {} } } };
        case "/api/v1/notifications": return { body: { items: [note(2), note(1)], total: 2, unread, limit: 8, offset: 0 } };
        default: return { body: [] };
      }
    });
    const { wrapper: P } = setup();
    render(<P><NotificationCentre /></P>);
    expect((await screen.findByTestId("unread-count")).textContent).toBe("2");
    const ws = FakeWebSocket.last();
    act(() => ws.open());
    unread = 3;
    act(() => ws.emit({ type: "notification", seq: 5, data: { action: "new", notification: note(3), unread: 3 } }));
    await waitFor(() => expect(screen.getByTestId("unread-count").textContent).toBe("3"));
    fireEvent.click(screen.getByRole("button", { name: /notifications: 3 unread/ }));
    expect(await screen.findByText("pool tank is DEGRADED 2")).toBeTruthy();
    // the panel links to the page's own route, not a dialog
    const all = screen.getByRole("link", { name: /All notifications, channels and rules/ });
    expect(all.getAttribute("href")).toBe("#/notifications");
    fireEvent.click(all);
    expect(screen.queryByRole("dialog", { name: "Notifications" })).toBeNull();
  });

  it("has a sidebar entry: the plugin's registered page is the built-in route, not the generic one", () => {
    const page = { id: "notifications", path: "/notifications" };
    expect(coveredByNav(page)).toBe(true);
    expect(pageHref(page)).toBe("/notifications");
    expect(NAV.find((n) => n.id === "notifications")).toMatchObject({ needs: ["/notifications"], section: "admin" });
  });

  it("is absent when the daemon has no notifications plugin", async () => {
    const fetch = mockFetch((url) => (url.pathname === "/api/v1/openapi.json" ? { body: { paths: {} } } : { body: [] }));
    const { wrapper: P } = setup();
    const { container } = render(<P><NotificationCentre /></P>);
    await waitFor(() => expect(fetch).toHaveBeenCalled());
    await new Promise((r) => setTimeout(r, 20));
    expect(container.querySelector("[data-testid=notification-centre]")).toBeNull();
    expect(fetch.mock.calls.some(([u]) => String(u).includes("/api/v1/notifications"))).toBe(false);
  });
});

describe("ThresholdsForm", () => {
  const SAVED = { cpu_percent: 90, memory_percent: 90, filesystem_percent: 90, temperature_celsius: 85, window_seconds: 60, hysteresis: 5 };

  it("sends an emptied box as 'not checked' and shows the server's error on its field", async () => {
    const fetch = mockFetch((_url, init) => init?.method === "PUT"
      ? { status: 422, body: { error: { code: "validation_error", message: "invalid body: memory_percent: …", details: { errors: [{ loc: ["body", "memory_percent"], msg: "Input should be less than or equal to 100", type: "less_than_equal" }] } } } }
      : { body: SAVED });
    const { wrapper: P } = setup();
    render(<P><ThresholdsForm admin /></P>);
    const cpu = await screen.findByLabelText(/CPU busy/);
    fireEvent.change(cpu, { target: { value: "" } });
    fireEvent.change(screen.getByLabelText(/Memory used/), { target: { value: "150" } });
    fireEvent.click(screen.getByRole("button", { name: "Save thresholds" }));
    await screen.findByText("Enter a number of at most 100.");
    const [path, body] = bodies(fetch, "PUT")[0]!;
    expect(path).toBe("/api/v1/system/alerts/thresholds");
    expect(body).toEqual({ ...SAVED, cpu_percent: null, memory_percent: 150 });
    expect((screen.getByLabelText(/Memory used/) as HTMLInputElement).value).toBe("150");
  });
});
