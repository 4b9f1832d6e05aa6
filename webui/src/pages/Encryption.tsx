import { useState, type FormEvent } from "react";
import { Badge, Card, Field, KeyValues, Modal, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { isLocked, useLockAll, useCreateKey, useDeleteKey, useEncryptionStatus, useKeys, useLockKey, type Identity } from "../hooks/useEncryption";
import { when } from "../lib/format";
import { errorMessage } from "../lib/api";
import { fieldErrors } from "../lib/errors";
import { DecryptFiles, EncryptFiles } from "./EncryptionFiles";

function Unlock({ id, onDone }: { id: string; onDone: () => void }) {
  const lock = useLockKey();
  const [passphrase, setPassphrase] = useState("");
  const [empty, setEmpty] = useState(false);
  const refused = lock.error ? (fieldErrors(lock.error).passphrase ?? errorMessage(lock.error)) : null;
  return (
    <form noValidate onSubmit={(e) => { e.preventDefault(); if (!passphrase) { setEmpty(true); return; } lock.mutate({ id, lock: false, passphrase }, { onSuccess: onDone }); }}>
      <Field label="Passphrase" error={empty && !passphrase ? "Enter the passphrase this key was created with." : refused}><input type="password" autoFocus value={passphrase} onChange={(e) => { setPassphrase(e.target.value); setEmpty(false); }} /></Field>
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary">Unlock</button>
      </div>
    </form>
  );
}

function NewKey({ onDone }: { onDone: () => void }) {
  const create = useCreateKey();
  const [name, setName] = useState("");
  const [kind, setKind] = useState("mlkem768x25519");
  const [passphrase, setPassphrase] = useState("");
  const [tried, setTried] = useState(false);
  const errs = fieldErrors(create.error);
  const nameProblem = tried && !name.trim() ? "Give the key a name you will recognise." : errs.name;
  const passProblem = tried && passphrase.length < 8 ? "Use at least 8 characters." : errs.passphrase;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (!name.trim() || passphrase.length < 8) return;
    create.mutate({ name, kind, passphrase }, { onSuccess: onDone });
  };
  return (
    <form onSubmit={submit} className="form-grid" noValidate>
      <Field label="Name" hint="how you will pick this key when encrypting, e.g. “office backups”" error={nameProblem}><input value={name} aria-invalid={!!nameProblem} onChange={(e) => setName(e.target.value)} /></Field>
      <Field label="Kind">
        <select value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="mlkem768x25519">ML-KEM-768 + X25519 (post-quantum hybrid)</option>
          <option value="x25519">X25519 (age)</option>
        </select>
      </Field>
      <Field label="Passphrase" hint="at least 8 characters; protects the key on disk — without it the key cannot be unlocked" error={passProblem}><input type="password" value={passphrase} aria-invalid={!!passProblem} onChange={(e) => setPassphrase(e.target.value)} /></Field>
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary">Create identity</button>
      </div>
    </form>
  );
}

export default function Encryption() {
  const status = useEncryptionStatus();
  const keys = useKeys();
  const lock = useLockKey();
  const lockAll = useLockAll();
  const remove = useDeleteKey();
  const confirm = useConfirm();
  const [unlocking, setUnlocking] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  return (
    <div className="page">
      <h1>Encryption</h1>
      <Card title="Status">
        <QueryState q={status}>
          {(s) => {
            const pq = s.post_quantum as { supported?: boolean; protected?: boolean; reason?: string } | undefined;
            return (
              <>
                {pq && (
                  <p data-testid="pq-status">
                    Post-quantum protection: <Badge value={pq.protected ? "protected" : "not protected"} /> <span className="muted">{pq.reason}</span>
                  </p>
                )}
                <KeyValues data={s} skip={["keys", "post_quantum"]} />
              </>
            );
          }}
        </QueryState>
      </Card>
      <Card title="Identities" actions={<>
        <button type="button" className="btn needs-admin" onClick={() => lockAll.mutate()}>Lock all</button>
        <button type="button" className="btn primary needs-admin" onClick={() => setCreating(true)}>New identity</button>
      </>}>
        <QueryState q={keys} empty={(d) => d.length === 0 && "No identities yet."}>
          {(list) => (
            <table>
              <thead><tr><th>Name</th><th>Kind</th><th>Fingerprint</th><th>State</th><th>Created</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>{list.map((k: Identity) => (
                <tr key={k.id}>
                  <td>{k.name ?? k.id}</td><td>{k.kind ?? k.algorithm ?? "—"}{k.post_quantum ? <> <Badge value="PQ" /></> : null}</td><td><code>{k.fingerprint ?? "—"}</code></td>
                  <td><Badge value={k.id.startsWith("pending-") ? "creating" : isLocked(k) ? "locked" : "unlocked"} /></td><td>{when(k.created_at)}</td>
                  <td className="actions">
                    {k.id.startsWith("pending-") ? <span className="muted">creating…</span> : <>
                    {isLocked(k)
                      ? <button type="button" className="btn small needs-admin" onClick={() => setUnlocking(k.id)}>Unlock</button>
                      : <button type="button" className="btn small needs-admin" onClick={() => lock.mutate({ id: k.id, lock: true })}>Lock</button>}
                    <button type="button" className="btn small danger needs-admin" onClick={async () => {
                      if (await confirm({ title: "Delete identity?", message: "Files encrypted only to this identity can never be decrypted again.", typeToConfirm: k.name ?? k.id, confirmText: "Delete", danger: true })) remove.mutate(k.id);
                    }}>Delete</button></>}
                  </td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
      </Card>
      <div className="grid2">
        <EncryptFiles keys={keys.data ?? []} />
        <DecryptFiles />
      </div>
      <Modal open={!!unlocking} title="Unlock identity" onClose={() => setUnlocking(null)}>
        {unlocking && <Unlock id={unlocking} onDone={() => setUnlocking(null)} />}
      </Modal>
      <Modal open={creating} title="New identity" onClose={() => setCreating(false)}>
        {creating && <NewKey onDone={() => setCreating(false)} />}
      </Modal>
    </div>
  );
}
