import { useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { Badge, Card, Field, FieldError, Modal, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { useOptimisticMutation } from "../hooks/cache";
import { useMe } from "../hooks/useAuth";
import { del, get, post, put } from "../lib/api";
import { when } from "../lib/format";
import BackupCard from "./Backup";
import { fieldErrors, NAME_RULE, plainError } from "../lib/errors";
import { ApiError } from "../lib/api";

/** The server's refusal of a create form, field → message: 422 details, plus the refusals that
 * name no field but are about one (a taken name, a weak password, a role not allowed). */
function createErrors(e: unknown, byCode: Record<string, string>): Record<string, string> {
  const errs = fieldErrors(e);
  if (e instanceof ApiError && byCode[e.code] && !errs[byCode[e.code]!]) errs[byCode[e.code]!] = plainError(e);
  return errs;
}

/** A rule written under an inline input, or the problem with it. */
function Under({ rule, error }: { rule: string; error?: string | null }) {
  return error ? <FieldError error={error} /> : <span className="hint">{rule}</span>;
}

const USER_RULES = { username: NAME_RULE, password: "at least 8 characters" };
const KEY_RULES = { name: "1–64 characters", expires: "whole days, 1–3650; empty: never" };

interface User { id: number; username: string; role: string; created_at: string; password_changed_at: string }
interface PasswordChange { username: string; password: string; current_password?: string; repeat?: string }

/** Shown on the sign-in page after your own password change ended your session. */
export const SIGNED_OUT_NOTE = "sv-signed-out-note";
interface ApiKey { id: string; name: string; role: string; username: string; created_at: string; expires_at: string | null; last_used_at: string | null; revoked: boolean }

function Users() {
  const me = useMe();
  const users = useQuery({ queryKey: ["auth", "users"], queryFn: () => get<User[]>("auth/users") });
  const confirm = useConfirm();
  const create = useOptimisticMutation<{ username: string; password: string; role: string }, User[], User>({
    mutationFn: (b) => post<User>("auth/users", b),
    queryKey: ["auth", "users"],
    update: (old, b) => [...(old ?? []), { id: -1, username: b.username, role: b.role, created_at: new Date().toISOString(), password_changed_at: "" }],
    success: (u) => `User ${u.username} created`,
  });
  const remove = useOptimisticMutation<string, User[]>({
    mutationFn: (name) => del(`auth/users/${encodeURIComponent(name)}`),
    queryKey: ["auth", "users"],
    update: (old, name) => old?.filter((u) => u.username !== name),
    success: (_d, name) => `User ${name} deleted`,
  });
  // your own password needs your current one (and ends your sessions: sign in again);
  // an admin resetting someone else's does not
  const setPassword = useOptimisticMutation<PasswordChange, User[]>({
    mutationFn: ({ username, password, current_password }) =>
      put(`auth/users/${encodeURIComponent(username)}/password`, current_password ? { password, current_password } : { password }),
    queryKey: ["auth", "users"],
    success: (_d, b) => (b.current_password ? null : "Password changed"),
  });
  const [changedOwn, setChangedOwn] = useState(false);
  const [form, setForm] = useState({ username: "", password: "", role: "readonly" });
  const [checked, setChecked] = useState(false);
  const [pw, setPw] = useState<PasswordChange | null>(null);
  const own = !!pw && pw.username === me.data?.username;
  const serverErrs = createErrors(create.error, { user_exists: "username", weak_password: "password", invalid_role: "role" });
  const mine = {
    username: form.username.trim() === "" ? "Enter a username." : undefined,
    password: form.password.length < 8 ? "Use at least 8 characters." : undefined,
  };
  const errs = {
    username: (checked ? mine.username : undefined) ?? serverErrs.username,
    password: (checked || form.password !== "" ? mine.password : undefined) ?? serverErrs.password,
    role: serverErrs.role,
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (mine.username || mine.password) return;
    create.mutate(form, { onSuccess: () => { setForm({ username: "", password: "", role: "readonly" }); setChecked(false); } });
  };
  return (
    <Card title="Users">
      <QueryState q={users} empty={(d) => d.length === 0 && "No users."}>
        {(list) => (
          <table>
            <thead><tr><th>User</th><th>Role</th><th>Created</th><th>Password changed</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.map((u) => (
              <tr key={u.username}>
                <td>{u.username}{u.username === me.data?.username && <small className="muted"> (you)</small>}</td><td><Badge value={u.role} /></td>
                <td>{when(u.created_at)}</td><td>{when(u.password_changed_at)}</td>
                <td className="actions">
                  <button type="button" className="btn small" onClick={() => setPw({ username: u.username, password: "", current_password: "" })}>Set password</button>
                  <button type="button" className="btn small danger" disabled={u.username === me.data?.username} onClick={async () => {
                    if (await confirm({ title: "Delete user?", message: <>Delete <b>{u.username}</b> with their sessions and API keys?</>, confirmText: "Delete", danger: true })) remove.mutate(u.username);
                  }}>Delete</button>
                </td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </QueryState>
      <form className="inline" style={{ alignItems: "flex-start" }} onSubmit={submit} aria-label="new user" noValidate>
        <label className="field" style={{ width: "min(20em, 100%)" }}>
          <input aria-label="new username" name="new-username" placeholder="username" autoComplete="off" value={form.username} aria-invalid={!!errs.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />
          <Under rule={USER_RULES.username} error={errs.username} />
        </label>
        <label className="field">
          <input aria-label="new password" name="new-password" placeholder="password" type="password" autoComplete="new-password" value={form.password} aria-invalid={!!errs.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
          <Under rule={USER_RULES.password} error={errs.password} />
        </label>
        <label className="field">
          <select aria-label="role" value={form.role} aria-invalid={!!errs.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
            <option value="readonly">readonly: can look</option><option value="admin">admin: can change everything</option>
          </select>
          <Under rule="what the user may do" error={errs.role} />
        </label>
        <button type="submit" className="btn primary small" disabled={create.isPending}>Add user</button>
      </form>
      <Modal open={!!pw || changedOwn} title={changedOwn ? "Password changed" : `Password for ${pw?.username}`} onClose={() => { setPw(null); if (changedOwn) window.location.reload(); }}>
        {changedOwn ? (
          <>
            <p role="status">Your password is changed. For safety this signs you out everywhere, including here: sign in again with the new password.</p>
            <div className="modal-actions"><button type="button" className="btn primary" autoFocus onClick={() => window.location.reload()}>Sign in again</button></div>
          </>
        ) : pw && (() => {
          const tooShort = pw.password !== "" && pw.password.length < 8;
          const differs = (pw.repeat ?? "") !== "" && pw.repeat !== pw.password;
          const errs = fieldErrors(setPassword.error);
          const wrongCurrent = (setPassword.error as { status?: number } | null)?.status === 403 || (setPassword.error as { code?: string } | null)?.code === "wrong_password";
          return (
            <form noValidate onSubmit={(e) => {
              e.preventDefault();
              if (pw.password.length < 8 || pw.repeat !== pw.password || (own && !pw.current_password)) { setPw({ ...pw, repeat: pw.repeat ?? "" }); return; }
              const body = own ? { username: pw.username, password: pw.password, current_password: pw.current_password } : { username: pw.username, password: pw.password };
              setPassword.mutate(body, {
                onSuccess: () => {
                  setPw(null);
                  if (own) {
                    sessionStorage.setItem(SIGNED_OUT_NOTE, "Your password was changed: sign in with the new one.");
                    setChangedOwn(true);
                  }
                },
              });
            }}>
              {own && <p className="muted">Changing your own password signs you out everywhere; you will sign in again with the new one.</p>}
              {own && <Field label="Current password" error={errs.current_password ?? (wrongCurrent ? "This is not your current password." : undefined)}><input type="password" autoFocus autoComplete="current-password" value={pw.current_password ?? ""} onChange={(e) => setPw({ ...pw, current_password: e.target.value })} /></Field>}
              <Field label="New password" hint="at least 8 characters" error={tooShort ? "Use at least 8 characters." : errs.password}><input type="password" autoFocus={!own} autoComplete="new-password" value={pw.password} aria-invalid={tooShort} onChange={(e) => setPw({ ...pw, password: e.target.value })} /></Field>
              <Field label="Repeat new password" error={differs ? "The two passwords differ." : undefined}><input type="password" autoComplete="new-password" value={pw.repeat ?? ""} aria-invalid={differs} onChange={(e) => setPw({ ...pw, repeat: e.target.value })} /></Field>
              <div className="modal-actions"><button type="button" className="btn" onClick={() => setPw(null)}>Cancel</button><button type="submit" className="btn primary" disabled={setPassword.isPending || pw.password.length < 8 || pw.repeat !== pw.password || (own && !pw.current_password)}>Save</button></div>
            </form>
          );
        })()}
      </Modal>
    </Card>
  );
}

function Keys() {
  const keys = useQuery({ queryKey: ["auth", "keys"], queryFn: () => get<ApiKey[]>("auth/keys") });
  const confirm = useConfirm();
  const [secret, setSecret] = useState<string | null>(null);
  const [form, setForm] = useState({ name: "", role: "", expires_days: "" });
  const [checked, setChecked] = useState(false);
  const create = useOptimisticMutation<{ name: string; role: string | null; expires_days: number | null }, ApiKey[], ApiKey & { key: string }>({
    mutationFn: (b) => post("auth/keys", b),
    queryKey: ["auth", "keys"],
    onSuccess: (k) => setSecret(k.key),
  });
  const revoke = useOptimisticMutation<string, ApiKey[]>({
    mutationFn: (id) => del(`auth/keys/${encodeURIComponent(id)}`),
    queryKey: ["auth", "keys"],
    update: (old, id) => old?.map((k) => (k.id === id ? { ...k, revoked: true } : k)),
    success: "Key revoked",
  });
  const serverErrs = createErrors(create.error, { invalid_role: "role" });
  const days = form.expires_days.trim();
  const mine = {
    name: form.name.trim() === "" ? "Enter a name for the key." : form.name.length > 64 ? "Use at most 64 characters." : undefined,
    expires_days: days !== "" && !(/^\d+$/.test(days) && Number(days) >= 1 && Number(days) <= 3650) ? "Enter a whole number of days from 1 to 3650." : undefined,
  };
  const errs = {
    name: (checked || form.name.length > 64 ? mine.name : undefined) ?? serverErrs.name,
    expires_days: mine.expires_days ?? serverErrs.expires_days,
    role: serverErrs.role,
  };
  return (
    <Card title="API keys">
      <QueryState q={keys} empty={(d) => d.length === 0 && "No API keys."}>
        {(list) => (
          <table>
            <thead><tr><th>Name</th><th>User</th><th>Role</th><th>Created</th><th>Expires</th><th>Last used</th><th>State</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td><td>{k.username}</td><td>{k.role}</td><td>{when(k.created_at)}</td><td>{when(k.expires_at)}</td><td>{when(k.last_used_at)}</td>
                <td><Badge value={k.revoked ? "revoked" : "active"} /></td>
                <td>{!k.revoked && <button type="button" className="btn small danger" onClick={async () => {
                  if (await confirm({ title: "Revoke key?", message: <>Scripts using <b>{k.name}</b> stop working at once.</>, confirmText: "Revoke", danger: true })) revoke.mutate(k.id);
                }}>Revoke</button>}</td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </QueryState>
      <form className="inline" style={{ alignItems: "flex-start" }} aria-label="new API key" noValidate onSubmit={(e) => {
        e.preventDefault();
        setChecked(true);
        if (mine.name || mine.expires_days) return;
        create.mutate({ name: form.name, role: form.role || null, expires_days: days ? Number(days) : null }, { onSuccess: () => { setForm({ name: "", role: "", expires_days: "" }); setChecked(false); } });
      }}>
        <label className="field">
          <input aria-label="key name" name="key-name" placeholder="key name" autoComplete="off" value={form.name} aria-invalid={!!errs.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          <Under rule={KEY_RULES.name} error={errs.name} />
        </label>
        <label className="field">
          <select aria-label="key role" value={form.role} aria-invalid={!!errs.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
            <option value="">my role</option><option value="readonly">readonly</option><option value="admin">admin</option>
          </select>
          <Under rule="a key cannot do more than you" error={errs.role} />
        </label>
        <label className="field">
          <input aria-label="expires in days" name="expires-days" placeholder="expires (days)" style={{ width: "9em" }} inputMode="numeric" value={form.expires_days} aria-invalid={!!errs.expires_days} onChange={(e) => setForm({ ...form, expires_days: e.target.value })} />
          <Under rule={KEY_RULES.expires} error={errs.expires_days} />
        </label>
        <button type="submit" className="btn primary small" disabled={create.isPending}>Create key</button>
      </form>
      <Modal open={!!secret} title="New API key" onClose={() => setSecret(null)}>
        <p>Copy it now: it is not shown again.</p>
        <pre className="json" data-testid="api-key-secret">{secret}</pre>
        <div className="modal-actions">
          <button type="button" className="btn" onClick={() => void navigator.clipboard?.writeText(secret ?? "")}>Copy</button>
          <button type="button" className="btn primary" onClick={() => setSecret(null)}>Done</button>
        </div>
      </Modal>
    </Card>
  );
}

export default function Settings() {
  return (
    <div className="page">
      <h1>Users & API keys</h1>
      <Users />
      <Keys />
      <BackupCard />
    </div>
  );
}
