import { useState } from "react";
import { Field, FieldError } from "./ui";
import { NFS_CLIENT_RULE, nfsClientProblem, type NfsAccess, type NfsClient, type NfsOptions, type Squash } from "../hooks/useNfs";
import type { NasUser } from "../hooks/useShares";

export const NFS_DEFAULTS: NfsOptions = { clients: null, squash: "root", anon_user: null, snapshots: false };

/** The problems the form can see before sending, keyed like the server's ("options.nfs.clients.0.host"). */
export function nfsProblems(o: NfsOptions): Record<string, string> {
  const out: Record<string, string> = {};
  (o.clients ?? []).forEach((c, i) => {
    const p = nfsClientProblem(c.host);
    if (p) out[`options.nfs.clients.${i}.host`] = p;
  });
  if (o.squash === "all" && !o.anon_user) out["options.nfs.anon_user"] = "Choose the NAS user every request acts as.";
  return out;
}

/** `options.nfs` as the API takes it: no rows = the default clients, hosts trimmed, no user unless squashed. */
export function cleanNfs(o: NfsOptions): NfsOptions {
  const clients = (o.clients ?? []).map((c) => ({ host: c.host.trim(), access: c.access }));
  const squash = o.squash ?? "root";
  const out: NfsOptions = { clients: clients.length ? clients : null, squash, anon_user: squash === "none" ? null : o.anon_user || null, snapshots: !!o.snapshots };
  if (o.pseudo) out.pseudo = o.pseudo;
  return out;
}

const SQUASH: Record<Squash, string> = {
  none: "None: clients' user ids are used as they are",
  root: "Root → anonymous: a client's root acts as the anonymous user",
  all: "All → one NAS user: every request acts as the user chosen below",
};

/** The NFS part of the share editor: who may mount (host, CIDR or wildcard, read-write or
 * read-only each), squash and its NAS user, snapshots. `errors` are the form's field errors. */
export function NfsSection({ share, value, onChange, users, hostsAllow, errors }: {
  share: string;
  value: NfsOptions;
  onChange: (v: NfsOptions) => void;
  users: NasUser[];
  hostsAllow: string[];
  errors: Record<string, string>;
}) {
  const [touched, setTouched] = useState<Set<number>>(new Set());
  const clients = value.clients ?? [];
  const squash = value.squash ?? "root";
  const set = (o: Partial<NfsOptions>) => onChange({ ...value, ...o });
  const setRow = (i: number, c: Partial<NfsClient>) => set({ clients: clients.map((x, j) => (j === i ? { ...x, ...c } : x)) });
  const removeRow = (i: number) => {
    set({ clients: clients.filter((_, j) => j !== i) });
    setTouched(new Set([...touched].filter((j) => j !== i).map((j) => (j > i ? j - 1 : j))));
  };
  const rowError = (i: number) => errors[`options.nfs.clients.${i}.host`] ?? errors[`options.nfs.clients.${i}`] ?? (touched.has(i) ? nfsClientProblem(clients[i]!.host) : null);
  const sub = (k: string) => Object.keys(errors).some((e) => e.startsWith(`options.nfs.${k}`));
  const listError = errors["options.nfs.clients"] && !sub("clients.") ? errors["options.nfs.clients"] : null;
  const sectionError = errors["options.nfs"] && !sub("") ? errors["options.nfs"] : null;
  const anonNeeded = squash !== "none";
  return (
    <fieldset className={`field picker${sectionError ? " invalid" : ""}`} data-testid="nfs-section">
      <legend className="field-label">Linux and Unix (NFS)</legend>
      <fieldset className={`field${listError ? " invalid" : ""}`} style={{ margin: 0 }}>
        <legend className="field-label">Computers that may mount it</legend>
        {clients.length === 0 ? (
          <p className="muted" style={{ margin: 0 }} data-testid="nfs-clients-default">
            No list: {hostsAllow.length ? <>the computers under “Only these computers may connect” ({hostsAllow.join(", ")}), read-write.</> : <>every computer, read-write.</>} Add rows to choose.
          </p>
        ) : (
          <table>
            <thead><tr><th>Computer or network</th><th>Access</th><th><span className="sr-only">Remove</span></th></tr></thead>
            <tbody>
              {clients.map((c, i) => {
                const err = rowError(i);
                return (
                  <tr key={i}>
                    <td>
                      <input aria-label={`NFS client ${i + 1}`} value={c.host} placeholder="192.168.1.0/24" aria-invalid={!!err}
                        onChange={(e) => setRow(i, { host: e.target.value })} onBlur={() => setTouched(new Set(touched).add(i))} />
                      <FieldError error={err} />
                    </td>
                    <td>
                      <select aria-label={`Access for NFS client ${i + 1}`} value={c.access} onChange={(e) => setRow(i, { access: e.target.value as NfsAccess })}>
                        <option value="rw">Read & write</option>
                        <option value="ro">Read-only</option>
                      </select>
                    </td>
                    <td><button type="button" className="btn small" aria-label={`Remove NFS client ${i + 1}`} onClick={() => removeRow(i)}>Remove</button></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <div className="inline" style={{ margin: 0 }}>
          <button type="button" className="btn small" onClick={() => set({ clients: [...clients, { host: "", access: "rw" }] })}>Add a computer or network</button>
        </div>
        <span className="hint">{NFS_CLIENT_RULE} The first matching row decides; “These computers may never connect” is refused first either way.</span>
        <FieldError error={listError} />
      </fieldset>
      <Field label="Squash (whose files NFS requests act as)" error={errors["options.nfs.squash"]}
        hint="Files are still governed by the access list above, by user id.">
        <select value={squash} onChange={(e) => set({ squash: e.target.value as Squash })}>
          {(Object.keys(SQUASH) as Squash[]).map((s) => <option key={s} value={s}>{SQUASH[s]}</option>)}
        </select>
      </Field>
      {anonNeeded && (
        <Field label={squash === "all" ? "NAS user every request acts as" : "Anonymous user (optional)"} error={errors["options.nfs.anon_user"]}
          hint={squash === "all" ? "Required: everything arrives as this user." : "Empty: nobody (uid 65534)."}>
          <select value={value.anon_user ?? ""} onChange={(e) => set({ anon_user: e.target.value || null })} aria-invalid={!!errors["options.nfs.anon_user"]}>
            <option value="">{squash === "all" ? "choose a user…" : "nobody (65534)"}</option>
            {users.map((u) => <option key={u.name} value={u.name}>{u.name}{u.full_name ? ` (${u.full_name})` : ""}{u.enabled ? "" : " – disabled"}</option>)}
          </select>
        </Field>
      )}
      <label className="check"><input type="checkbox" checked={!!value.snapshots} onChange={(e) => set({ snapshots: e.target.checked })} /> Snapshots browsable at <code>/.snapshots/{share || "<share>"}</code> (read-only)</label>
      <FieldError error={errors["options.nfs.snapshots"] ?? errors["options.nfs.pseudo"] ?? sectionError} />
    </fieldset>
  );
}
