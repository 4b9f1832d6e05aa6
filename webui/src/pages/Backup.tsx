import { useState, type FormEvent } from "react";
import { Card, Field } from "../components/ui";
import { apiBase } from "../lib/api";

/** What POST /system/backup/restore answers: the backup is checked and staged. */
export interface RestoreStaged {
  restart_required: true;
  message: string;
  sigmavault_version: string;
  created_at: string;
  hostname: string;
  files: string[];
}

function csrfToken(): string | null {
  const m = document.cookie.match(/(?:^|;\s*)sigmavault_csrf=([^;]+)/);
  return m?.[1] ? decodeURIComponent(m[1]) : null;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = csrfToken();
  return { Accept: "application/json", ...(token ? { "X-CSRF-Token": token } : {}), ...extra };
}

async function failure(res: Response): Promise<string> {
  try {
    const body = JSON.parse(await res.text()) as { error?: { message?: string } };
    return body.error?.message ?? `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

/** The file name the daemon suggests (Content-Disposition), or a fallback. */
export function downloadName(disposition: string | null): string {
  const m = disposition?.match(/filename="([^"]+)"/);
  return m?.[1] ?? "sigmavault-backup.tar.gz.age";
}

function Download() {
  const [pass, setPass] = useState({ passphrase: "", repeat: "" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const tooShort = pass.passphrase !== "" && pass.passphrase.length < 8;
  const differs = pass.repeat !== "" && pass.repeat !== pass.passphrase;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (pass.passphrase.length < 8 || pass.repeat !== pass.passphrase) return;
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const res = await fetch(`${apiBase()}system/backup`, {
        method: "POST", credentials: "same-origin",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify({ passphrase: pass.passphrase }),
      });
      if (!res.ok) throw new Error(await failure(res));
      const name = downloadName(res.headers.get("Content-Disposition"));
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      URL.revokeObjectURL(url);
      setDone(name);
      setPass({ passphrase: "", repeat: "" });
    } catch (err) {
      setError((err as Error).message || "cannot reach the SigmaVault daemon");
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} noValidate aria-label="download backup">
      <h3>Download</h3>
      <p className="muted">One encrypted file with the database (users, API keys, shares, schedules, mesh identity), the
        configuration file, TLS certificate and the encryption keystore. Pool data is not in it. Without the passphrase
        it cannot be opened: keep both safe.</p>
      <Field label="Backup passphrase" hint="at least 8 characters" error={tooShort ? "Use at least 8 characters." : undefined}>
        <input type="password" autoComplete="new-password" value={pass.passphrase} aria-invalid={tooShort}
          onChange={(e) => setPass({ ...pass, passphrase: e.target.value })} />
      </Field>
      <Field label="Repeat passphrase" error={differs ? "The two passphrases differ." : undefined}>
        <input type="password" autoComplete="new-password" value={pass.repeat} aria-invalid={differs}
          onChange={(e) => setPass({ ...pass, repeat: e.target.value })} />
      </Field>
      {error && <p className="field-error" role="alert">{error}</p>}
      {done && <p role="status">Downloaded {done}.</p>}
      <button type="submit" className="btn primary" disabled={busy || pass.passphrase.length < 8 || pass.repeat !== pass.passphrase}>
        {busy ? "Preparing…" : "Download backup"}
      </button>
    </form>
  );
}

function Restore() {
  const [file, setFile] = useState<File | null>(null);
  const [passphrase, setPassphrase] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [staged, setStaged] = useState<RestoreStaged | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file || !passphrase) return;
    setBusy(true);
    setError(null);
    setStaged(null);
    try {
      const form = new FormData();
      form.append("archive", file, file.name);
      form.append("passphrase", passphrase);
      const res = await fetch(`${apiBase()}system/backup/restore`, {
        method: "POST", credentials: "same-origin", headers: headers(), body: form,
      });
      if (!res.ok) throw new Error(await failure(res));
      setStaged(JSON.parse(await res.text()) as RestoreStaged);
      setPassphrase("");
    } catch (err) {
      setError((err as Error).message || "cannot reach the SigmaVault daemon");
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} noValidate aria-label="restore backup">
      <h3>Restore</h3>
      <p className="muted">The file is checked now (passphrase, integrity, version); it replaces this installation's
        users, keys and settings when SigmaVault next starts. Until the restart nothing changes.</p>
      <Field label="Backup file">
        <input type="file" accept=".age" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </Field>
      <Field label="Passphrase of the backup">
        <input type="password" autoComplete="off" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />
      </Field>
      {error && <p className="field-error" role="alert">{error}</p>}
      {staged && (
        <div role="status">
          <p><b>Restart SigmaVault to finish the restore</b> (<code>systemctl restart sigmavault</code>).</p>
          <p className="muted">Backup of {staged.hostname} made {staged.created_at} by SigmaVault {staged.sigmavault_version}.</p>
        </div>
      )}
      <button type="submit" className="btn danger" disabled={busy || !file || !passphrase}>
        {busy ? "Checking…" : "Check and restore at next start"}
      </button>
    </form>
  );
}

/** Settings → Backup: download a configuration backup, upload one to restore. */
export default function BackupCard() {
  return (
    <Card title="Configuration backup">
      <Download />
      <Restore />
    </Card>
  );
}
