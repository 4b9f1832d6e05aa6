import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { toast } from "sonner";
import { Badge, Card, Field, FieldError, Modal, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { LocationPicker, locationLabel, type PickedLocation } from "../components/FilePicker";
import { NFS_DEFAULTS, NfsSection, cleanNfs, nfsProblems } from "../components/NfsSection";
import { NfsClientsCard, NfsServerState } from "../components/NfsStatus";
import { useCapabilities } from "../hooks/useCapabilities";
import { useNfsEvents, type NfsOptions, type NfsShareBody } from "../hooks/useNfs";
import {
  accessHeadline, accessSummary, HOST_RULE, hostProblem, LEVELS, plainReason, plainShareError, SHARE_NAME_RULE, shareFieldErrors,
  useAccess, useCreateShare, useDeleteShare, useDisconnect, useNasGroups, useNasUsers, useShareEvents, useShares, useSmbSessions,
  useSmbStatus, useUpdateShare, type AccessEntry, type Level, type NasGroup, type NasUser, type Share, type SmbOptions,
} from "../hooks/useShares";

const LEVEL_LABEL: Record<Level, string> = { none: "No access", read: "Read", write: "Read & write", full: "Full control" };

// --- the access editor ----------------------------------------------------------------------------

/** Who may do what on a share: users and groups picked from the accounts, a level each, and
 * "everyone else". No names are typed. `errors` are the form's field errors ("access.1.name"). */
export function AccessEditor({ value, onChange, users, groups, errors = {} }: {
  value: AccessEntry[];
  onChange: (v: AccessEntry[]) => void;
  users: NasUser[];
  groups: NasGroup[];
  errors?: Record<string, string>;
}) {
  const named = value.map((e, i) => ({ e, i })).filter(({ e }) => e.kind !== "everyone");
  const everyone = value.find((e) => e.kind === "everyone");
  const has = (kind: string, name: string) => value.some((e) => e.kind === kind && e.name === name);
  const freeUsers = users.filter((u) => !has("user", u.name));
  const freeGroups = groups.filter((g) => !has("group", g.name));
  const add = (kind: "user" | "group", name: string) => {
    if (!name) return;
    const others = value.filter((e) => e.kind !== "everyone");
    onChange([...others, { kind, name, level: "read" }, ...(everyone ? [everyone] : [])]);
  };
  const setLevel = (i: number, level: Level) => onChange(value.map((e, j) => (j === i ? { ...e, level } : e)));
  const setEveryone = (level: Level) => {
    const others = value.filter((e) => e.kind !== "everyone");
    onChange(level === "none" ? others : [...others, { kind: "everyone", name: null, level }]);
  };
  return (
    <fieldset className={`field picker${errors.access ? " invalid" : ""}`} data-testid="access-editor">
      <legend className="field-label">Who has access</legend>
      {named.length === 0 ? <p className="muted" style={{ margin: 0 }}>Nobody is on the list yet: add users or groups below.</p> : (
        <table>
          <thead><tr><th>Who</th><th>Access</th><th><span className="sr-only">Remove</span></th></tr></thead>
          <tbody>
            {named.map(({ e, i }) => (
              <tr key={`${e.kind}:${e.name}`}>
                <td>{e.kind === "group" ? <>group <strong>{e.name}</strong></> : <strong>{e.name}</strong>}
                  <FieldError error={errors[`access.${i}.name`] ?? errors[`access.${i}`]} /></td>
                <td>
                  <select aria-label={`Access for ${e.kind === "group" ? "group " : ""}${e.name}`} value={e.level} onChange={(ev) => setLevel(i, ev.target.value as Level)}>
                    {LEVELS.map((l) => <option key={l} value={l}>{LEVEL_LABEL[l]}</option>)}
                  </select>
                </td>
                <td><button type="button" className="btn small" onClick={() => onChange(value.filter((_, j) => j !== i))} aria-label={`Remove ${e.kind === "group" ? "group " : ""}${e.name}`}>Remove</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="inline">
        <label>Add a user{" "}
          <select aria-label="Add a user" value="" onChange={(ev) => add("user", ev.target.value)} disabled={freeUsers.length === 0}>
            <option value="">{users.length === 0 ? "no users yet" : freeUsers.length ? "choose…" : "all listed"}</option>
            {freeUsers.map((u) => <option key={u.name} value={u.name}>{u.name}{u.full_name ? ` (${u.full_name})` : ""}{u.enabled ? "" : " – disabled"}</option>)}
          </select>
        </label>
        <label>Add a group{" "}
          <select aria-label="Add a group" value="" onChange={(ev) => add("group", ev.target.value)} disabled={freeGroups.length === 0}>
            <option value="">{groups.length === 0 ? "no groups yet" : freeGroups.length ? "choose…" : "all listed"}</option>
            {freeGroups.map((g) => <option key={g.name} value={g.name}>{g.name} ({g.members.length} member{g.members.length === 1 ? "" : "s"})</option>)}
          </select>
        </label>
      </div>
      <label className="inline" style={{ margin: 0 }}>Everyone else (any account not listed above){" "}
        <select aria-label="Access for everyone else" value={everyone?.level ?? "none"} onChange={(ev) => setEveryone(ev.target.value as Level)}>
          {LEVELS.map((l) => <option key={l} value={l}>{LEVEL_LABEL[l]}</option>)}
        </select>
      </label>
      <span className="hint">A person's own entry decides alone; otherwise their best group counts; otherwise “everyone else”. {users.length === 0 && <Link to="/accounts">Create users and groups first.</Link>}</span>
      <FieldError error={errors.access && !Object.keys(errors).some((k) => /^access\.\d/.test(k)) ? errors.access : null} />
    </fieldset>
  );
}

// --- "can bob write here?" --------------------------------------------------------------------

const GUEST = "__guest__"; // no account name starts with "_"

/** Pick a user (or a guest) and see what they may do on the share, with the reasons in words. */
export function ExplainPanel({ share, users }: { share: string; users: NasUser[] }) {
  const [who, setWho] = useState("");
  const user = who === GUEST ? null : who;
  const q = useAccess(share, user, who !== "");
  const name = user ?? "a guest";
  return (
    <section aria-label="Check access" data-testid="explain-panel">
      <label className="field">
        <span className="field-label">Can this person write here?</span>
        <select value={who} onChange={(e) => setWho(e.target.value)} aria-label="Check access for">
          <option value="">choose a user…</option>
          {users.map((u) => <option key={u.name} value={u.name}>{u.name}{u.full_name ? ` (${u.full_name})` : ""}</option>)}
          <option value={GUEST}>a guest (no account)</option>
        </select>
      </label>
      {who !== "" && (q.isLoading ? <p className="muted" role="status">Checking…</p>
        : q.error ? <p className="form-error" role="alert">Could not check: {plainShareError(q.error)}</p>
        : q.data && (
          <div data-testid="access-answer" aria-live="polite">
            <p style={{ fontSize: "1.05rem", margin: "4px 0 8px" }}>
              <strong>Can {name} write here? {q.data.access === "write" ? "Yes" : "No"}</strong>
              {" — "}<span data-testid="access-headline">{accessHeadline(q.data, user ?? "a guest")}</span>.
            </p>
            <p className="muted" style={{ margin: "0 0 4px" }}>How SigmaVault decided:</p>
            <ol data-testid="access-reasons" style={{ margin: 0 }}>
              {q.data.reasons.map((r, i) => <li key={i}>{plainReason(r, user ?? "A guest")}</li>)}
            </ol>
          </div>
        ))}
    </section>
  );
}

// --- list inputs (hosts allow / deny) ----------------------------------------------------------

function HostList({ label, value, onChange, error, errors }: { label: string; value: string[]; onChange: (v: string[]) => void; error?: string; errors: Record<string, string> }) {
  const [draft, setDraft] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const addOne = () => {
    const p = hostProblem(draft);
    if (p) return setProblem(p);
    if (value.includes(draft.trim())) return setProblem("Already on the list.");
    onChange([...value, draft.trim()]);
    setDraft("");
    setProblem(null);
  };
  const field = label.toLowerCase().includes("deny") ? "hosts_deny" : "hosts_allow";
  return (
    <fieldset className={`field${error || problem ? " invalid" : ""}`}>
      <legend className="field-label">{label}</legend>
      {value.length > 0 && (
        <ul className="plain">
          {value.map((h, i) => (
            <li key={h} className="inline" style={{ margin: 0 }}>
              <code>{h}</code>
              <button type="button" className="btn small" aria-label={`Remove ${h} from ${label.toLowerCase()}`} onClick={() => onChange(value.filter((x) => x !== h))}>Remove</button>
              <FieldError error={errors[`${field}.${i}`]} />
            </li>
          ))}
        </ul>
      )}
      <div className="inline" style={{ margin: 0 }}>
        <input aria-label={`${label}: new entry`} value={draft} aria-invalid={!!problem} placeholder="192.168.1.0/24"
          onChange={(e) => { setDraft(e.target.value); setProblem(null); }}
          onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); addOne(); } }} />
        <button type="button" className="btn small" onClick={addOne}>Add</button>
      </div>
      <span className="hint">{HOST_RULE}</span>
      <FieldError error={problem ?? (error && !Object.keys(errors).some((k) => k.startsWith(`${field}.`)) ? error : null)} />
    </fieldset>
  );
}

// --- the share form -------------------------------------------------------------------------------

function emptyShare(protocols: string[] = ["smb"]): NfsShareBody {
  return {
    name: "", pool: "", volume: "", subfolder: null, description: "", enabled: true, read_only: false, guest_ok: false, browseable: true,
    hosts_allow: [], hosts_deny: [], protocols, access: [], options: { smb: { encryption: null, recycle: false, time_machine: false, time_machine_max_size: null, previous_versions: true } },
  };
}

const PROTOCOLS = [{ id: "smb", label: "SMB (Windows, macOS, Linux)" }, { id: "nfs", label: "NFS (Linux and Unix)" }];

function ShareForm({ initial, onDone, offered }: { initial: Share | null; onDone: () => void; offered: string[] }) {
  const editing = !!initial;
  const [f, setF] = useState<NfsShareBody>(() => (initial ? { ...emptyShare(), ...initial, options: { ...initial.options, smb: { ...emptyShare().options.smb, ...initial.options.smb } } } : emptyShare(offered.length ? offered.slice(0, 1) : ["smb"])));
  const [place, setPlace] = useState<PickedLocation | null>(initial ? { pool: initial.pool, volume: initial.volume, path: initial.subfolder ?? "", type: "dir" } : null);
  const [local, setLocal] = useState<Record<string, string>>({});
  const users = useNasUsers();
  const groups = useNasGroups();
  const create = useCreateShare();
  const update = useUpdateShare();
  const m = editing ? update : create;
  const errs = { ...shareFieldErrors(m.error), ...local };
  const general = plainShareError(m.error, shareFieldErrors(m.error));
  const smb = f.options.smb ?? {};
  const setSmb = (o: Partial<SmbOptions>) => setF({ ...f, options: { ...f.options, smb: { ...smb, ...o } } });
  const nfsOn = f.protocols.includes("nfs");
  const nfs: NfsOptions = { ...NFS_DEFAULTS, ...f.options.nfs };
  const setNfs = (o: NfsOptions) => setF({ ...f, options: { ...f.options, nfs: o } });
  const setProtocol = (p: string, on: boolean) => setF({ ...f, protocols: on ? [...f.protocols.filter((x) => x !== p), p] : f.protocols.filter((x) => x !== p) });
  const tmSize = /^(\d+)([KMGT])$/.exec(smb.time_machine_max_size ?? "") ?? null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const problems: Record<string, string> = {};
    if (!editing && !f.name.trim()) problems.name = "Give the share a name: people see it when they connect.";
    if (!place) problems.place = "Choose where the files are: a pool, a volume, then “Choose this folder”.";
    if (smb.time_machine && smb.time_machine_max_size && !/^[1-9]\d{0,5}[KMGT]$/.test(smb.time_machine_max_size)) problems["options.smb.time_machine_max_size"] = "Enter a whole number above 0.";
    if (nfsOn) Object.assign(problems, nfsProblems(nfs));
    setLocal(problems);
    if (Object.keys(problems).length || !place) return;
    const { path: _path, ...fields } = f as NfsShareBody & { path?: string | null }; // read-only, refused in an update
    const body: NfsShareBody = { ...fields, name: f.name.trim(), pool: place.pool, volume: place.volume, subfolder: place.path || null };
    const cleanSmb: SmbOptions = { ...smb };
    if (!cleanSmb.time_machine) cleanSmb.time_machine_max_size = null;
    const { nfs: _nfs, ...others } = f.options;
    const keptNfs = nfsOn ? cleanNfs(nfs) : initial && "nfs" in initial.options ? (initial.options as NfsShareBody["options"]).nfs : undefined;
    body.options = { ...others, smb: cleanSmb, ...(keptNfs ? { nfs: keptNfs } : {}) };
    m.mutate(body, {
      onSuccess: (s) => {
        toast.success(editing ? `Share ${s.name} saved` : `Share ${s.name} created`);
        onDone();
      },
    });
  };
  const placeError = errs.place ?? errs.pool ?? errs.volume ?? errs.subfolder;
  // after a refused submit, bring the first marked field into view (the dialog scrolls)
  const formRef = useRef<HTMLFormElement>(null);
  const problems = Object.values(errs).filter(Boolean).length;
  useEffect(() => {
    if (problems) formRef.current?.querySelector(".field.invalid, [aria-invalid=\"true\"]")?.scrollIntoView?.({ block: "center" });
  }, [problems, m.error]);
  return (
    <form ref={formRef} onSubmit={submit} noValidate className="form-grid" aria-label={editing ? `edit share ${initial.name}` : "new share"}>
      {!editing && (
        <Field label="Name" hint={<>What people see in their file browser. {SHARE_NAME_RULE}</>} error={errs.name}>
          <input autoFocus value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} aria-invalid={!!errs.name} />
        </Field>
      )}
      <LocationPicker label="Shared folder" name="share-folder" accept="dir" value={place} onChange={(l) => { setPlace(l); setLocal((x) => ({ ...x, place: "" })); }}
        hint="A whole volume, or a folder inside it. Existing files keep their content; their permissions follow the access list below." error={placeError || null} />
      <Field label="Description (optional)" error={errs.description} hint="Shown next to the share name on some computers.">
        <input value={f.description} onChange={(e) => setF({ ...f, description: e.target.value })} />
      </Field>
      <AccessEditor value={f.access} onChange={(access) => setF({ ...f, access })} users={users.data ?? []} groups={groups.data ?? []} errors={errs} />
      <fieldset className="field picker">
        <legend className="field-label">Options</legend>
        <label className="check"><input type="checkbox" checked={f.enabled} onChange={(e) => setF({ ...f, enabled: e.target.checked })} /> Enabled (switched off: nobody can connect)</label>
        <label className="check"><input type="checkbox" checked={f.read_only} onChange={(e) => setF({ ...f, read_only: e.target.checked })} /> Read-only for everybody</label>
        <label className="check"><input type="checkbox" checked={f.guest_ok} onChange={(e) => setF({ ...f, guest_ok: e.target.checked })} /> Guest access (people without an account get what “everyone else” gets)</label>
        <label className="check"><input type="checkbox" checked={f.browseable} onChange={(e) => setF({ ...f, browseable: e.target.checked })} /> Listed when people browse this server</label>
        <FieldError error={errs.enabled ?? errs.read_only ?? errs.guest_ok ?? errs.browseable} />
      </fieldset>
      <div className="grid2" style={{ gap: 12 }}>
        <HostList label="Only these computers may connect" value={f.hosts_allow} onChange={(hosts_allow) => setF({ ...f, hosts_allow })} error={errs.hosts_allow} errors={errs} />
        <HostList label="These computers may never connect (hosts deny)" value={f.hosts_deny} onChange={(hosts_deny) => setF({ ...f, hosts_deny })} error={errs.hosts_deny} errors={errs} />
      </div>
      {offered.length > 0 && (
        <fieldset className={`field picker${errs.protocols ? " invalid" : ""}`}>
          <legend className="field-label">Served over</legend>
          <div className="inline" style={{ margin: 0 }}>
            {PROTOCOLS.filter((p) => offered.includes(p.id) || f.protocols.includes(p.id)).map((p) => (
              <label key={p.id} className="check"><input type="checkbox" checked={f.protocols.includes(p.id)} onChange={(e) => setProtocol(p.id, e.target.checked)} /> {p.label}</label>
            ))}
          </div>
          <FieldError error={errs.protocols} />
        </fieldset>
      )}
      {f.protocols.includes("smb") && <fieldset className="field picker">
        <legend className="field-label">Windows and Mac (SMB)</legend>
        <Field label="Encryption" error={errs["options.smb.encryption"]} hint="“Required” keeps out old clients and guests.">
          <select value={smb.encryption ?? ""} onChange={(e) => setSmb({ encryption: (e.target.value || null) as SmbOptions["encryption"] })}>
            <option value="">Server default (when the client asks)</option>
            <option value="off">Off</option>
            <option value="desired">Desired (encrypt when the client can)</option>
            <option value="required">Required (refuse clients that cannot)</option>
          </select>
        </Field>
        <label className="check"><input type="checkbox" checked={!!smb.recycle} onChange={(e) => setSmb({ recycle: e.target.checked })} /> Recycle bin (deleted files go to a .recycle folder)</label>
        <label className="check"><input type="checkbox" checked={smb.previous_versions !== false} onChange={(e) => setSmb({ previous_versions: e.target.checked })} /> Previous Versions (the volume's snapshots in Windows' “Restore previous versions”)</label>
        <label className="check"><input type="checkbox" checked={!!smb.time_machine} onChange={(e) => setSmb({ time_machine: e.target.checked })} /> Time Machine backups from Macs</label>
        {smb.time_machine && (
          <Field label="Time Machine: largest size (optional)" error={errs["options.smb.time_machine_max_size"]} hint="Empty: no limit. Whole number, e.g. 500 GB.">
            <span className="inline" style={{ margin: 0 }}>
              <input type="text" inputMode="numeric" aria-label="Time Machine largest size" style={{ width: "8em" }} value={tmSize?.[1] ?? (smb.time_machine_max_size ?? "").replace(/[KMGT]$/, "")}
                onChange={(e) => { const n = e.target.value.trim(); setSmb({ time_machine_max_size: n ? `${n}${tmSize?.[2] ?? "G"}` : null }); }} />
              <select aria-label="Time Machine size unit" value={tmSize?.[2] ?? "G"} onChange={(e) => { const n = tmSize?.[1]; setSmb({ time_machine_max_size: n ? `${n}${e.target.value}` : null }); }}>
                <option value="M">MB</option><option value="G">GB</option><option value="T">TB</option>
              </select>
            </span>
          </Field>
        )}
        <FieldError error={errs["options.smb"] && !Object.keys(errs).some((k) => k.startsWith("options.smb.")) ? errs["options.smb"] : null} />
      </fieldset>}
      {nfsOn && offered.includes("nfs") && (
        <NfsSection share={f.name.trim() || initial?.name || ""} value={nfs} onChange={setNfs} users={users.data ?? []} hostsAllow={f.hosts_allow} errors={errs} />
      )}
      {general && <p className="form-error" role="alert">{general}</p>}
      {!general && problems > 0 && <p className="form-error">Some fields need attention: they are marked in red above.</p>}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={m.isPending}>{m.isPending ? "Saving…" : editing ? "Save share" : "Create share"}</button>
      </div>
    </form>
  );
}

