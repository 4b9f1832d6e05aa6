import { useState, type FormEvent } from "react";
import { Card, Field } from "../components/ui";
import { useDecryptJob, useEncryptJob, type Identity } from "../hooks/useEncryption";

/** Encrypt a file or folder to identities, or with a passphrase instead (as `age -p`); optionally armored. */
export function EncryptFiles({ keys }: { keys: Identity[] }) {
  const encrypt = useEncryptJob();
  const active = keys.filter((k) => k.status !== "retired" && !k.id.startsWith("pending-"));
  const [source, setSource] = useState("");
  const [target, setTarget] = useState("");
  const [keyIds, setKeyIds] = useState<string[]>([]);
  const [usePassphrase, setUsePassphrase] = useState(false);
  const [passphrase, setPassphrase] = useState("");
  const [confirmation, setConfirmation] = useState("");
  const [armor, setArmor] = useState(false);
  const mismatch = usePassphrase && confirmation !== "" && confirmation !== passphrase;
  const ready = source.trim() !== "" && (usePassphrase ? passphrase !== "" && confirmation === passphrase : keyIds.length > 0);
  const toggleKey = (id: string) => setKeyIds((ids) => (ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id]));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!ready) return;
    encrypt.mutate({ source, target, keyIds, armor, passphrase: usePassphrase ? passphrase : undefined }, {
      onSuccess: () => { setPassphrase(""); setConfirmation(""); },
    });
  };
  return (
    <Card title="Encrypt a file or folder">
      <form onSubmit={submit} className="form-grid" aria-label="Encrypt">
        <Field label="Source" hint="absolute path inside an allowed root"><input required value={source} onChange={(e) => setSource(e.target.value)} /></Field>
        <Field label="Target" hint="optional; default: the source + .age (.tar.age for folders)"><input value={target} onChange={(e) => setTarget(e.target.value)} /></Field>
        <label className="check"><input type="checkbox" checked={usePassphrase} onChange={(e) => setUsePassphrase(e.target.checked)} /> Passphrase instead of a key</label>
        {usePassphrase ? <>
          <Field label="Passphrase" hint="anyone with it can decrypt; it is not stored"><input type="password" autoComplete="new-password" required value={passphrase} onChange={(e) => setPassphrase(e.target.value)} /></Field>
          <Field label="Confirm passphrase" hint={mismatch ? "the passphrases differ" : undefined}><input type="password" autoComplete="new-password" required value={confirmation} aria-invalid={mismatch} onChange={(e) => setConfirmation(e.target.value)} /></Field>
        </> : (
          <fieldset className="field">
            <legend className="field-label">Encrypt to</legend>
            {active.length === 0 ? <span className="muted">No identities yet: create one, or use a passphrase.</span> : active.map((k) => (
              <label key={k.id} className="check"><input type="checkbox" checked={keyIds.includes(k.id)} onChange={() => toggleKey(k.id)} /> {k.name ?? k.id}{k.post_quantum ? " (post-quantum)" : ""}</label>
            ))}
          </fieldset>
        )}
        <label className="check"><input type="checkbox" checked={armor} onChange={(e) => setArmor(e.target.checked)} /> ASCII armor (text, like <code>age -a</code>)</label>
        <div className="modal-actions">
          <button type="submit" className="btn primary needs-admin" disabled={!ready || encrypt.isPending}>Encrypt</button>
        </div>
      </form>
    </Card>
  );
}

/** Decrypt an age file (binary or armored) with the unlocked identities, or with its passphrase. */
export function DecryptFiles() {
  const decrypt = useDecryptJob();
  const [source, setSource] = useState("");
  const [target, setTarget] = useState("");
  const [usePassphrase, setUsePassphrase] = useState(false);
  const [passphrase, setPassphrase] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    decrypt.mutate({ source, target, passphrase: usePassphrase ? passphrase : undefined }, {
      onSuccess: () => setPassphrase(""),
    });
  };
  return (
    <Card title="Decrypt a file">
      <form onSubmit={submit} className="form-grid" aria-label="Decrypt">
        <Field label="Encrypted file" hint="binary or ASCII-armored age file"><input required value={source} onChange={(e) => setSource(e.target.value)} /></Field>
        <Field label="Target" hint="optional; default: the file name without .age"><input value={target} onChange={(e) => setTarget(e.target.value)} /></Field>
        <label className="check"><input type="checkbox" checked={usePassphrase} onChange={(e) => setUsePassphrase(e.target.checked)} /> Passphrase instead of a key</label>
        {usePassphrase && (
          <Field label="File passphrase"><input type="password" autoComplete="off" required value={passphrase} onChange={(e) => setPassphrase(e.target.value)} /></Field>
        )}
        <div className="modal-actions">
          <button type="submit" className="btn primary needs-admin" disabled={decrypt.isPending}>Decrypt</button>
        </div>
      </form>
    </Card>
  );
}
