import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { toast } from "sonner";
import { Badge, Card, Field, FieldError, Modal, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import {
  ACCOUNT_RULE, inUseMessage, PASSWORD_RULE, plainShareError, shareFieldErrors, useCreateGroup, useCreateUser, useDeleteGroup, useDeleteUser,
  useNasGroups, useNasUsers, useShareEvents, useUpdateGroup, useUpdateUser, type NasGroup, type NasUser,
} from "../hooks/useShares";

/** A list row: columns side by side on a wide screen, stacked on a phone. */
const ROW = { display: "grid", gridTemplateColumns: "repeat(auto-fit, minmax(200px, 1fr))", gap: "6px 18px", alignItems: "start", padding: "10px 0" } as const;

/** Tick boxes for names (groups of a user, members of a group): picked, never typed. */
function NamePicker({ label, names, value, onChange, empty, error }: { label: string; names: string[]; value: string[]; onChange: (v: string[]) => void; empty: string; error?: string }) {
  return (
    <fieldset className={`field picker${error ? " invalid" : ""}`}>
      <legend className="field-label">{label}</legend>
      {names.length === 0 ? <span className="muted">{empty}</span> : (
        <div className="inline" style={{ margin: 0, gap: "4px 16px" }}>
          {names.map((n) => (
            <label key={n} className="check">
              <input type="checkbox" checked={value.includes(n)} onChange={(e) => onChange(e.target.checked ? [...value, n] : value.filter((x) => x !== n))} /> {n}
            </label>
          ))}
        </div>
      )}
      <FieldError error={error} />
    </fieldset>
  );
}

/** New password twice, with the rule under the input; mismatch caught before sending. */
function PasswordFields({ pw, setPw, errors }: { pw: { password: string; again: string }; setPw: (p: { password: string; again: string }) => void; errors: Record<string, string> }) {
  return (
    <>
      <Field label="Password" hint={PASSWORD_RULE} error={errors.password}>
        <input type="password" autoComplete="new-password" value={pw.password} onChange={(e) => setPw({ ...pw, password: e.target.value })} aria-invalid={!!errors.password} />
      </Field>
      <Field label="Password again" error={errors.again}>
        <input type="password" autoComplete="new-password" value={pw.again} onChange={(e) => setPw({ ...pw, again: e.target.value })} aria-invalid={!!errors.again} />
      </Field>
    </>
  );
}

function checkPassword(pw: { password: string; again: string }): Record<string, string> {
  if (!pw.password) return { password: "Enter a password." };
  if (pw.password !== pw.again) return { again: "The two passwords differ: type the same password twice." };
  return {};
}

function UserForm({ user, groups, onDone }: { user: NasUser | null; groups: NasGroup[]; onDone: () => void }) {
  const create = useCreateUser();
  const update = useUpdateUser();
  const m = user ? update : create;
  const [f, setF] = useState({ name: user?.name ?? "", full_name: user?.full_name ?? "", groups: user?.groups ?? [], enabled: user?.enabled ?? true });
  const [pw, setPw] = useState({ password: "", again: "" });
  const [local, setLocal] = useState<Record<string, string>>({});
  const errs = { ...shareFieldErrors(m.error), ...local };
  const general = plainShareError(m.error, shareFieldErrors(m.error));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const problems: Record<string, string> = user ? {} : checkPassword(pw);
    if (!user && !f.name) problems.name = "Enter the name people type to connect.";
    setLocal(problems);
    if (Object.keys(problems).length) return;
    if (user) {
      update.mutate({ name: user.name, full_name: f.full_name, groups: f.groups, enabled: f.enabled }, { onSuccess: () => { toast.success(`User ${user.name} saved`); onDone(); } });
    } else {
      create.mutate({ ...f, password: pw.password }, { onSuccess: (u) => { toast.success(`User ${u.name} created`); onDone(); } });
    }
  };
  return (
    <form onSubmit={submit} noValidate className="form-grid" aria-label={user ? `edit user ${user.name}` : "new user"}>
      {!user && (
        <Field label="User name" hint={`What people type to connect. ${ACCOUNT_RULE}.`} error={errs.name}>
          <input autoFocus value={f.name} autoComplete="off" onChange={(e) => setF({ ...f, name: e.target.value })} aria-invalid={!!errs.name} />
        </Field>
      )}
      <Field label="Full name (optional)" error={errs.full_name} hint="No commas or colons.">
        <input value={f.full_name} onChange={(e) => setF({ ...f, full_name: e.target.value })} aria-invalid={!!errs.full_name} />
      </Field>
      {!user && <PasswordFields pw={pw} setPw={setPw} errors={errs} />}
      <NamePicker label="Groups" names={groups.map((g) => g.name)} value={f.groups} onChange={(g) => setF({ ...f, groups: g })} empty="No groups yet." error={errs.groups} />
      <label className="check"><input type="checkbox" checked={f.enabled} onChange={(e) => setF({ ...f, enabled: e.target.checked })} /> Enabled (a disabled account cannot connect)</label>
      {general && <p className="form-error" role="alert">{general}</p>}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={m.isPending}>{user ? "Save user" : "Create user"}</button>
      </div>
    </form>
  );
}