// --- the page ---------------------------------------------------------------------------------------

/** "ipv4:192.168.1.20:51234" → "192.168.1.20" */
function remoteHost(r: string): string {
  const m = /^ipv[46]:(.*?)(?::\d+)?$/.exec(r);
  return (m?.[1] ?? r).replace(/^\[(.*)\]$/, "$1");
}

function ServiceBanner({ shares }: { shares: number }) {
  const status = useSmbStatus();
  if (!status.data) return null;
  const s = status.data;
  if (!s.enabled) {
    return <div className="card state error" role="alert" data-testid="smb-banner"><strong>SMB sharing is switched off</strong> in the daemon's configuration (<code>[smb] enabled</code>): no computer can connect to these shares.</div>;
  }
  if (!s.running && shares > 0) {
    return <div className="card state error" role="alert" data-testid="smb-banner"><strong>The SMB service is down.</strong> Computers cannot connect to the shares right now. SigmaVault restarts it by itself; if this stays, look at the alerts on the Dashboard.</div>;
  }
  return (
    <p className="inline" data-testid="smb-state">
      SMB service: <Badge value={s.running ? "running" : "idle"} />
      <span className="muted">{s.running ? `port ${s.port}${s.version ? `, ${s.version.replace(/^Version /, "Samba ")}` : ""}${s.restarts ? `, restarted ${s.restarts}×` : ""}` : "starts with the first share"}</span>
    </p>
  );
}

