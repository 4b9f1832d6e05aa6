import { render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, setup } from "../test/fakes";
import Dashboard from "../pages/Dashboard";
import type { UiPage } from "../lib/types";

// uPlot measures the screen when imported; the dashboard's charts are not under test here
vi.mock("./Chart", () => ({ default: () => null }));

afterEach(() => {
  vi.unstubAllGlobals();
});

const ui = (id: string, title: string, path: string, kind: UiPage["kind"], plugin = "sigmavault-hello"): UiPage =>
  ({ id, title, path, icon: null, section: "main", plugin, kind });

describe("Dashboard plugin widgets", () => {
  it("shows a card per widget whose endpoint exists, with its data and a link to the plugin's page", async () => {
    const fetch = mockFetch((url) => {
      switch (url.pathname) {
        case "/api/v1/openapi.json":
          return { body: { paths: { "/api/v1/hello/stats": { get: {} }, "/api/v1/hello": { post: {} } } } };
        case "/api/v1/plugins":
          return { body: [] };
        case "/api/v1/ui/pages":
          return { body: [
            ui("dashboard", "Dashboard", "/", "page", "sigmavault"),
            ui("hello", "Hello", "/plugins/hello", "page"),
            ui("hello-stats", "Greetings", "/hello/stats", "widget"),
            ui("gone", "Gone widget", "/gone/stats", "widget", "sigmavault-gone"),
          ] };
        case "/api/v1/hello/stats":
          return { body: { greetings: 3, last: "Grace" } };
        default:
          return { status: 404, body: { error: { code: "not_found", message: "no", details: {} } } };
      }
    });
    const { wrapper: Providers } = setup();
    render(<MemoryRouter><Providers><Dashboard /></Providers></MemoryRouter>);
    const card = (await screen.findByRole("heading", { name: "Greetings" })).closest("section")!;
    await waitFor(() => expect(within(card).getByText("Grace")).toBeTruthy());
    expect(within(card).getByText("greetings").nextSibling?.textContent).toBe("3");
    expect(within(card).getByRole("link", { name: "Open Hello" }).getAttribute("href")).toBe("/p/hello");
    // a widget whose endpoint the daemon does not serve is not shown, and is never fetched
    expect(screen.queryByRole("heading", { name: "Gone widget" })).toBeNull();
    expect(fetch.mock.calls.some(([u]) => String(u).includes("gone"))).toBe(false);
  });
});
