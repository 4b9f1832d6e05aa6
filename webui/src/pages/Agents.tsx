import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { SchemaForm } from "../components/SchemaForm";
import { ResultView } from "../components/ResultView";
import { RichText } from "../components/RichText";
import { plainAgent } from "../lib/agentNames";
import { fieldErrors } from "../lib/errors";
import { Badge, Card, ProgressBar, QueryState } from "../components/ui";
import { useAgents, useAgentTasks, useDispatch, useSwarm } from "../hooks/useAgents";
import { ago, duration, when } from "../lib/format";
import type { AgentInfo } from "../lib/types";

/** 422 problems of a dispatch, by parameter name (`params.pool` → `pool`). */
function paramErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fieldErrors(e))) out[k.replace(/^params\./, "")] = v;
  return out;
}

function AgentDetail({ agent }: { agent: AgentInfo }) {
  const tasks = useAgentTasks(agent.name);
  const dispatch = useDispatch(agent.name);
  const plain = plainAgent(agent.name, agent.specialty);
  const [shown, setShown] = useState<string | null>(null);
  const list = tasks.data ?? [];
  const current = list.find((t) => t.id === shown) ?? list.find((t) => t.result != null || t.error);
  return (
    <div className="grid2">
      <Card className="needs-admin" title={<><span className="plain-name">{plain.title}</span><span className="agent-code" title="code name">{agent.name}</span></>}>
        <p>{plain.purpose}</p>
        {agent.description && agent.description !== plain.purpose && <p className="muted"><RichText text={agent.description} /></p>}
        <SchemaForm key={agent.name} idPrefix={`agent-${agent.name}`} schema={agent.params_schema ?? {}} submitText="Run" busy={dispatch.isPending} fieldErrors={paramErrors(dispatch.error)} onSubmit={(params) => dispatch.mutate(params)} />
      </Card>
      <Card title="Recent runs">
        <QueryState q={tasks} empty={(d) => d.length === 0 && "Not run yet."}>
          {(rows) => (
            <table data-testid="agent-tasks">
              <thead><tr><th>Started</th><th>State</th><th>Progress</th><th>Took</th><th className="actions"><span className="sr-only">Result</span></th></tr></thead>
              <tbody>{rows.map((t) => (
                <tr key={t.id} data-state={t.state} className={current?.id === t.id ? "selected" : undefined}>
                  <td>{when(t.created_at)}{t.error && <div className="form-error">{t.error}</div>}</td>
                  <td><Badge value={t.state} /></td>
                  <td><ProgressBar label={`task ${t.id.slice(0, 8)}`} value={t.state === "SUCCESS" ? 100 : (t.progress?.percent ?? 0)} /></td>
                  <td>{duration(t.duration)}</td>
                  <td className="actions">{t.result != null && <button type="button" className="btn small" aria-pressed={current?.id === t.id} onClick={() => setShown(t.id)}>Result</button>}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
        {current?.result != null && (
          <section aria-label="Result">
            <h3>Result of the run started {when(current.created_at)}</h3>
            <ResultView data={current.result} />
          </section>
        )}
      </Card>
    </div>
  );
}

export default function Agents() {
  const { name } = useParams();
  const agents = useAgents();
  const swarm = useSwarm();
  const [q, setQ] = useState("");
  const [tier, setTier] = useState("");
  const tiers = useMemo(() => [...new Set((agents.data ?? []).map((a) => a.tier))].sort(), [agents.data]);
  const shown = (agents.data ?? []).filter((a) => (!tier || a.tier === tier) && (!q || `${a.name} ${plainAgent(a.name).title} ${plainAgent(a.name).purpose} ${a.specialty} ${a.owner}`.toLowerCase().includes(q.toLowerCase())));
  const selected = agents.data?.find((a) => a.name === name || a.id === name);
  const busy = (agents.data ?? []).filter((a) => a.status === "busy").length;
  return (
    <div className="page">
      <h1>Agents</h1>
      <div className="tiles">
        <div className="tile"><span>Agents</span><strong data-testid="agent-count">{agents.data?.length ?? "—"}</strong></div>
        <div className="tile"><span>Busy</span><strong>{busy}</strong></div>
        <div className="tile"><span>Queued</span><strong>{String((swarm.data as { queued?: number } | undefined)?.queued ?? "—")}</strong></div>
        <div className="tile"><span>Running</span><strong>{String((swarm.data as { running?: number } | undefined)?.running ?? "—")}</strong></div>
      </div>
      {selected && <AgentDetail agent={selected} />}
      <Card title="Swarm" actions={
        <div className="inline">
          <input type="search" aria-label="filter agents" placeholder="search by name or purpose" value={q} onChange={(e) => setQ(e.target.value)} />
          <select aria-label="tier" value={tier} onChange={(e) => setTier(e.target.value)}>
            <option value="">all tiers</option>
            {tiers.map((t) => <option key={t}>{t}</option>)}
          </select>
        </div>
      }>
        <QueryState q={agents} empty={(d) => d.length === 0 && "No agents registered."}>
          {() => (
            <table>
              <thead><tr><th>Agent</th><th>What it does</th><th>Status</th><th>Running / queued</th><th>Done / failed</th><th>Last active</th><th>Group</th></tr></thead>
              <tbody>{shown.map((a) => (
                <tr key={a.id ?? a.name} data-testid={`agent-${a.name}`} className={selected?.name === a.name ? "selected" : undefined}>
                  <td><Link to={`/agents/${encodeURIComponent(a.name)}`} aria-label={`${plainAgent(a.name).title} (${a.name})`}>{plainAgent(a.name).title}</Link><span className="agent-code">{a.name}</span></td>
                  <td className="wrap">{plainAgent(a.name, a.specialty).purpose}</td><td><Badge value={a.status} /></td>
                  <td>{a.running} / {a.queued}</td><td>{a.counters?.tasks_done ?? 0} / {a.counters?.tasks_failed ?? 0}</td>
                  <td>{ago(a.counters?.last_active)}</td><td>{a.tier}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
      </Card>
    </div>
  );
}
