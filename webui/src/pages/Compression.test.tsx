import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, setup } from "../test/fakes";
import { ConfirmProvider } from "../components/confirm";
import Compression, { archiveTarget, isWholeVolume, NewJob, resultTarget } from "./Compression";
import { applyCompressionJob, jobPaths, locationWords } from "../hooks/useCompression";
import type { Job } from "../lib/types";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const entries = [
  { name: "photos", path: "photos", type: "dir", size: 4096, mtime: "2026-01-01T00:00:00+00:00", mode: "0755" },
  { name: "big.txt", path: "big.txt", type: "file", size: 2048, mtime: "2026-01-01T00:00:00+00:00", mode: "0644" },
];

const job = (over: Partial<Job> = {}): Job => ({
  id: "c0ffee00-0000", kind: "compression.compress", description: "", state: "SUCCESS", owner: "admin", created_by: null, result: null, error: null,
  params: { operation: "compress", codec: "zstd", source: { pool: "tank", volume: "media", subpath: "photos" }, target: { pool: "tank", volume: "media", subpath: "photos.tar.zst" },
    source_path: "/srv/tank/media/photos", target_path: "/srv/tank/media/photos.tar.zst" },
  progress: { percent: 100, description: "", bytes_done: null, bytes_total: null }, created_at: "2026-12-06T10:00:00Z", started_at: null, finished_at: null,
  ...over,
} as Job);

/** The storage API the picker browses (one pool, one volume: chosen for the user); POSTs answered by ``answer``. */
function route(answer: () => { status?: number; body?: unknown }) {
  return (url: URL, init: RequestInit) => {
    if (url.pathname.endsWith("/storage/pools")) return { body: [{ name: "tank", backend: "dir", state: "online" }] };
    if (url.pathname.endsWith("/storage/pools/tank/volumes")) return { body: [{ name: "media", pool: "tank" }] };
    if (url.pathname.endsWith("/files")) return { body: { path: "", parent: null, items: entries, total: entries.length, limit: 200, offset: 0 } };
    if (url.pathname.endsWith("/compression/codecs")) return { body: [{ name: "zstd", levels: {} }, { name: "xz", levels: {} }] };
    if (url.pathname.endsWith("/compression/jobs") && init.method === "POST") return answer();
    return { body: { items: [], total: 0, limit: 50, offset: 0 } };
  };
}

function posted(fetch: ReturnType<typeof mockFetch>) {
  const call = fetch.mock.calls.find(([u, init]) => String(u).endsWith("/compression/jobs") && init?.method === "POST");
  return call && JSON.parse(String(call[1]!.body));
}

