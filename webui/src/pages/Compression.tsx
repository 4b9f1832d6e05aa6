import { useState, type FormEvent } from "react";
import { Badge, Card, Field, Modal, ProgressBar, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { jobPaths, liveOf, percentOf, useCancelCompressionJob, useCodecs, useCompressionJobs, useCompressionStats, useCreateCompressionJob, type CodecTotals, type CompressionJob } from "../hooks/useCompression";
import { bytes, duration, percent, rate, when } from "../lib/format";
import { LocationPicker, type PickedLocation } from "../components/FilePicker";
import { fieldErrors } from "../lib/errors";
import { FINISHED } from "../lib/types";

/** The picked location as the compression API takes it: `{pool, volume, subpath}` (relative to
 * the volume; "" is the whole volume). */
export function sourceOf(l: PickedLocation): { pool: string; volume: string; subpath: string } {
  return { pool: l.pool, volume: l.volume, subpath: l.path };
}

const OPERATIONS: [string, string][] = [
  ["compress", "Compress: write a compressed copy beside it"],
  ["decompress", "Decompress: restore the original beside it"],
  ["recompress", "Recompress an archive (gzip/xz/bz2) in a better format"],
  ["verify", "Verify: check that a compressed file decodes"],
];

const EXTENSIONS: Record<string, string> = { zstd: ".zst", gzip: ".gz", xz: ".xz", bz2: ".bz2" };

/** The whole volume (the root of one), not a file or folder inside it. */
export const isWholeVolume = (l: PickedLocation | null): boolean => !!l && l.path === "" && l.type === "dir";

const base = (path: string) => path.slice(path.lastIndexOf("/") + 1);
const inFolder = (folder: PickedLocation, name: string) => ({ pool: folder.pool, volume: folder.volume, subpath: folder.path ? `${folder.path}/${name}` : name });
const TAR = /\.(tar\.[a-z0-9]+|tgz|tbz2?|txz|tzst)$/i;

/** Where the archive of a whole volume goes: `<volume>.tar<ext>` in the picked folder. */
export function archiveTarget(source: PickedLocation, folder: PickedLocation, extension: string) {
  return inFolder(folder, `${source.volume}.tar${extension}`);
}

/** The target when the result goes into a picked folder (or a whole volume) instead of beside the
 * source: compress names the archive as the default would; a tar archive is extracted into the
 * folder itself; another compressed file is written there without its codec suffix. */
export function resultTarget(operation: string, source: PickedLocation, folder: PickedLocation, extension: string) {
  if (operation === "compress") {
    return isWholeVolume(source) ? archiveTarget(source, folder, extension) : inFolder(folder, `${base(source.path)}${source.type === "dir" ? ".tar" : ""}${extension}`);
  }
  const name = base(source.path);
  if (TAR.test(name)) return { pool: folder.pool, volume: folder.volume, subpath: folder.path };
  const dot = name.lastIndexOf(".");
  return inFolder(folder, dot > 0 ? name.slice(0, dot) : `${name}.out`);
}

/** The new-job form. The source is a file, a folder or a whole volume; the result is written
 * beside it, or into a folder or whole volume picked for it. A whole volume has no "beside"
 * inside it, so its archive always goes to a picked folder (in another volume). */
export function NewJob({ onDone }: { onDone: () => void }) {
  const create = useCreateCompressionJob();
  const codecs = useCodecs();
  const names = codecs.data?.map((c) => c.name) ?? ["zstd", "gzip", "xz", "bz2"];
  const [f, setF] = useState({ operation: "compress", codec: "zstd", level: "", threads: "" });
  const [source, setSource] = useState<PickedLocation | null>(null);
  const [elsewhere, setElsewhere] = useState(false);
  const [folder, setFolder] = useState<PickedLocation | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [folderProblem, setFolderProblem] = useState<string | null>(null);
  const errs = fieldErrors(create.error);
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF((o) => ({ ...o, [k]: e.target.value }));
  const compress = f.operation === "compress";
  const whole = compress && isWholeVolume(source);
  const canMove = compress || f.operation === "decompress";
  const toFolder = canMove && (whole || elsewhere);
  const codecInfo = codecs.data?.find((c) => c.name === f.codec) as { extension?: string } | undefined;
  const extension = codecInfo?.extension ?? EXTENSIONS[f.codec] ?? `.${f.codec}`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!source) { setProblem(compress ? "Choose the file, folder or volume first." : "Choose the file first."); return; }
    setProblem(null);
    if (toFolder && !folder) { setFolderProblem(whole ? "Choose the folder that takes the archive." : "Choose the folder or volume for the result."); return; }
    if (whole && folder && folder.pool === source.pool && folder.volume === source.volume) {
      setFolderProblem("The archive cannot go inside the volume it is made of: choose a folder in another volume.");
      return;
    }
    setFolderProblem(null);
    if (f.level && !/^-?\d+$/.test(f.level)) return;
    const body: Record<string, unknown> = { operation: f.operation, source: sourceOf(source) };
    if (toFolder && folder) body.target = resultTarget(f.operation, source, folder, extension);
    if (compress || f.operation === "recompress") body.codec = f.codec;
    if (f.level) body.level = Number(f.level);
    if (f.threads) body.threads = Number(f.threads);
    create.mutate(body, { onSuccess: onDone });
  };
  const needsCodec = compress || f.operation === "recompress";
  const levelBad = f.level !== "" && !/^-?\d+$/.test(f.level);
  const targetError = errs["target.subpath"] ?? errs.target;
  const preview = source && folder && toFolder ? resultTarget(f.operation, source, folder, extension) : null;
  return (
    <form onSubmit={submit} className="form-grid" noValidate>
      <Field label="Operation" error={errs.operation}>
        <select name="operation" value={f.operation} onChange={set("operation")}>
          {OPERATIONS.map(([o, text]) => <option key={o} value={o}>{text}</option>)}
        </select>
      </Field>
      <LocationPicker name="compression-source" label={compress ? "File, folder or whole volume to compress" : "Compressed file"} accept={compress ? "any" : "file"} value={source} onChange={(l) => { setSource(l); setProblem(null); }}
        error={problem ?? errs["source.subpath"] ?? errs.source ?? (targetError && !toFolder ? `The result: ${targetError}` : undefined)}
        hint={compress ? "A file or folder: the result is written beside it (x → x.zst, a folder → folder.tar.zst) unless you choose a place below. The whole volume: “Choose this folder (the whole volume)” at its top." : "The result is written beside it unless you choose a place below."} />
      {canMove && !whole && (
        <label className="check"><input type="checkbox" name="compression-elsewhere" checked={elsewhere} onChange={(e) => setElsewhere(e.target.checked)} /> Put the result in another folder or volume</label>
      )}
      {toFolder && (
        <LocationPicker name="compression-target" label={whole ? "Folder for the volume's archive" : "Folder or volume for the result"} accept="dir" value={folder} onChange={(l) => { setFolder(l); setFolderProblem(null); }}
          error={folderProblem ?? targetError}
          hint={preview ? `The result: ${[preview.pool, preview.volume, ...(preview.subpath ? [preview.subpath] : [])].join(" / ")}${f.operation === "decompress" && TAR.test(source?.path ?? "") ? " (extracted into it)" : ""}`
            : whole && source ? `The whole volume ${source.volume} becomes ${source.volume}.tar${extension} in this folder; pick one in another volume.` : "A folder, or “Choose this folder (the whole volume)” at a volume's top."} />
      )}
      {needsCodec && (
        <Field label="Codec" error={errs.codec}>
          <select name="codec" value={f.codec} onChange={set("codec")}>{names.map((n) => <option key={n}>{n}</option>)}</select>
        </Field>
      )}
      {needsCodec && <Field label="Level (optional)" hint="a whole number; higher is smaller and slower (zstd 1–19)" error={levelBad ? "Enter a whole number." : errs.level}><input name="level" inputMode="numeric" value={f.level} aria-invalid={levelBad || !!errs.level} onChange={set("level")} /></Field>}
      <Field label="Threads (optional)" hint="0: one per core" error={errs.threads}><input name="threads" type="number" min={0} value={f.threads} onChange={set("threads")} /></Field>
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

/** Source (and where the result went) of a job row; the host paths on hover. */
function JobPaths({ j }: { j: CompressionJob }) {
  const p = jobPaths(j);
  return (
    <>
      <span title={p.sourceTitle}>{p.source}</span>
      {p.target && <div className="muted" title={p.targetTitle}>→ {p.target}</div>}
    </>
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
              <thead><tr><th>Job</th><th>Source</th><th>Codec</th><th>State</th><th>Progress</th><th>In → out</th><th>Ratio</th><th>Speed / ETA</th><th>Created</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>{page.items.map((j) => (
                <tr key={j.id} data-testid={`cjob-${j.id}`} data-state={j.state}>
                  <td><code title={j.id}>{j.id.slice(0, 8)}</code> <span className="muted">{j.kind.replace(/^compression\./, "")}</span></td>
                  <td className="small" data-testid="cjob-source" style={{ overflowWrap: "anywhere" }}><JobPaths j={j} /></td>
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
