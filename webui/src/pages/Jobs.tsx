import { useState } from "react";
import { Badge, Card, Modal, ProgressBar, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { ResultView } from "../components/ResultView";
import { useSearchParams } from "react-router";
import { useCancelJob, useJob, useJobLogs, useJobs } from "../hooks/useJobs";
import { when } from "../lib/format";
import { FINISHED, type JobState } from "../lib/types";

const STATES: JobState[] = ["WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED"];
const LIMIT = 25;

function JobDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const job = useJob(id);
  const logs = useJobLogs(id);
  return (
    <>
      <QueryState q={job}>
        {(j) => (
          <>
            <p><Badge value={j.state} /> {j.kind} — {j.description}</p>
            <ProgressBar label="job progress" value={j.progress.percent} />
            {j.error && <p className="form-error">{j.error}</p>}
            <h3>What was asked</h3>
            <ResultView data={j.params} />
            {j.result != null && <><h3>Result</h3><ResultView data={j.result} /></>}
          </>
        )}
      </QueryState>
      <h3>Log</h3>
      <QueryState q={logs} empty={(d) => d.length === 0 && "No log lines."}>
        {(l) => <pre className="log">{l.map((x) => `${x.ts}  ${x.message}`).join("\n")}</pre>}
      </QueryState>
      <div className="modal-actions"><button type="button" className="btn" onClick={onClose}>Close</button></div>
    </>
  );
}

export default function Jobs() {
  const [state, setState] = useState<JobState | "">("");
  const [kind, setKind] = useState("");
  const [offset, setOffset] = useState(0);
  const [params, setParams] = useSearchParams();
  const open = params.get("job");
  const setOpen = (id: string | null) => setParams((p) => { const n = new URLSearchParams(p); if (id) n.set("job", id); else n.delete("job"); return n; });
  const jobs = useJobs({ state, kind, limit: LIMIT, offset });
  const cancel = useCancelJob();
  const confirm = useConfirm();
  return (
    <div className="page">
      <h1>Jobs</h1>
      <Card actions={
        <div className="inline">
          <select aria-label="state" value={state} onChange={(e) => { setState(e.target.value as JobState | ""); setOffset(0); }}>
            <option value="">all states</option>
            {STATES.map((s) => <option key={s}>{s}</option>)}
          </select>
          <input aria-label="kind" placeholder="kind, e.g. storage.*" value={kind} onChange={(e) => { setKind(e.target.value); setOffset(0); }} />
        </div>
      }>
        <QueryState q={jobs} empty={(d) => d.items.length === 0 && "No jobs."}>
          {(page) => (
            <>
              <table>
                <thead><tr><th>Job</th><th>Kind</th><th>State</th><th>Progress</th><th>Owner</th><th>Created</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
                <tbody>{page.items.map((j) => (
                  <tr key={j.id} data-testid={`job-${j.id}`}>
                    <td><button type="button" className="link" onClick={() => setOpen(j.id)}><code>{j.id.slice(0, 8)}</code></button> {j.description}</td>
                    <td>{j.kind}</td><td><Badge value={j.state} /></td>
                    <td><ProgressBar label={`job ${j.id.slice(0, 8)}`} value={j.progress.percent} /></td>
                    <td>{j.created_by ?? j.owner}</td><td>{when(j.created_at)}</td>
                    <td>{!FINISHED.includes(j.state) && <button type="button" className="btn small danger needs-admin" onClick={async () => {
                      if (await confirm({ title: "Cancel job?", message: <>Cancel <b>{j.description || j.kind}</b>?</>, confirmText: "Cancel job", danger: true })) cancel.mutate(j.id);
                    }}>Cancel</button>}</td>
                  </tr>
                ))}</tbody>
              </table>
              <div className="pager">
                <button type="button" className="btn small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - LIMIT))}>Previous</button>
                <span>{page.total ? `${offset + 1}–${Math.min(offset + LIMIT, page.total)} of ${page.total}` : ""}</span>
                <button type="button" className="btn small" disabled={offset + LIMIT >= page.total} onClick={() => setOffset(offset + LIMIT)}>Next</button>
              </div>
            </>
          )}
        </QueryState>
      </Card>
      <Modal open={!!open} title="Job" onClose={() => setOpen(null)}>
        {open && <JobDetail id={open} onClose={() => setOpen(null)} />}
      </Modal>
    </div>
  );
}
