import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, setup } from "../test/fakes";
import { LocationPicker, type PickedLocation } from "./FilePicker";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const entry = (path: string, type: "dir" | "file", size = 10) =>
  ({ name: path.split("/").pop()!, path, type, size, mtime: "2026-01-01T00:00:00+00:00", mode: "0644" });

/** A volume: docs/ (report.txt) and big/ (250 files: two pages). */
function serve() {
  return mockFetch((url) => {
    const p = url.pathname;
    if (p.endsWith("/storage/pools")) return { body: [{ name: "tank" }, { name: "other" }] };
    if (p.endsWith("/storage/pools/tank/volumes")) return { body: [{ name: "media", pool: "tank" }] };
    if (p.endsWith("/files")) {
      const path = url.searchParams.get("path") ?? "";
      const offset = Number(url.searchParams.get("offset") ?? 0);
      const limit = Number(url.searchParams.get("limit") ?? 200);
      const all = path === "" ? [entry("big", "dir"), entry("docs", "dir"), entry("top.bin", "file", 2048)]
        : path === "docs" ? [entry("docs/report.txt", "file")]
        : Array.from({ length: 250 }, (_, i) => entry(`big/f${String(i).padStart(3, "0")}`, "file"));
      return { body: { path, parent: path ? "" : null, items: all.slice(offset, offset + limit), total: all.length, limit, offset } };
    }
    return { body: [] };
  });
}

function Harness({ accept, onPick }: { accept: "file" | "dir" | "any"; onPick: (l: PickedLocation | null) => void }) {
  let value: PickedLocation | null = null;
  return <LocationPicker label="Target" accept={accept} value={value} onChange={(l) => { value = l; onPick(l); }} />;
}

describe("LocationPicker", () => {
  it("goes pool → volume → folder with buttons and a breadcrumb, and gives the location", async () => {
    serve();
    const picked = vi.fn();
    const { wrapper: Providers } = setup();
    render(<Providers><Harness accept="file" onPick={picked} /></Providers>);
    const pool = await screen.findByLabelText("Target: pool");
    await screen.findByRole("option", { name: "other" }, { timeout: 8000 });
    fireEvent.change(pool, { target: { value: "tank" } });
    // the pool's only volume is chosen for the user
    await screen.findByRole("button", { name: "open folder docs" }, { timeout: 8000 });
    expect(screen.queryByRole("button", { name: /Choose this folder/ })).toBeNull(); // files only
    fireEvent.click(screen.getByRole("button", { name: "open folder docs" }));
    fireEvent.click(await screen.findByRole("button", { name: "choose report.txt" }));
    expect(picked).toHaveBeenLastCalledWith({ pool: "tank", volume: "media", path: "docs/report.txt", type: "file" });
    // the breadcrumb leads back to the volume's root
    fireEvent.click(screen.getByRole("button", { name: "media" }));
    await screen.findByRole("button", { name: "choose top.bin" }, { timeout: 8000 });
  }, 20000);

  it("chooses folders, and pages through a big one", async () => {
    serve();
    const picked = vi.fn();
    const { wrapper: Providers } = setup();
    render(<Providers><Harness accept="dir" onPick={picked} /></Providers>);
    const pool = await screen.findByLabelText("Target: pool");
    await screen.findByRole("option", { name: "other" }, { timeout: 8000 });
    fireEvent.change(pool, { target: { value: "tank" } });
    fireEvent.click(await screen.findByRole("button", { name: "open folder big" }, { timeout: 8000 }));
    await screen.findByText("f199");
    expect(screen.queryByText("f200")).toBeNull();
    expect(screen.getByText("f000").closest("button")!.disabled).toBe(true); // files not choosable
    fireEvent.click(screen.getByText("Show more (200 of 250)"));
    await screen.findByText("f249");
    fireEvent.click(screen.getByRole("button", { name: "Choose this folder" }));
    await waitFor(() => expect(picked).toHaveBeenLastCalledWith({ pool: "tank", volume: "media", path: "big", type: "dir" }));
  }, 20000);
});
