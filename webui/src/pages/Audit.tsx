import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Badge, Card, QueryState } from "../components/ui";
import { get } from "../lib/api";
import { when } from "../lib/format";
import type { Page } from "../lib/types";
import { AUDIT_AREAS, describeAudit, outcomeWords } from "../lib/auditWords";

interface AuditRecord { id: number; ts: string; actor: string; address: string; action: string; target: string; outcome: string; details: Record<string, unknown> }
const LIMIT = 50;

export default function Audit() {
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const [offset, setOffset] = useState(0);
  const q = useQuery({ queryKey: ["audit", actor, action, offset], queryFn: () => get<Page<AuditRecord>>("audit", { actor, action, limit: LIMIT, offset }) });
  const verify = useQuery({ queryKey: ["audit", "verify"], queryFn: () => get<{ ok: boolean; checked: number; first_bad_id: number | null }>("audit/verify"), enabled: false });
  return (
    <div className="page">
      <h1>Audit log</h1>
      <Card actions={
        <div className="inline">
          <input aria-label="who (user name)" placeholder="who (user name)" value={actor} onChange={(e) => { setActor(e.target.value); setOffset(0); }} />
          <select aria-label="area" value={action} onChange={(e) => { setAction(e.target.value); setOffset(0); }}>
            {AUDIT_AREAS.map(([v, text]) => <option key={v} value={v}>{text}</option>)}
          </select>
          <button type="button" className="btn small" onClick={() => void verify.refetch()}>Verify chain</button>
          {verify.data && <Badge value={verify.data.ok ? `intact (${verify.data.checked})` : `tampered at #${verify.data.first_bad_id}`} />}
        </div>
      }>
        <QueryState q={q} empty={(d) => d.items.length === 0 && "No records."}>
          {(page) => (
            <>
              <table>
                <thead><tr><th>When</th><th>Who</th><th>What</th><th>Result</th><th>From</th></tr></thead>
                <tbody>{page.items.map((r) => (
                  <tr key={r.id}>
                    <td>{when(r.ts)}</td><td>{r.actor}</td>
                    <td className="wrap"><span title={`${r.action} ${r.target}`}>{describeAudit(r)}</span>{Number((r as { count?: number }).count ?? 1) > 1 && <small className="muted"> ×{String((r as { count?: number }).count)}</small>}</td>
                    <td><Badge value={r.outcome === "ok" ? "ok" : /5\d\d|404/.test(r.outcome) ? "failed" : "refused"} /> <small>{outcomeWords(r.outcome).replace(/^(refused|failed): /, "")}</small></td>
                    <td><small className="muted">{r.address}</small></td>
                  </tr>
                ))}</tbody>
              </table>
              <div className="pager">
                <button type="button" className="btn small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - LIMIT))}>Previous</button>
                <span>{offset + 1}–{Math.min(offset + LIMIT, page.total)} of {page.total}</span>
                <button type="button" className="btn small" disabled={offset + LIMIT >= page.total} onClick={() => setOffset(offset + LIMIT)}>Next</button>
              </div>
            </>
          )}
        </QueryState>
      </Card>
    </div>
  );
}