function PasswordForm({ user, onDone }: { user: string; onDone: () => void }) {
  const update = useUpdateUser();
  const [pw, setPw] = useState({ password: "", again: "" });
  const [local, setLocal] = useState<Record<string, string>>({});
  const errs = { ...shareFieldErrors(update.error), ...local };
  const general = plainShareError(update.error, shareFieldErrors(update.error));
  return (
    <form noValidate aria-label={`password of ${user}`} onSubmit={(e) => {
      e.preventDefault();
      const problems = checkPassword(pw);
      setLocal(problems);
      if (Object.keys(problems).length) return;
      update.mutate({ name: user, password: pw.password }, { onSuccess: () => { toast.success(`Password of ${user} changed`); onDone(); } });
    }}>
      <p className="muted">{user} uses the new password from the next connection on.</p>
      <PasswordFields pw={pw} setPw={setPw} errors={errs} />
      {general && <p className="form-error" role="alert">{general}</p>}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={update.isPending}>Set password</button>
      </div>
    </form>
  );
}

function GroupForm({ group, users, onDone }: { group: NasGroup | null; users: NasUser[]; onDone: () => void }) {
  const create = useCreateGroup();
  const update = useUpdateGroup();
  const m = group ? update : create;
  const [f, setF] = useState({ name: group?.name ?? "", members: group?.members ?? [] });
  const [local, setLocal] = useState<Record<string, string>>({});
  const errs = { ...shareFieldErrors(m.error), ...local };
  const general = plainShareError(m.error, shareFieldErrors(m.error));
  return (
    <form noValidate className="form-grid" aria-label={group ? `members of ${group.name}` : "new group"} onSubmit={(e) => {
      e.preventDefault();
      if (!group && !f.name) return setLocal({ name: "Enter a group name." });
      setLocal({});
      const done = (g: NasGroup) => { toast.success(group ? `Group ${g.name} saved` : `Group ${g.name} created`); onDone(); };
      if (group) update.mutate(f, { onSuccess: done });
      else create.mutate(f, { onSuccess: done });
    }}>
      {!group && (
        <Field label="Group name" hint={`${ACCOUNT_RULE}.`} error={errs.name}>
          <input autoFocus value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} aria-invalid={!!errs.name} />
        </Field>
      )}
      <NamePicker label="Members" names={users.map((u) => u.name)} value={f.members} onChange={(members) => setF({ ...f, members })} empty="No users yet." error={errs.members} />
      {general && <p className="form-error" role="alert">{general}</p>}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={m.isPending}>{group ? "Save members" : "Create group"}</button>
      </div>
    </form>
  );
}

