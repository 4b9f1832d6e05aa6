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

function posted(fetch: ReturnType<typeof mockFetch>, path: string) {
  const call = fetch.mock.calls.find(([u, init]) => String(u).endsWith(path) && init?.method === "POST");
  return call && JSON.parse(String(call[1]!.body));
}

/** Type into the field whose label starts with ``label`` (labels also carry their hints). */
const type = (label: string, value: string) =>
  fireEvent.change(screen.getByLabelText(new RegExp(`^${label}(?! instead)`)), { target: { value } });

describe("encryption file forms", () => {
  it("encrypts with a passphrase instead of a key, armored, and sends no key ids", async () => {
    const fetch = mockFetch(() => ({ status: 202, body: job }));
    const { wrapper: Providers } = setup();
    render(<Providers><EncryptFiles keys={[key]} /></Providers>);
    type("Source", "/srv/files/report.pdf");
    fireEvent.click(screen.getByLabelText("Passphrase instead of a key"));
    type("Passphrase", "correct horse");
    type("Confirm passphrase", "correct horsE");
    expect(screen.getByText("the passphrases differ")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Encrypt" }) as HTMLButtonElement).disabled).toBe(true);
    type("Confirm passphrase", "correct horse");
    fireEvent.click(screen.getByLabelText("ASCII armor", { exact: false }));
    fireEvent.click(screen.getByRole("button", { name: "Encrypt" }));
    await waitFor(() => expect(posted(fetch, "/api/v1/encryption/jobs/encrypt")).toEqual({
      source: { path: "/srv/files/report.pdf" }, armor: true, overwrite: false, passphrase: "correct horse",
    }));
  });

  it("encrypts to the chosen keys when no passphrase is asked for", async () => {
    const fetch = mockFetch(() => ({ status: 202, body: job }));
    const { wrapper: Providers } = setup();
    render(<Providers><EncryptFiles keys={[key]} /></Providers>);
    type("Source", "/srv/files/a");
    fireEvent.click(screen.getByLabelText("main", { exact: false }));
    fireEvent.click(screen.getByRole("button", { name: "Encrypt" }));
    await waitFor(() => expect(posted(fetch, "/api/v1/encryption/jobs/encrypt")).toEqual({
      source: { path: "/srv/files/a" }, armor: false, overwrite: false, key_ids: [key.id],
    }));
  });

  it("decrypts with the file's passphrase", async () => {
    const fetch = mockFetch(() => ({ status: 202, body: { ...job, kind: "encryption.decrypt" } }));
    const { wrapper: Providers } = setup();
    render(<Providers><DecryptFiles /></Providers>);
    type("Encrypted file", "/srv/files/a.age");
    type("Target", "/srv/files/a.out");
    fireEvent.click(screen.getByLabelText("Passphrase instead of a key"));
    type("File passphrase", "s3cret words");
    fireEvent.click(screen.getByRole("button", { name: "Decrypt" }));
    await waitFor(() => expect(posted(fetch, "/api/v1/encryption/jobs/decrypt")).toEqual({
      source: { path: "/srv/files/a.age" }, target: { path: "/srv/files/a.out" }, overwrite: false, passphrase: "s3cret words",
    }));
  });

  it("builds bodies with keys or a passphrase, never both", () => {
    expect(encryptBody({ source: " /a ", keyIds: ["k"], passphrase: "p", armor: false })).toEqual({ source: { path: "/a" }, armor: false, overwrite: false, passphrase: "p" });
    expect(decryptBody({ source: "/a.age" })).toEqual({ source: { path: "/a.age" }, overwrite: false });
  });
});