function Clients({ enabled }: { enabled: boolean }) {
  const sessions = useSmbSessions(enabled);
  const disconnect = useDisconnect();
  const confirm = useConfirm();
  if (!enabled) return null;
  return (
    <Card title="Connected computers">
      <QueryState q={sessions} empty={(d) => d.sessions.length === 0 && "Nobody is connected right now."}>
        {(d) => (
          <div style={{ overflowX: "auto" }}>
            <table>
              <thead><tr><th>User</th><th>From</th><th>Shares open</th><th>Protocol</th><th>Encrypted</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>{d.sessions.map((s) => (
                <tr key={s.session_id}>
                  <td>{s.username || "guest"}</td><td>{remoteHost(s.remote)}</td><td>{s.shares.join(", ") || "—"}</td><td>{s.dialect}</td><td>{s.encryption && s.encryption !== "-" ? s.encryption : "no"}</td>
                  <td className="actions"><button type="button" className="btn small danger needs-admin" onClick={async () => {
                    if (await confirm({ title: "Disconnect this computer?", message: <>Every session from <b>{s.remote}</b> ends; unsaved work in open files may be lost.</>, confirmText: "Disconnect", danger: true })) disconnect.mutate(s.session_id);
                  }}>Disconnect</button></td>
                </tr>
              ))}</tbody>
            </table>
          </div>
        )}
      </QueryState>
    </Card>
  );
}

