import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import BackupCard, { downloadName } from "./Backup";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function respond(status: number, body: unknown, extra: Record<string, unknown> = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return { ok: status < 400, status, statusText: String(status), text: async () => text,
    headers: { get: () => null }, ...extra };
}

describe("Settings: configuration backup", () => {
  it("downloads a backup encrypted with the passphrase typed twice", async () => {
    const blob = new Blob(["age-encryption.org/v1"]);
    const fetch = vi.fn(async () => respond(200, "", {
      blob: async () => blob,
      headers: { get: (h: string) => (h === "Content-Disposition" ? 'attachment; filename="sigmavault-nas-20261206T1200Z.tar.gz.age"' : null) },
    }));
    vi.stubGlobal("fetch", fetch);
    const created: Blob[] = [];
    URL.createObjectURL = vi.fn((b: Blob) => { created.push(b); return "blob:x"; }) as typeof URL.createObjectURL;
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    render(<BackupCard />);
    fireEvent.change(screen.getByLabelText(/^Backup passphrase/), { target: { value: "short" } });
    fireEvent.change(screen.getByLabelText(/^Repeat passphrase/), { target: { value: "other" } });
    expect(screen.getByText("Use at least 8 characters.")).toBeTruthy();
    expect(screen.getByText("The two passphrases differ.")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Download backup" }) as HTMLButtonElement).disabled).toBe(true);

    fireEvent.change(screen.getByLabelText(/^Backup passphrase/), { target: { value: "long enough pass" } });
    fireEvent.change(screen.getByLabelText(/^Repeat passphrase/), { target: { value: "long enough pass" } });
    fireEvent.click(screen.getByRole("button", { name: "Download backup" }));
    await screen.findByText("Downloaded sigmavault-nas-20261206T1200Z.tar.gz.age.");
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/v1/system/backup");
    expect(init.method).toBe("POST");
    expect(JSON.parse(String(init.body))).toEqual({ passphrase: "long enough pass" });
    expect(created).toEqual([blob]);
    expect(click).toHaveBeenCalledOnce();
  });

  it("uploads a backup and says a restart finishes the restore", async () => {
    const fetch = vi.fn(async () => respond(202, {
      restart_required: true, message: "staged", sigmavault_version: "0.1.0",
      created_at: "2026-12-06T12:00:00+00:00", hostname: "nas1", schema_versions: {}, files: [] }));
    vi.stubGlobal("fetch", fetch);
    render(<BackupCard />);
    const restore = screen.getByRole("button", { name: "Check and restore at next start" }) as HTMLButtonElement;
    expect(restore.disabled).toBe(true);
    const file = new File(["age-encryption.org/v1"], "b.tar.gz.age");
    fireEvent.change(screen.getByLabelText("Backup file"), { target: { files: [file] } });
    fireEvent.change(screen.getByLabelText("Passphrase of the backup"), { target: { value: "the passphrase" } });
    fireEvent.click(restore);
    await screen.findByText(/Restart SigmaVault to finish the restore/);
    expect(screen.getByText(/Backup of nas1 made 2026-12-06T12:00:00\+00:00/)).toBeTruthy();
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/v1/system/backup/restore");
    const form = init.body as FormData;
    expect(form.get("passphrase")).toBe("the passphrase");
    expect((form.get("archive") as File).name).toBe("b.tar.gz.age");
  });

  it("shows the daemon's refusal of a damaged or wrong-passphrase backup", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => respond(400, { error: { code: "backup_unreadable",
      message: "the archive does not decrypt: wrong passphrase or identity, or the archive was changed or cut short; nothing was restored" } })));
    render(<BackupCard />);
    fireEvent.change(screen.getByLabelText("Backup file"), { target: { files: [new File(["x"], "b.age")] } });
    fireEvent.change(screen.getByLabelText("Passphrase of the backup"), { target: { value: "wrong" } });
    fireEvent.click(screen.getByRole("button", { name: "Check and restore at next start" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toMatch(/does not decrypt.*nothing was restored/));
    expect(screen.queryByText(/Restart SigmaVault/)).toBeNull();
  });

  it("names the download after the daemon's suggestion", () => {
    expect(downloadName('attachment; filename="a.tar.gz.age"')).toBe("a.tar.gz.age");
    expect(downloadName(null)).toBe("sigmavault-backup.tar.gz.age");
  });
});
