import { useState, type FormEvent } from "react";
import { LocationPicker, type PickedLocation } from "../components/FilePicker";
import { Card, Field } from "../components/ui";
import { useDecryptJob, useEncryptJob, type Identity } from "../hooks/useEncryption";
import { fieldErrors } from "../lib/errors";

const place = (l: PickedLocation) => ({ pool: l.pool, volume: l.volume, path: l.path });

/** Encrypt a file or folder (picked in a volume) to identities chosen by name, or with a passphrase
 * instead (as `age -p`); optionally armored. The result lands beside it (+ .age). */
export function EncryptFiles({ keys }: { keys: Identity[] }) {
  const encrypt = useEncryptJob();
  const active = keys.filter((k) => k.status !== "retired" && !k.id.startsWith("pending-"));
  const [source, setSource] = useState<PickedLocation | null>(null);
  const [keyIds, setKeyIds] = useState<string[]>([]);
  const [usePassphrase, setUsePassphrase] = useState(false);
  const [passphrase, setPassphrase] = useState("");
  const [confirmation, setConfirmation] = useState("");
  const [armor, setArmor] = useState(false);
  const [overwrite, setOverwrite] = useState(false);
  const mismatch = usePassphrase && confirmation !== "" && confirmation !== passphrase;
  const ready = !!source && (usePassphrase ? passphrase !== "" && confirmation === passphrase : keyIds.length > 0);
  const errs = fieldErrors(encrypt.error);
  const toggleKey = (id: string) => setKeyIds((ids) => (ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id]));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!ready || !source) return;
    encrypt.mutate({ source: place(source), keyIds, armor, overwrite, passphrase: usePassphrase ? passphrase : undefined }, {
      onSuccess: () => { setPassphrase(""); setConfirmation(""); },
    });
  };
  return (
    <Card title="Encrypt a file or folder">
      <form onSubmit={submit} className="form-grid" aria-label="Encrypt" noValidate>
        <LocationPicker name="encrypt-source" label="What to encrypt" value={source} onChange={setSource} hint="The encrypted copy is written beside it, named + .age (+ .tar.age for a folder)." error={errs.source} />
        <label className="check"><input type="checkbox" checked={usePassphrase} onChange={(e) => setUsePassphrase(e.target.checked)} /> Passphrase instead of a key</label>
        {usePassphrase ? <>
          <Field label="Passphrase" hint="anyone with it can decrypt; it is not stored" error={errs.passphrase}><input type="password" autoComplete="new-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} /></Field>
          <Field label="Confirm passphrase" error={mismatch ? "The passphrases differ." : undefined}><input type="password" autoComplete="new-password" value={confirmation} aria-invalid={mismatch} onChange={(e) => setConfirmation(e.target.value)} /></Field>
        </> : (
          <fieldset className={`field${errs.key_ids ? " invalid" : ""}`}>
            <legend className="field-label">Encrypt to</legend>
            {active.length === 0 ? <span className="muted">No identities yet: create one above, or use a passphrase.</span> : active.map((k) => (
              <label key={k.id} className="check"><input type="checkbox" checked={keyIds.includes(k.id)} onChange={() => toggleKey(k.id)} /> {k.name ?? k.id}{k.post_quantum ? " (post-quantum)" : ""}</label>
            ))}
            {errs.key_ids && <span className="field-error" role="alert">{errs.key_ids}</span>}
          </fieldset>
        )}
        <label className="check"><input type="checkbox" checked={armor} onChange={(e) => setArmor(e.target.checked)} /> ASCII armor (text, like <code>age -a</code>)</label>
        <label className="check"><input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Replace an existing encrypted copy</label>
        <div className="modal-actions">
          <button type="submit" className="btn primary needs-admin" disabled={!ready || encrypt.isPending}>Encrypt</button>
        </div>
      </form>
    </Card>
  );
}

/** Decrypt an age file (binary or armored, picked in a volume) with the unlocked identities, or with
 * its passphrase. The result lands beside it, without .age. */
export function DecryptFiles() {
  const decrypt = useDecryptJob();
  const [source, setSource] = useState<PickedLocation | null>(null);
  const [usePassphrase, setUsePassphrase] = useState(false);
  const [passphrase, setPassphrase] = useState("");
  const [overwrite, setOverwrite] = useState(false);
  const errs = fieldErrors(decrypt.error);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!source) return;
    decrypt.mutate({ source: place(source), overwrite, passphrase: usePassphrase ? passphrase : undefined }, {
      onSuccess: () => setPassphrase(""),
    });
  };
  return (
    <Card title="Decrypt a file">
      <form onSubmit={submit} className="form-grid" aria-label="Decrypt" noValidate>
        <LocationPicker name="decrypt-source" label="Encrypted file" accept="file" value={source} onChange={setSource} hint="an age file (binary or ASCII-armored); the decrypted copy is written beside it, without .age" error={errs.source} />
        <label className="check"><input type="checkbox" checked={usePassphrase} onChange={(e) => setUsePassphrase(e.target.checked)} /> Passphrase instead of a key</label>
        {usePassphrase && (
          <Field label="File passphrase" error={errs.passphrase}><input type="password" autoComplete="off" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} /></Field>
        )}
        <label className="check"><input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Replace the file if it exists</label>
        <div className="modal-actions">
          <button type="submit" className="btn primary needs-admin" disabled={!source || (usePassphrase && !passphrase) || decrypt.isPending}>Decrypt</button>
        </div>
      </form>
    </Card>
  );
}