describe("new compression job", () => {
  it("sends the picked file as a {pool, volume, subpath} location, resolving nothing itself", async () => {
    const fetch = mockFetch(route(() => ({ status: 202, body: job({ state: "WAITING" }) })));
    const { wrapper: P } = setup();
    const done = vi.fn();
    render(<P><NewJob onDone={done} /></P>);
    fireEvent.click(await screen.findByRole("button", { name: "choose big.txt" }, { timeout: 8000 }));
    fireEvent.change(screen.getByLabelText(/^Level/), { target: { value: "19" } });
    fireEvent.click(screen.getByRole("button", { name: "Start" }));
    await waitFor(() => expect(done).toHaveBeenCalled());
    expect(posted(fetch)).toEqual({ operation: "compress", codec: "zstd", level: 19, source: { pool: "tank", volume: "media", subpath: "big.txt" } });
    // the volume's mount path is not looked up any more
    expect(fetch.mock.calls.some(([u]) => /\/volumes\/media$/.test(new URL(String(u), "http://localhost/").pathname))).toBe(false);
  }, 20000);

  it("sends a picked folder (its result beside it: no target)", async () => {
    const fetch = mockFetch(route(() => ({ status: 202, body: job({ state: "WAITING" }) })));
    const { wrapper: P } = setup();
    render(<P><NewJob onDone={() => undefined} /></P>);
    fireEvent.click(await screen.findByRole("button", { name: "open folder photos" }, { timeout: 8000 }));
    fireEvent.click(await screen.findByRole("button", { name: /^Choose this folder$/ }));
    expect(screen.queryByTestId("picker-compression-target")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Start" }));
    await waitFor(() => expect(posted(fetch)?.source).toEqual({ pool: "tank", volume: "media", subpath: "photos" }));
    expect(posted(fetch).target).toBeUndefined();
  }, 20000);

  it("offers the whole volume; its archive goes to a folder picked in another volume", async () => {
    const base = route(() => ({ status: 202, body: job({ state: "WAITING" }) }));
    const fetch = mockFetch((url, init) => url.pathname.endsWith("/storage/pools/tank/volumes")
      ? { body: [{ name: "media", pool: "tank" }, { name: "backup", pool: "tank" }] } : base(url, init));
    const { wrapper: P } = setup();
    const done = vi.fn();
    render(<P><NewJob onDone={done} /></P>);
    const src = screen.getByTestId("picker-compression-source");
    const volumeSelect = async (picker: HTMLElement, name: string) => {
      const sel = within(picker).getByRole("combobox", { name: /: volume$/ });
      await within(picker).findByRole("option", { name }, { timeout: 8000 });
      fireEvent.change(sel, { target: { value: name } });
    };
    await volumeSelect(src, "media");
    fireEvent.click(await within(src).findByRole("button", { name: "Choose this folder (the whole volume)" }));
    expect(within(src).getByTestId("picked").textContent).toBe("tank / media");
    // no folder for the archive yet: said on that picker, nothing sent
    fireEvent.click(screen.getByRole("button", { name: "Start" }));
    const dst = await screen.findByTestId("picker-compression-target");
    expect(within(dst).getByRole("alert").textContent).toBe("Choose the folder that takes the archive.");
    // the same volume is refused before sending (the archive would be inside what it archives)
    await volumeSelect(dst, "media");
    fireEvent.click(await within(dst).findByRole("button", { name: "Choose this folder (the whole volume)" }));
    fireEvent.click(screen.getByRole("button", { name: "Start" }));
    expect(within(dst).getByRole("alert").textContent).toMatch(/another volume/);
    expect(posted(fetch)).toBeUndefined();
    await volumeSelect(dst, "backup");
    fireEvent.click(await within(dst).findByRole("button", { name: "open folder photos" }));
    fireEvent.click(await within(dst).findByRole("button", { name: /^Choose this folder$/ }));
    expect(dst.textContent).toContain("media.tar.zst");
    fireEvent.click(screen.getByRole("button", { name: "Start" }));
    await waitFor(() => expect(done).toHaveBeenCalled());
    expect(posted(fetch)).toEqual({ operation: "compress", codec: "zstd", source: { pool: "tank", volume: "media", subpath: "" },
      target: { pool: "tank", volume: "backup", subpath: "photos/media.tar.zst" } });
  }, 20000);

  it("extracts an archive into a whole volume picked as the target", async () => {
    const base = route(() => ({ status: 202, body: job({ state: "WAITING" }) }));
    const fetch = mockFetch((url, init) => {
      if (url.pathname.endsWith("/storage/pools/tank/volumes")) return { body: [{ name: "media", pool: "tank" }, { name: "restore", pool: "tank" }] };
      if (url.pathname.endsWith("/volumes/media/files")) return { body: { path: "", parent: null, items: [{ name: "photos.tar.zst", path: "photos.tar.zst", type: "file", size: 9, mtime: "2026-01-01T00:00:00+00:00", mode: "0644" }], total: 1, limit: 200, offset: 0 } };
      return base(url, init);
    });
    const { wrapper: P } = setup();
    const done = vi.fn();
    render(<P><NewJob onDone={done} /></P>);
    fireEvent.change(screen.getByRole("combobox", { name: "Operation" }), { target: { value: "decompress" } });
    const src = screen.getByTestId("picker-compression-source");
    await within(src).findByRole("option", { name: "media" }, { timeout: 8000 });
    fireEvent.change(within(src).getByRole("combobox", { name: /: volume$/ }), { target: { value: "media" } });
    fireEvent.click(await within(src).findByRole("button", { name: "choose photos.tar.zst" }));
    expect(screen.queryByTestId("picker-compression-target")).toBeNull();
    fireEvent.click(screen.getByRole("checkbox", { name: /Put the result in another folder or volume/ }));
    const dst = screen.getByTestId("picker-compression-target");
    await within(dst).findByRole("option", { name: "restore" });
    fireEvent.change(within(dst).getByRole("combobox", { name: /: volume$/ }), { target: { value: "restore" } });
    fireEvent.click(await within(dst).findByRole("button", { name: "Choose this folder (the whole volume)" }));
    expect(dst.textContent).toContain("The result: tank / restore (extracted into it)");
    fireEvent.click(screen.getByRole("button", { name: "Start" }));
    await waitFor(() => expect(done).toHaveBeenCalled());
    expect(posted(fetch)).toEqual({ operation: "decompress", source: { pool: "tank", volume: "media", subpath: "photos.tar.zst" }, target: { pool: "tank", volume: "restore", subpath: "" } });
  }, 20000);

  it("names a result put into a picked folder as the default would beside the source", () => {
    const dir = { pool: "t", volume: "v", path: "a/photos", type: "dir" as const };
    const file = { pool: "t", volume: "v", path: "a/notes.txt", type: "file" as const };
    const to = { pool: "c", volume: "w", path: "", type: "dir" as const };
    expect(resultTarget("compress", dir, to, ".zst")).toEqual({ pool: "c", volume: "w", subpath: "photos.tar.zst" });
    expect(resultTarget("compress", file, { ...to, path: "x" }, ".gz")).toEqual({ pool: "c", volume: "w", subpath: "x/notes.txt.gz" });
    expect(resultTarget("decompress", { ...file, path: "a/db.sql.xz" }, to, "")).toEqual({ pool: "c", volume: "w", subpath: "db.sql" });
    expect(resultTarget("decompress", { ...file, path: "a/site.tgz" }, { ...to, path: "www" }, "")).toEqual({ pool: "c", volume: "w", subpath: "www" });
  });

  it("names a whole volume's archive after the volume and the codec", () => {
    const vol = { pool: "tank", volume: "media", path: "", type: "dir" as const };
    expect(isWholeVolume(vol)).toBe(true);
    expect(isWholeVolume({ ...vol, path: "photos" })).toBe(false);
    expect(isWholeVolume(null)).toBe(false);
    expect(archiveTarget(vol, { pool: "cold", volume: "archive", path: "", type: "dir" }, ".xz")).toEqual({ pool: "cold", volume: "archive", subpath: "media.tar.xz" });
  });

  it("shows a source.subpath refusal under the source picker and keeps the form", async () => {
    mockFetch(route(() => ({ status: 400, body: { error: { code: "path_outside_volume", message: "source leaves its volume", details: { field: "source.subpath" } } } })));
    const { wrapper: P } = setup();
    const done = vi.fn();
    render(<P><NewJob onDone={done} /></P>);
    fireEvent.click(await screen.findByRole("button", { name: "choose big.txt" }, { timeout: 8000 }));
    fireEvent.change(screen.getByLabelText(/^Level/), { target: { value: "7" } });
    fireEvent.click(screen.getByRole("button", { name: "Start" }));
    const err = await screen.findByText("Source leaves its volume.");
    expect(err.closest("fieldset, label, .field")?.textContent).toContain("File, folder or whole volume to compress");
    expect((screen.getByLabelText(/^Level/) as HTMLInputElement).value).toBe("7");
    expect(done).not.toHaveBeenCalled();
  }, 20000);

  it("shows a target refusal (the default target) with the source, as the result's problem", async () => {
    mockFetch(route(() => ({ status: 400, body: { error: { code: "path_outside_volume", message: "target leaves its volume", details: { field: "target.subpath" } } } })));
    const { wrapper: P } = setup();
    render(<P><NewJob onDone={() => undefined} /></P>);
    fireEvent.click(await screen.findByRole("button", { name: "choose big.txt" }, { timeout: 8000 }));
    fireEvent.click(screen.getByRole("button", { name: "Start" }));
    expect(await screen.findByText("The result: Target leaves its volume.")).toBeTruthy();
  }, 20000);
});

describe("compression jobs table", () => {
  it("shows the resolved source and target paths, not objects", async () => {
    mockFetch((url) => {
      if (url.pathname.endsWith("/compression/jobs")) return { body: { items: [job()], total: 1, limit: 50, offset: 0 } };
      if (url.pathname.endsWith("/compression/stats")) return { body: { codecs: [], total: { codec: null, jobs: 0, bytes_in: 0, bytes_out: 0, ratio: null, ratio_text: null, saved_percent: null, mean_throughput: null }, storage_available: false, storage: [], available_codecs: [] } };
      return { body: [] };
    });
    const { wrapper: P } = setup();
    render(<P><ConfirmProvider><Compression /></ConfirmProvider></P>);
    const cell = await screen.findByTestId("cjob-source");
    // given as locations: in words, the host paths on hover; the result beside it by its name
    expect(cell.textContent).toBe("tank / media / photos→ photos.tar.zst");
    expect(cell.querySelector("[title]")!.getAttribute("title")).toBe("/srv/tank/media/photos");
    expect(document.body.textContent).not.toContain("[object Object]");
  });

  it("puts a location in words when no resolved path is known", () => {
    expect(locationWords({ pool: "tank", volume: "media", subpath: "photos" })).toBe("tank / media / photos");
    expect(locationWords({ pool: "tank", volume: "media", subpath: "" })).toBe("tank / media");
    expect(locationWords({ path: "/srv/x" })).toBe("/srv/x");
    expect(locationWords("/srv/y")).toBe("/srv/y");
    expect(jobPaths({ params: { source: { pool: "tank", volume: "media", subpath: "a" } } })).toMatchObject({ source: "tank / media / a", target: "" });
    // given as paths: the resolved paths; a target elsewhere in full
    expect(jobPaths({ params: { source: "/srv/a/x", source_path: "/srv/a/x", target_path: "/srv/b/x.zst" } })).toEqual({
      source: "/srv/a/x", target: "/srv/b/x.zst", sourceTitle: "/srv/a/x", targetTitle: "/srv/b/x.zst" });
  });

  it("replaces the optimistic placeholder when the job's first event names the same location", () => {
    const placeholder = job({ id: "pending-1", state: "WAITING", params: { operation: "compress", source: { pool: "tank", volume: "media", subpath: "photos" } } });
    const next = applyCompressionJob({ items: [placeholder], total: 1, limit: 50, offset: 0 }, job({ state: "RUNNING" }));
    expect(next!.items.map((j) => j.id)).toEqual(["c0ffee00-0000"]);
    expect(next!.total).toBe(1);
  });
});
