import { useState, type FormEvent } from "react";
import { Badge, Card, Field, Modal, ProgressBar, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { liveOf, percentOf, useCancelCompressionJob, useCodecs, useCompressionJobs, useCompressionStats, useCreateCompressionJob, type CodecTotals } from "../hooks/useCompression";
import { bytes, duration, percent, rate, when } from "../lib/format";
import { FINISHED } from "../lib/types";

function NewJob({ onDone }: { onDone: () => void }) {
  const create = useCreateCompressionJob();
  const codecs = useCodecs();
  const names = codecs.data?.map((c) => c.name) ?? ["zstd", "gzip", "xz", "bz2"];
  const [f, setF] = useState({ operation: "compress", source: "", target: "", codec: "zstd", level: "", threads: "" });
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF((o) => ({ ...o, [k]: e.target.value }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = { operation: f.operation, source: f.source };
    if (f.operation === "compress" || f.operation === "recompress") body.codec = f.codec;
    if (f.target) body.target = f.target;
    if (f.level) body.level = Number(f.level);
    if (f.threads) body.threads = Number(f.threads);
    create.mutate(body, { onSuccess: onDone });
  };
  return (
    <form onSubmit={submit} className="form-grid">
      <Field label="Operation">
        <select name="operation" value={f.operation} onChange={set("operation")}>
          {["compress", "decompress", "recompress", "verify"].map((o) => <option key={o}>{o}</option>)}
        </select>
      </Field>
      <Field label="Source path" hint="a file or folder inside a volume"><input name="source" required value={f.source} onChange={set("source")} /></Field>
      <Field label="Target path (optional)"><input name="target" value={f.target} onChange={set("target")} /></Field>
      <Field label="Codec">
        <select name="codec" value={f.codec} onChange={set("codec")}>{names.map((n) => <option key={n}>{n}</option>)}</select>
      </Field>
      <Field label="Level (optional)"><input name="level" type="number" value={f.level} onChange={set("level")} /></Field>
      <Field label="Threads (optional)" hint="0: one per core"><input name="threads" type="number" min={0} value={f.threads} onChange={set("threads")} /></Field>
      <div className="modal-actions">
        <button type="button" className="btn" onClick={onDone}>Cancel</button>
        <button type="submit" className="btn primary" disabled={create.isPending}>Start</button>
      </div>
    </form>
  );
}

function StatsRow({ t, label }: { t: CodecTotals; label: string }) {
  return (
    <tr><td>{label}</td><td>{t.jobs}</td><td>{bytes(t.bytes_in)}</td><td>{bytes(t.bytes_out)}</td><td>{t.ratio_text ?? "—"}</td><td>{percent(t.saved_percent, 1)}</td><td>{rate(t.mean_throughput)}</td></tr>
  );
}

export default function Compression() {
  const jobs = useCompressionJobs();
  const stats = useCompressionStats();
  const cancel = useCancelCompressionJob();
  const confirm = useConfirm();
  const [open, setOpen] = useState(false);
  return (
    <div className="page">
      <h1>Compression</h1>
      <Card title="Statistics">
        <QueryState q={stats} empty={(s) => s.codecs.length === 0 && "No compression jobs have finished yet."}>
          {(s) => (
            <table>
              <thead><tr><th>Codec</th><th>Jobs</th><th>Bytes in</th><th>Bytes out</th><th>Ratio</th><th>Saved</th><th>Mean throughput</th></tr></thead>
              <tbody>
                {s.codecs.map((t) => <StatsRow key={t.codec ?? "?"} t={t} label={t.codec ?? "?"} />)}
                <StatsRow t={s.total} label="total" />
              </tbody>
            </table>
          )}
        </QueryState>
      </Card>
      <Card title="Jobs" actions={<button type="button" className="btn primary needs-admin" onClick={() => setOpen(true)}>New job</button>}>
        <QueryState q={jobs} empty={(d) => d.items.length === 0 && "No compression jobs yet."}>
          {(page) => (
            <table>
              <thead><tr><th>Job</th><th>Source</th><th>Codec</th><th>State</th><th>Progress</th><th>In → out</th><th>Ratio</th><th>Speed / ETA</th><th>Created</th><th><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>{page.items.map((j) => (
                <tr key={j.id} data-testid={`cjob-${j.id}`} data-state={j.state}>
                  <td><code title={j.id}>{j.id.slice(0, 8)}</code> <span className="muted">{j.kind.replace(/^compression\./, "")}</span></td>
                  <td className="small">{String(j.params.source ?? "")}</td>
                  <td>{String(j.params.codec ?? "—")}{j.params.level != null && ` ${String(j.params.level)}`}</td>
                  <td><Badge value={j.state} />{j.error && <div className="form-error small">{j.error}</div>}</td>
                  <td><ProgressBar label={`compression ${j.id.slice(0, 8)}`} value={percentOf(j)} /></td>
                  <td>{bytes(liveOf(j).bytes_in)} → {bytes(liveOf(j).bytes_out)}</td>
                  <td>{liveOf(j).ratio_text ?? "—"}</td>
                  <td>{rate(liveOf(j).throughput)}{liveOf(j).eta_seconds ? ` · ${duration(liveOf(j).eta_seconds!)}` : ""}</td>
                  <td>{when(j.created_at)}</td>
                  <td>{!FINISHED.includes(j.state) && <button type="button" className="btn small danger needs-admin" onClick={async () => {
                    if (await confirm({ title: "Cancel job?", message: "The partial output is removed.", confirmText: "Cancel job", danger: true })) cancel.mutate(j.id);
                  }}>Cancel</button>}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
      </Card>
      <Modal open={open} title="New compression job" onClose={() => setOpen(false)}>
        {open && <NewJob onDone={() => setOpen(false)} />}
      </Modal>
    </div>
  );
}
