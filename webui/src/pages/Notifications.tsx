import { useState, type FormEvent, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import { toast } from "sonner";
import { Badge, Card, Field, Modal, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { useMe } from "../hooks/useAuth";
import {
  MASK, SEVERITIES, useAck, useAckAll, useChannels, useDeleteChannel, useDeleteRule, useDeliveries, useNotifications,
  useRules, useSaveChannel, useSaveRule, useSaveThresholds, useSources, useTestChannel, useThresholds,
  type Channel, type ChannelBody, type EmailSettings, type Rule, type RuleBody, type Severity, type TestResult,
  type Thresholds,
} from "../hooks/useNotifications";
import { errorMessage } from "../lib/api";
import { fieldErrors } from "../lib/errors";
import { ago, when } from "../lib/format";
import { NotificationLine } from "../components/NotificationCentre";

type Tab = "centre" | "channels" | "rules" | "deliveries";
const TABS: [Tab, string][] = [["centre", "Notifications"], ["channels", "Channels"], ["rules", "Rules"], ["deliveries", "Delivery history"]];
const isTab = (v: string | null): v is Tab => TABS.some(([id]) => id === v);
const PAGE = 25;

function Tabs({ tab, setTab }: { tab: Tab; setTab: (t: Tab) => void }) {
  return (
    <div className="inline" role="tablist" aria-label="Notifications sections">
      {TABS.map(([id, label]) => (
        <button key={id} type="button" role="tab" aria-selected={tab === id} className={`btn${tab === id ? " primary" : ""}`} onClick={() => setTab(id)}>
          {label}
        </button>
      ))}
    </div>
  );
}

function Pager({ offset, total, setOffset }: { offset: number; total: number; setOffset: (n: number) => void }) {
  if (total <= PAGE) return null;
  return (
    <div className="inline">
      <button type="button" className="btn small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>← Newer</button>
      <span className="muted">{offset + 1}–{Math.min(total, offset + PAGE)} of {total}</span>
      <button type="button" className="btn small" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>Older →</button>
    </div>
  );
}

function Centre() {
  const [offset, setOffset] = useState(0);
  const [unread, setUnread] = useState(false);
  const [severity, setSeverity] = useState<Severity | "">("");
  const [source, setSource] = useState("");
  const q = useNotifications({ limit: PAGE, offset, unread: unread || undefined, severity, source });
  const ack = useAck();
  const ackAll = useAckAll();
  const sources = useSources();
  return (
    <Card title={<>Notification centre {q.data && <Badge value={`${q.data.unread} unread`} />}</>}
      actions={<button type="button" className="btn small" disabled={!q.data?.unread || ackAll.isPending} onClick={() => ackAll.mutate(undefined, { onError: (e) => toast.error(errorMessage(e)) })}>Mark all read</button>}>
      <div className="inline">
        <label><input type="checkbox" checked={unread} onChange={(e) => { setUnread(e.target.checked); setOffset(0); }} /> Unread only</label>
        <label>Severity <select value={severity} onChange={(e) => { setSeverity(e.target.value as Severity | ""); setOffset(0); }}>
          <option value="">any</option>{SEVERITIES.map((s) => <option key={s}>{s}</option>)}
        </select></label>
        <label>Source <select value={source} onChange={(e) => { setSource(e.target.value); setOffset(0); }}>
          <option value="">any</option>{(sources.data?.sources ?? []).map((s) => <option key={s}>{s}</option>)}
        </select></label>
      </div>
      <QueryState q={q} empty={(d) => d.items.length === 0 && "No notifications. Alerts raised by PULSE, SENTRY and the other agents appear here."}>
        {(d) => (
          <>
            <ul className="plain">{d.items.map((n) => <li key={n.id} style={{ padding: "6px 0", borderBottom: "1px solid var(--border)" }}><NotificationLine n={n} onAck={() => ack.mutate(n.id)} /></li>)}</ul>
            <Pager offset={offset} total={d.total} setOffset={setOffset} />
          </>
        )}
      </QueryState>
    </Card>
  );
}

// --- channels ----------------------------------------------------------------------------------

const EMPTY_EMAIL: EmailSettings = { type: "email", host: "", port: 587, security: "starttls", verify_tls: true, username: null, password: null, sender: "", to: [] };

function target(c: Channel): string {
  const s = c.settings as Record<string, unknown>;
  if (c.type === "webhook") return String(s.url);
  if (c.type === "email") return `${(s.to as string[]).join(", ")} via ${s.host}:${s.port}`;
  return "this browser (the bell)";
}

/** A secret input: a stored secret stays unless something is typed (or it is removed). */
function SecretInput({ label, stored, value, onChange, error, hint }: { label: string; stored: boolean; value: string | null; onChange: (v: string | null) => void; error?: string; hint?: ReactNode }) {
  const keeping = value === MASK;
  return (
    <Field label={label} error={error} hint={hint}>
      <input type="password" autoComplete="new-password" value={keeping ? "" : value ?? ""} placeholder={keeping ? "stored — type to replace" : ""}
        onChange={(e) => onChange(e.target.value === "" ? (stored ? MASK : null) : e.target.value)} />
      {stored && (
        <label style={{ fontWeight: "normal" }}><input type="checkbox" checked={value === null} onChange={(e) => onChange(e.target.checked ? null : MASK)} /> remove the stored {label.toLowerCase()}</label>
      )}
    </Field>
  );
}

export function ChannelForm({ channel, onDone }: { channel?: Channel; onDone: () => void }) {
  const initial: ChannelBody = channel
    ? { name: channel.name, enabled: channel.enabled, min_severity: channel.min_severity, settings: { ...(channel.settings as ChannelBody["settings"]) } }
    : { name: "", enabled: true, min_severity: "warning", settings: { type: "webhook", url: "", secret: null } };
  const [body, setBody] = useState<ChannelBody>(initial);
  const [toText, setToText] = useState(body.settings.type === "email" ? body.settings.to.join(", ") : "");
  const save = useSaveChannel();
  const errs = fieldErrors(save.error);
  const s = body.settings;
  const err = (f: string) => errs[`settings.${s.type}.${f}`] ?? errs[`settings.${f}`];
  const set = (patch: Partial<ChannelBody>) => setBody((b) => ({ ...b, ...patch }));
  const setS = (patch: Record<string, unknown>) => setBody((b) => ({ ...b, settings: { ...b.settings, ...patch } as ChannelBody["settings"] }));
  const storedSecret = (k: string) => !!channel && (channel.settings as Record<string, unknown>)[k] === MASK && channel.type === s.type;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const out = s.type === "email" ? { ...body, settings: { ...s, to: toText.split(/[\s,;]+/).filter(Boolean) } } : body;
    save.mutate({ id: channel?.id, body: out }, { onSuccess: () => { toast.success(`Channel “${body.name}” saved`); onDone(); } });
  };
  const general = save.error && Object.keys(errs).length === 0 ? errorMessage(save.error) : null;
  return (
    <form className="form-grid" onSubmit={submit} noValidate>
      {!channel && (
        <Field label="Kind">
          <select value={s.type} onChange={(e) => set({ settings: e.target.value === "email" ? { ...EMPTY_EMAIL } : { type: "webhook", url: "", secret: null } })}>
            <option value="webhook">Webhook (HTTP POST with JSON)</option>
            <option value="email">Email (SMTP)</option>
          </select>
        </Field>
      )}
      <Field label="Name" error={errs.name}><input value={body.name} onChange={(e) => set({ name: e.target.value })} required maxLength={64} /></Field>
      <Field label="Minimum severity" hint="alerts below this are not sent here" error={errs.min_severity}>
        <select value={body.min_severity} onChange={(e) => set({ min_severity: e.target.value as Severity })}>{SEVERITIES.map((v) => <option key={v}>{v}</option>)}</select>
      </Field>
      <label><input type="checkbox" checked={body.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> Enabled</label>
      {s.type === "webhook" ? (
        <>
          <Field label="URL" hint="http:// or https://" error={err("url")}><input type="url" value={s.url} onChange={(e) => setS({ url: e.target.value })} required placeholder="https://hooks.example.net/sigmavault" /></Field>
          <SecretInput label="Signing secret" stored={storedSecret("secret")} value={s.secret} onChange={(v) => setS({ secret: v })} error={err("secret")}
            hint="optional: the body is signed in X-SigmaVault-Signature: sha256=HMAC-SHA256" />
        </>
      ) : (
        <>
          <Field label="SMTP server" error={err("host")}><input value={s.host} onChange={(e) => setS({ host: e.target.value })} required placeholder="smtp.example.net" /></Field>
          <Field label="Port" error={err("port")}><input type="number" min={1} max={65535} value={s.port} onChange={(e) => setS({ port: e.target.value === "" ? 0 : Number(e.target.value) })} /></Field>
          <Field label="Security" error={err("security")}>
            <select value={s.security} onChange={(e) => setS({ security: e.target.value, port: e.target.value === "tls" ? 465 : e.target.value === "none" ? 25 : 587 })}>
              <option value="starttls">STARTTLS (port 587)</option><option value="tls">TLS (port 465)</option><option value="none">none (plain SMTP)</option>
            </select>
          </Field>
          {s.security !== "none" && <label><input type="checkbox" checked={s.verify_tls} onChange={(e) => setS({ verify_tls: e.target.checked })} /> Verify the server's certificate</label>}
          <Field label="Username" hint="leave empty when the server needs no login" error={err("username")}><input value={s.username ?? ""} autoComplete="off" onChange={(e) => setS({ username: e.target.value || null })} /></Field>
          <SecretInput label="Password" stored={storedSecret("password")} value={s.password} onChange={(v) => setS({ password: v })} error={err("password")} />
          <Field label="From" error={err("sender")}><input type="email" value={s.sender} onChange={(e) => setS({ sender: e.target.value })} placeholder="nas@example.net" /></Field>
          <Field label="To" hint="one or more addresses, separated by commas" error={err("to")}><input value={toText} onChange={(e) => setToText(e.target.value)} placeholder="ops@example.net, admin@example.net" /></Field>
        </>
      )}
      {general && <p className="form-error" role="alert">{general}</p>}
      <div className="inline">
        <button type="submit" className="btn primary" disabled={save.isPending}>Save</button>
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

function TestButton({ channel }: { channel: Channel }) {
  const test = useTestChannel();
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  return (
    <span>
      <button type="button" className="btn small" disabled={test.isPending}
        onClick={() => { setResult(null); test.mutate(channel.id, { onSuccess: (r: TestResult) => setResult({ ok: true, text: `${r.detail} (${r.seconds} s)` }), onError: (e) => setResult({ ok: false, text: errorMessage(e) }) }); }}>
        {test.isPending ? "Sending…" : "Send test"}
      </button>
      {result && <span role="status" data-testid={`test-result-${channel.id}`} className={result.ok ? "" : "form-error"}> {result.ok ? "✓ delivered: " : "✗ "}{result.text}</span>}
    </span>
  );
}

function Channels({ admin }: { admin: boolean }) {
  const q = useChannels();
  const del = useDeleteChannel();
  const confirm = useConfirm();
  const [editing, setEditing] = useState<Channel | "new" | null>(null);
  return (
    <Card title="Channels" actions={admin && <button type="button" className="btn small primary" onClick={() => setEditing("new")}>Add channel</button>}>
      <QueryState q={q}>
        {(cs) => (
          <table>
            <thead><tr><th>Name</th><th>Kind</th><th>Sends to</th><th>Min. severity</th><th>State</th><th /></tr></thead>
            <tbody>
              {cs.map((c) => (
                <tr key={c.id}>
                  <td>{c.name}</td><td>{c.type}</td><td>{target(c)}</td><td><Badge value={c.min_severity} /></td>
                  <td><Badge value={c.builtin ? "always on" : c.enabled ? "enabled" : "disabled"} /></td>
                  <td>{admin && (
                    <span className="inline" style={{ margin: 0 }}>
                      <TestButton channel={c} />
                      {!c.builtin && <button type="button" className="btn small" onClick={() => setEditing(c)}>Edit</button>}
                      {!c.builtin && <button type="button" className="btn small danger" onClick={async () => {
                        if (await confirm({ title: "Delete channel", message: `Delete “${c.name}”?`, danger: true, confirmText: "Delete" })) {
                          del.mutate(c.id, { onError: (e) => toast.error(errorMessage(e)) });
                        }
                      }}>Delete</button>}
                    </span>
                  )}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryState>
      <Modal open={editing !== null} title={editing === "new" ? "Add channel" : `Edit ${editing?.name ?? ""}`} onClose={() => setEditing(null)}>
        {editing !== null && <ChannelForm key={editing === "new" ? "new" : editing.id} channel={editing === "new" ? undefined : editing} onDone={() => setEditing(null)} />}
      </Modal>
    </Card>
  );
}

// --- rules -------------------------------------------------------------------------------------

const splitGlobs = (s: string) => s.split(/[\s,]+/).filter(Boolean);

export function RuleForm({ rule, channels, onDone }: { rule?: Rule; channels: Channel[]; onDone: () => void }) {
  const [body, setBody] = useState<RuleBody>(rule ? { name: rule.name, enabled: rule.enabled, sources: rule.sources, alert_ids: rule.alert_ids, min_severity: rule.min_severity, channels: rule.channels }
    : { name: "", enabled: true, sources: ["*"], alert_ids: ["*"], min_severity: "warning", channels: [] });
  const [ids, setIds] = useState(body.alert_ids.join(", "));
  const [custom, setCustom] = useState("");
  const sources = useSources();
  const save = useSaveRule();
  const errs = fieldErrors(save.error);
  const set = (patch: Partial<RuleBody>) => setBody((b) => ({ ...b, ...patch }));
  const any = body.sources.includes("*");
  const known = [...new Set([...(sources.data?.sources ?? []), ...body.sources.filter((s) => s !== "*")])];
  const toggle = (list: string[], v: string, on: boolean) => (on ? [...list.filter((x) => x !== v), v] : list.filter((x) => x !== v));
  const usable = channels.filter((c) => !c.builtin);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ id: rule?.id, body: { ...body, alert_ids: splitGlobs(ids).length ? splitGlobs(ids) : ["*"] } }, { onSuccess: () => { toast.success(`Rule “${body.name}” saved`); onDone(); } });
  };
  const general = save.error && Object.keys(errs).length === 0 ? errorMessage(save.error) : null;
  return (
    <form className="form-grid" onSubmit={submit} noValidate>
      <Field label="Name" error={errs.name}><input value={body.name} onChange={(e) => set({ name: e.target.value })} maxLength={64} /></Field>
      <label><input type="checkbox" checked={body.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> Enabled</label>
      <fieldset>
        <legend>Sources</legend>
        <label><input type="checkbox" checked={any} onChange={(e) => set({ sources: e.target.checked ? ["*"] : [] })} /> any source</label>
        {!any && known.map((s) => (
          <label key={s} style={{ marginRight: 10 }}><input type="checkbox" checked={body.sources.includes(s)} onChange={(e) => set({ sources: toggle(body.sources, s, e.target.checked) })} /> {s}</label>
        ))}
        {!any && (
          <span className="inline">
            <input aria-label="another source or glob" placeholder="another source or glob, e.g. SMB*" value={custom} onChange={(e) => setCustom(e.target.value)} />
            <button type="button" className="btn small" disabled={!custom.trim()} onClick={() => { set({ sources: toggle(body.sources, custom.trim(), true) }); setCustom(""); }}>Add</button>
          </span>
        )}
        {errs.sources && <span className="field-error" role="alert">{errs.sources}</span>}
      </fieldset>
      <Field label="Alert ids" hint="globs, separated by commas: * for all, sentry:pool:* for pool alerts" error={errs.alert_ids}>
        <input list="notification-alert-ids" value={ids} onChange={(e) => setIds(e.target.value)} />
        <datalist id="notification-alert-ids">{(sources.data?.alert_ids ?? []).map((a) => <option key={a} value={a} />)}</datalist>
      </Field>
      <Field label="Minimum severity" error={errs.min_severity}>
        <select value={body.min_severity} onChange={(e) => set({ min_severity: e.target.value as Severity })}>{SEVERITIES.map((v) => <option key={v}>{v}</option>)}</select>
      </Field>
      <fieldset>
        <legend>Send to</legend>
        {usable.length === 0 && <p className="muted">Add a channel first (the notification centre gets every alert anyway).</p>}
        {usable.map((c) => (
          <label key={c.id} style={{ display: "block" }}><input type="checkbox" checked={body.channels.includes(c.id)} onChange={(e) => set({ channels: toggle(body.channels, c.id, e.target.checked) })} /> {c.name} <span className="muted">({c.type})</span></label>
        ))}
        {errs.channels && <span className="field-error" role="alert">{errs.channels}</span>}
      </fieldset>
      {general && <p className="form-error" role="alert">{general}</p>}
      <div className="inline">
        <button type="submit" className="btn primary" disabled={save.isPending}>Save</button>
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

function Rules({ admin }: { admin: boolean }) {
  const q = useRules();
  const channels = useChannels();
  const del = useDeleteRule();
  const confirm = useConfirm();
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const name = (id: string) => channels.data?.find((c) => c.id === id)?.name ?? id;
  return (
    <>
      <Card title="Rules" actions={admin && <button type="button" className="btn small primary" onClick={() => setEditing("new")}>Add rule</button>}>
        <p className="muted">An alert goes to a channel when an enabled rule matches its source, id and severity and names the channel. Without rules, alerts only reach the notification centre.</p>
        <QueryState q={q} empty={(rs) => rs.length === 0 && "No rules yet."}>
          {(rs) => (
            <table>
              <thead><tr><th>Name</th><th>Sources</th><th>Alert ids</th><th>Min. severity</th><th>Channels</th><th>State</th><th /></tr></thead>
              <tbody>{rs.map((r) => (
                <tr key={r.id}>
                  <td>{r.name}</td><td>{r.sources.join(", ")}</td><td><code>{r.alert_ids.join(", ")}</code></td><td><Badge value={r.min_severity} /></td>
                  <td>{r.channels.map(name).join(", ")}</td><td><Badge value={r.enabled ? "enabled" : "disabled"} /></td>
                  <td>{admin && (
                    <span className="inline" style={{ margin: 0 }}>
                      <button type="button" className="btn small" onClick={() => setEditing(r)}>Edit</button>
                      <button type="button" className="btn small danger" onClick={async () => {
                        if (await confirm({ title: "Delete rule", message: `Delete “${r.name}”?`, danger: true, confirmText: "Delete" })) del.mutate(r.id, { onError: (e) => toast.error(errorMessage(e)) });
                      }}>Delete</button>
                    </span>
                  )}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
        <Modal open={editing !== null} title={editing === "new" ? "Add rule" : "Edit rule"} onClose={() => setEditing(null)}>
          {editing !== null && <RuleForm key={editing === "new" ? "new" : editing.id} rule={editing === "new" ? undefined : editing} channels={channels.data ?? []} onDone={() => setEditing(null)} />}
        </Modal>
      </Card>
      <Card title="Alert thresholds">
        <p className="muted">When the health heartbeat (PULSE) raises an alert. An empty box turns that check off.</p>
        <ThresholdsForm admin={admin} />
      </Card>
    </>
  );
}

const THRESHOLD_FIELDS: [keyof Thresholds, string, string, boolean][] = [
  ["cpu_percent", "CPU busy (%)", "0 to 100, averaged over the window", true],
  ["memory_percent", "Memory used (%)", "0 to 100, averaged over the window", true],
  ["filesystem_percent", "Filesystem full (%)", "0 to 100, any mounted filesystem", true],
  ["temperature_celsius", "Temperature (°C)", "0 to 200; a sensor's own critical value counts too", true],
  ["window_seconds", "Averaging window (seconds)", "more than 0, at most 3600: a spike alone does not alert", false],
  ["hysteresis", "Clears below by (points)", "0 to 50: an alert clears only this far below its threshold", false],
];

export function ThresholdsForm({ admin }: { admin: boolean }) {
  const q = useThresholds();
  const save = useSaveThresholds();
  const [draft, setDraft] = useState<Record<string, string> | null>(null);
  const errs = fieldErrors(save.error);
  const values = draft ?? Object.fromEntries(THRESHOLD_FIELDS.map(([k]) => [k, q.data?.[k] == null ? "" : String(q.data?.[k])]));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body = Object.fromEntries(THRESHOLD_FIELDS.map(([k, , , optional]) => {
      const text = (values[k] ?? "").trim();
      return [k, text === "" && optional ? null : Number(text)];
    })) as unknown as Thresholds;
    save.mutate(body, { onSuccess: () => { toast.success("Thresholds saved: the next heartbeat uses them"); setDraft(null); } });
  };
  if (q.isError) return <p className="muted">The system plugin is not installed: there are no thresholds to set.</p>;
  if (!q.data) return <p className="muted">Loading…</p>;
  return (
    <form className="form-grid" onSubmit={submit} noValidate>
      {THRESHOLD_FIELDS.map(([k, label, hint]) => (
        <Field key={k} label={label} hint={hint} error={errs[k]}>
          <input inputMode="decimal" value={values[k]} disabled={!admin} onChange={(e) => setDraft({ ...values, [k]: e.target.value })} />
        </Field>
      ))}
      {admin && <div className="inline"><button type="submit" className="btn primary" disabled={save.isPending || draft === null}>Save thresholds</button></div>}
    </form>
  );
}

function Deliveries() {
  const [offset, setOffset] = useState(0);
  const [status, setStatus] = useState("");
  const q = useDeliveries({ limit: PAGE, offset, status });
  return (
    <Card title="Delivery history" actions={
      <label>Status <select value={status} onChange={(e) => { setStatus(e.target.value); setOffset(0); }}>
        <option value="">any</option>{["pending", "retrying", "delivered", "failed"].map((s) => <option key={s}>{s}</option>)}
      </select></label>}>
      <QueryState q={q} empty={(d) => d.items.length === 0 && "Nothing delivered yet."}>
        {(d) => (
          <>
            <table>
              <thead><tr><th>When</th><th>Channel</th><th>What</th><th>State</th><th>Attempts</th><th>Answer</th></tr></thead>
              <tbody>{d.items.map((x) => (
                <tr key={x.id}>
                  <td title={when(x.updated)}>{ago(x.updated)}</td><td>{x.channel_name}</td>
                  <td>{x.kind}{x.message ? `: ${x.message}` : ""}</td><td><Badge value={x.status} /></td><td>{x.attempts}</td>
                  <td>{x.error ? <span className="form-error">{x.reason}: {x.error}</span> : x.detail ?? "—"}</td>
                </tr>
              ))}</tbody>
            </table>
            <Pager offset={offset} total={d.total} setOffset={setOffset} />
          </>
        )}
      </QueryState>
    </Card>
  );
}

/** The selected tab lives in the URL (`?tab=channels`): Back, Forward and reload keep it. */
export default function Notifications() {
  const [params, setParams] = useSearchParams();
  const asked = params.get("tab");
  const tab: Tab = isTab(asked) ? asked : "centre";
  const setTab = (t: Tab) => setParams((p) => {
    const n = new URLSearchParams(p);
    if (t === "centre") n.delete("tab"); else n.set("tab", t);
    return n;
  });
  const me = useMe();
  const admin = me.data?.role === "admin";
  return (
    <div className="page">
      <h1>Notifications</h1>
      <Tabs tab={tab} setTab={setTab} />
      {tab === "centre" && <Centre />}
      {tab === "channels" && <Channels admin={admin} />}
      {tab === "rules" && <Rules admin={admin} />}
      {tab === "deliveries" && <Deliveries />}
    </div>
  );
}
