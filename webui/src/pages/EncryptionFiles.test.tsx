import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, setup } from "../test/fakes";
import { DecryptFiles, EncryptFiles } from "./EncryptionFiles";
import { decryptBody, encryptBody } from "../hooks/useEncryption";

vi.mock("sonner", () => ({ toast: Object.assign(vi.fn(), { success: vi.fn(), error: vi.fn(), message: vi.fn() }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const job = { id: "j1", kind: "encryption.encrypt", state: "WAITING" };
const key = { id: "k-0123456789abcdef", name: "main", kind: "x25519", state: "unlocked", status: "active" };

const entries = [
  { name: "docs", path: "docs", type: "dir", size: 4096, mtime: "2026-01-01T00:00:00+00:00", mode: "0755" },
  { name: "report.pdf", path: "report.pdf", type: "file", size: 2048, mtime: "2026-01-01T00:00:00+00:00", mode: "0644" },
  { name: "report.pdf.age", path: "report.pdf.age", type: "file", size: 2300, mtime: "2026-01-01T00:00:00+00:00", mode: "0644" },
];

/** The storage API the picker browses (one pool, one volume: chosen for the user). */
function storage(url: URL, init: RequestInit, answer: () => { status?: number; body?: unknown }) {
  if (url.pathname.endsWith("/storage/pools")) return { body: [{ name: "tank", backend: "dir", state: "online" }] };
  if (url.pathname.endsWith("/storage/pools/tank/volumes")) return { body: [{ name: "v", pool: "tank" }] };
  if (url.pathname.endsWith("/files")) return { body: { path: "", parent: null, items: entries, total: entries.length, limit: 200, offset: 0 } };
  return init.method === "POST" ? answer() : { body: [] };
}

/** Choose ``name`` in the picker of the form. */
const pick = async (name: string) => fireEvent.click(await screen.findByRole("button", { name: `choose ${name}` }, { timeout: 8000 }));

function posted(fetch: ReturnType<typeof mockFetch>, path: string) {
  const call = fetch.mock.calls.find(([u, init]) => String(u).endsWith(path) && init?.method === "POST");
  return call && JSON.parse(String(call[1]!.body));
}

/** Type into the field whose label starts with ``label`` (labels also carry their hints). */
const type = (label: string, value: string) =>
  fireEvent.change(screen.getByLabelText(new RegExp(`^${label}(?! instead)`)), { target: { value } });

describe("encryption file forms", () => {
  it("encrypts with a passphrase instead of a key, armored, and sends no key ids", async () => {
    const fetch = mockFetch((u, i) => storage(u, i, () => ({ status: 202, body: job })));
    const { wrapper: Providers } = setup();
    render(<Providers><EncryptFiles keys={[key]} /></Providers>);
    await pick("report.pdf");
    fireEvent.click(screen.getByLabelText("Passphrase instead of a key"));
    type("Passphrase", "correct horse");
    type("Confirm passphrase", "correct horsE");
    expect(screen.getByText("The passphrases differ.")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Encrypt" }) as HTMLButtonElement).disabled).toBe(true);
    type("Confirm passphrase", "correct horse");
    fireEvent.click(screen.getByLabelText("ASCII armor", { exact: false }));
    fireEvent.click(screen.getByRole("button", { name: "Encrypt" }));
    await waitFor(() => expect(posted(fetch, "/api/v1/encryption/jobs/encrypt")).toEqual({
      source: { pool: "tank", volume: "v", subpath: "report.pdf" }, armor: true, overwrite: false, passphrase: "correct horse",
    }));
  }, 20000);

  it("encrypts to the chosen keys when no passphrase is asked for", async () => {
    const fetch = mockFetch((u, i) => storage(u, i, () => ({ status: 202, body: job })));
    const { wrapper: Providers } = setup();
    render(<Providers><EncryptFiles keys={[key]} /></Providers>);
    fireEvent.click(await screen.findByRole("button", { name: /Choose this folder/ }, { timeout: 8000 }));
    fireEvent.click(screen.getByLabelText("main", { exact: false }));
    fireEvent.click(screen.getByRole("button", { name: "Encrypt" }));
    await waitFor(() => expect(posted(fetch, "/api/v1/encryption/jobs/encrypt")).toEqual({
      source: { pool: "tank", volume: "v", subpath: "" }, armor: false, overwrite: false, key_ids: [key.id],
    }));
  }, 20000);

  it("decrypts with the file's passphrase", async () => {
    const fetch = mockFetch((u, i) => storage(u, i, () => ({ status: 202, body: { ...job, kind: "encryption.decrypt" } })));
    const { wrapper: Providers } = setup();
    render(<Providers><DecryptFiles /></Providers>);
    expect(screen.queryByRole("button", { name: /Choose this folder/ })).toBeNull();
    await pick("report.pdf.age");
    expect(screen.getByTestId("picked").textContent).toBe("tank / v / report.pdf.age");
    fireEvent.click(screen.getByLabelText("Passphrase instead of a key"));
    type("File passphrase", "s3cret words");
    fireEvent.click(screen.getByRole("button", { name: "Decrypt" }));
    await waitFor(() => expect(posted(fetch, "/api/v1/encryption/jobs/decrypt")).toEqual({
      source: { pool: "tank", volume: "v", subpath: "report.pdf.age" }, overwrite: false, passphrase: "s3cret words",
    }));
  }, 20000);

  it("builds bodies with keys or a passphrase, never both", () => {
    expect(encryptBody({ source: " /a ", keyIds: ["k"], passphrase: "p", armor: false })).toEqual({ source: { path: "/a" }, armor: false, overwrite: false, passphrase: "p" });
    expect(decryptBody({ source: "/a.age" })).toEqual({ source: { path: "/a.age" }, overwrite: false });
    expect(decryptBody({ source: { pool: "p", volume: "v", path: "x/a.age" }, target: { pool: "p", volume: "v", path: "x/a" } })).toEqual({
      source: { pool: "p", volume: "v", subpath: "x/a.age" }, target: { pool: "p", volume: "v", subpath: "x/a" }, overwrite: false });
  });
});