export default function Accounts() {
  useShareEvents();
  const users = useNasUsers();
  const groups = useNasGroups();
  const confirm = useConfirm();
  const update = useUpdateUser();
  const removeUser = useDeleteUser();
  const removeGroup = useDeleteGroup();
  const [userForm, setUserForm] = useState<{ user: NasUser | null } | null>(null);
  const [groupForm, setGroupForm] = useState<{ group: NasGroup | null } | null>(null);
  const [pwFor, setPwFor] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const refused = (kind: "user" | "group", name: string) => (e: unknown) => {
    const msg = inUseMessage(kind, name, e) ?? plainShareError(e) ?? "Refused.";
    setProblem(msg); // shown at the top of the page, with a link to Shares
  };
  const groupList = groups.data ?? [];
  return (
    <div className="page">
      <h1>Share accounts: users &amp; groups</h1>
      <p className="muted">These are the accounts people use to connect to shares from their computers (Windows, macOS, Linux). They cannot sign in to this web interface; accounts for that are under <Link to="/settings">Users &amp; API keys</Link>. Give these users and groups access on the <Link to="/shares">Shares</Link> page.</p>
      {problem && (
        <div className="card state error" role="alert" data-testid="account-problem">
          {problem} <Link to="/shares">Open Shares</Link>
          <button type="button" className="btn small" onClick={() => setProblem(null)}>Dismiss</button>
        </div>
      )}
      <Card title="Users" actions={<button type="button" className="btn primary small needs-admin" onClick={() => setUserForm({ user: null })}>New user</button>}>
        <QueryState q={users} empty={(d) => d.length === 0 && "No users yet. Create one for every person who connects to shares."}>
          {(list) => (
            <ul className="plain" aria-label="Users">
              {list.map((u) => (
                <li key={u.name} data-testid={`user-${u.name}`} style={ROW}>
                  <div><strong>{u.name}</strong> {!u.enabled && <Badge value="disabled" />}<br /><small className="muted">{u.full_name || "no full name"}</small></div>
                  <div data-testid="user-groups"><small className="muted">Groups</small><br />{u.groups.length ? u.groups.join(", ") : <span className="muted">none</span>}</div>
                  <div className="inline needs-admin" style={{ margin: 0, justifyContent: "flex-end" }}>
                    <button type="button" className="btn small" onClick={() => setUserForm({ user: u })}>Edit</button>
                    <button type="button" className="btn small" onClick={() => setPwFor(u.name)}>Set password</button>
                    <button type="button" className="btn small" onClick={() => update.mutate({ name: u.name, enabled: !u.enabled }, {
                      onSuccess: () => toast.success(`${u.name} ${u.enabled ? "disabled: cannot connect any more" : "enabled"}`), onError: refused("user", u.name),
                    })}>{u.enabled ? "Disable" : "Enable"}</button>
                    <button type="button" className="btn small danger" onClick={async () => {
                      if (await confirm({ title: `Delete user ${u.name}?`, message: <><b>{u.name}</b> can no longer connect to any share. Files they created stay.</>, confirmText: "Delete user", danger: true })) {
                        setProblem(null);
                        removeUser.mutate(u.name, { onSuccess: () => toast.success(`User ${u.name} deleted`), onError: refused("user", u.name) });
                      }
                    }}>Delete</button>
                  </div>
                </li>
              ))}
            </ul>
          )}
        </QueryState>
      </Card>
      <Card title="Groups" actions={<button type="button" className="btn primary small needs-admin" onClick={() => setGroupForm({ group: null })}>New group</button>}>
        <QueryState q={groups} empty={(d) => d.length === 0 && "No groups yet. A group gives many users the same access at once."}>
          {(list) => (
            <ul className="plain" aria-label="Groups">
              {list.map((g) => (
                <li key={g.name} data-testid={`group-${g.name}`} style={ROW}>
                  <div><strong>{g.name}</strong></div>
                  <div><small className="muted">Members</small><br />{g.members.length ? g.members.join(", ") : <span className="muted">nobody</span>}</div>
                  <div className="inline needs-admin" style={{ margin: 0, justifyContent: "flex-end" }}>
                    <button type="button" className="btn small" onClick={() => setGroupForm({ group: g })}>Members</button>
                    <button type="button" className="btn small danger" onClick={async () => {
                      if (await confirm({ title: `Delete group ${g.name}?`, message: <>Its members lose the access the group gave them. The users themselves stay.</>, confirmText: "Delete group", danger: true })) {
                        setProblem(null);
                        removeGroup.mutate(g.name, { onSuccess: () => toast.success(`Group ${g.name} deleted`), onError: refused("group", g.name) });
                      }
                    }}>Delete</button>
                  </div>
                </li>
              ))}
            </ul>
          )}
        </QueryState>
      </Card>
      <Modal open={!!userForm} title={userForm?.user ? `Edit user ${userForm.user.name}` : "New user"} onClose={() => setUserForm(null)}>
        {userForm && <UserForm user={userForm.user} groups={groupList} onDone={() => setUserForm(null)} />}
      </Modal>
      <Modal open={!!pwFor} title={`Password of ${pwFor}`} onClose={() => setPwFor(null)}>
        {pwFor && <PasswordForm user={pwFor} onDone={() => setPwFor(null)} />}
      </Modal>
      <Modal open={!!groupForm} title={groupForm?.group ? `Members of ${groupForm.group.name}` : "New group"} onClose={() => setGroupForm(null)}>
        {groupForm && <GroupForm group={groupForm.group} users={users.data ?? []} onDone={() => setGroupForm(null)} />}
      </Modal>
    </div>
  );
}
