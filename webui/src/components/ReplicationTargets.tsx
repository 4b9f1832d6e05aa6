/** This node as a replication target: which mesh nodes may write replicas into which pool, and
 * the replicas they keep here. */
import { useState, type FormEvent } from "react";
import { Badge, Card, Field, QueryState } from "./ui";
import { useConfirm } from "./confirm";
import { useAddReplTarget, useDeleteReplTarget, useKeptReplicas, useReplTargets } from "./ReplicationApi";
import { iso } from "./Replication";
import { useMesh } from "../hooks/useMesh";
import { usePools } from "../hooks/useStorage";
import { fieldErrors } from "../lib/errors";
import { errorMessage } from "../lib/api";
import { when } from "../lib/format";

function AllowForm() {
  const add = useAddReplTarget();
  const mesh = useMesh();
  const pools = usePools();
  const [f, setF] = useState({ peer: "", pool: "" });
  const errs = fieldErrors(add.error);
  const nodes = (mesh.data?.peers ?? []).filter((p) => p.node !== false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(f, { onSuccess: () => setF({ peer: "", pool: "" }) });
  };
  return (
    <form className="inline" onSubmit={submit} aria-label="Accept replicas">
      <Field label="Node" error={errs.peer}>
        <select name="target-peer" value={f.peer} onChange={(e) => setF({ ...f, peer: e.target.value })}>
          <option value="">{nodes.length ? "Choose a node" : "No mesh nodes"}</option>
          {nodes.map((p) => <option key={p.name} value={p.name}>{p.name}</option>)}
        </select>
      </Field>
      <Field label="Into pool" error={errs.pool}>
        <select name="target-pool" value={f.pool} onChange={(e) => setF({ ...f, pool: e.target.value })}>
          <option value="">Choose a pool</option>
          {(pools.data ?? []).map((p) => <option key={p.name} value={p.name}>{p.name} ({p.backend})</option>)}
        </select>
      </Field>
      <button type="submit" className="btn primary needs-admin" disabled={!f.peer || !f.pool || add.isPending}>Allow</button>
      {add.error && !errs.peer && !errs.pool && <span className="form-error" role="alert">{errorMessage(add.error)}</span>}
    </form>
  );
}

export function ReplicationTargets() {
  const targets = useReplTargets();
  const kept = useKeptReplicas();
  const remove = useDeleteReplTarget();
  const confirm = useConfirm();
  return (
    <Card title="Accept replicas from other nodes">
      <p className="muted small">A node replicates into a pool of this one only when allowed here.</p>
      <QueryState q={targets} empty={(l) => l.length === 0 && "No node may replicate into this one."}>
        {(list) => (
          <table>
            <thead><tr><th>Node</th><th>Pool</th><th>Since</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.map((t) => (
              <tr key={`${t.peer}/${t.pool}`} data-testid={`repl-target-${t.peer}-${t.pool}`}>
                <td>{t.peer}</td><td>{t.pool}</td><td>{when(iso(t.created))}</td>
                <td className="actions"><button type="button" className="btn small danger needs-admin" onClick={async () => {
                  if (await confirm({ title: "Stop accepting", message: `Stop accepting replicas from ${t.peer} into ${t.pool}? Replicas already stored stay.`, confirmText: "Stop", danger: true })) remove.mutate(t);
                }}>Revoke</button></td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </QueryState>
      <AllowForm />
      <QueryState q={kept} empty={(l) => l.length === 0 && "No other node keeps a replica here."}>
        {(list) => (
          <table aria-label="Replicas kept here">
            <thead><tr><th>Replica</th><th>From node</th><th>Kind</th><th>Since</th></tr></thead>
            <tbody>{list.map((r) => (
              <tr key={`${r.pool}/${r.volume}`}><td>{r.pool} / {r.volume}</td><td>{r.peer}</td><td>{r.sealed ? <><Badge value="sealed" /> <span className="muted small">{r.blobs ?? 0} files, unreadable here</span></> : "snapshots"}</td><td>{when(iso(r.created))}</td></tr>
            ))}</tbody>
          </table>
        )}
      </QueryState>
    </Card>
  );
}