export default function Shares() {
  const caps = useCapabilities();
  const hasSmb = caps.has("/smb/status");
  const hasNfs = caps.has("/nfs/status");
  const offered = [...(hasSmb ? ["smb"] : []), ...(hasNfs ? ["nfs"] : [])];
  useShareEvents();
  useNfsEvents(hasNfs);
  const shares = useShares();
  const users = useNasUsers();
  const sessions = useSmbSessions(hasSmb);
  const remove = useDeleteShare();
  const confirm = useConfirm();
  const [form, setForm] = useState<{ share: Share | null } | null>(null);
  const [check, setCheck] = useState<string | null>(null);
  const clientsOf = (name: string) => (sessions.data?.sessions ?? []).filter((s) => s.shares.includes(name));
  useEffect(() => { if (check && shares.data && !shares.data.some((s) => s.name === check)) setCheck(null); }, [check, shares.data]);
  return (
    <div className="page">
      <h1>Shares</h1>
      <p className="muted">Folders of your volumes that computers on the network open as network drives (SMB: Windows, macOS, Linux; NFS: Linux and Unix). People connect with the accounts on <Link to="/accounts">Share accounts</Link>.</p>
      {hasSmb && <ServiceBanner shares={shares.data?.length ?? 0} />}
      {hasNfs && <NfsServerState shares={shares.data?.filter((s) => s.protocols.includes("nfs")).length ?? 0} />}
      <Card title="Shares" actions={<button type="button" className="btn primary small needs-admin" onClick={() => setForm({ share: null })}>New share</button>}>
        <QueryState q={shares} empty={(d) => d.length === 0 && "No shares yet. Create one from a volume with “New share”."}>
          {(list) => (
            <ul className="plain" aria-label="Shares">
              {list.map((s) => {
                const clients = clientsOf(s.name);
                return (
                  <li key={s.name} data-testid={`share-${s.name}`} style={{ display: "grid", gridTemplateColumns: "repeat(auto-fit, minmax(190px, 1fr))", gap: "6px 18px", alignItems: "start", padding: "10px 0" }}>
                    <div>
                      <strong style={{ fontSize: "1.05rem" }}>{s.name}</strong>{" "}
                      {s.enabled ? <Badge value="active" /> : <Badge value="disabled" />}{s.read_only && <> <Badge value="read-only" /></>}{s.guest_ok && <> <Badge value="guests allowed" /></>}
                      {s.description && <><br /><small className="muted">{s.description}</small></>}
                      <br /><small className="muted">{s.protocols.map((p) => p.toUpperCase()).join(", ")} · </small>
                      <small className="muted" data-testid="share-folder">{locationLabel({ pool: s.pool, volume: s.volume, path: s.subfolder ?? "", type: "dir" })}</small>
                      {s.path === null && <><br /><Badge value="missing" /> <small className="muted">its volume is gone</small></>}
                    </div>
                    <div><small className="muted">Who has access</small><br /><span data-testid="access-summary">{accessSummary(s)}</span></div>
                    <div data-testid="share-clients"><small className="muted">Connected now</small><br />{clients.length === 0 ? <span className="muted">nobody</span> : clients.map((c) => `${c.username || "guest"} (${remoteHost(c.remote)})`).join(", ")}</div>
                    <div className="inline" style={{ margin: 0, justifyContent: "flex-end" }}>
                      <button type="button" className="btn small" onClick={() => setCheck(s.name)}>Check access</button>
                      <button type="button" className="btn small needs-admin" onClick={() => setForm({ share: s })}>Edit</button>
                      <button type="button" className="btn small danger needs-admin" onClick={async () => {
                        if (await confirm({ title: `Delete share ${s.name}?`, message: <>Computers can no longer open <b>{s.name}</b>{clients.length ? `, and ${clients.length} connected client(s) lose it` : ""}. The folder and its files stay on the volume.</>, confirmText: "Delete share", danger: true })) remove.mutate(s.name);
                      }}>Delete</button>
                    </div>
                  </li>
                );
              })}
            </ul>
          )}
        </QueryState>
      </Card>
      {check && (
        <Card title={`Who can do what on ${check}`} actions={<button type="button" className="btn small" onClick={() => setCheck(null)}>Close</button>}>
          <ExplainPanel share={check} users={users.data ?? []} />
        </Card>
      )}
      <Clients enabled={hasSmb} />
      {hasNfs && <NfsClientsCard />}
      <Modal open={!!form} title={form?.share ? `Edit share ${form.share.name}` : "New share"} onClose={() => setForm(null)}>
        {form && <ShareForm initial={form.share} offered={offered} onDone={() => setForm(null)} />}
      </Modal>
    </div>
  );
}
