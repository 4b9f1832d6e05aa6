import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { SchemaForm } from "../components/SchemaForm";
import { Badge, Card, ProgressBar, QueryState } from "../components/ui";
import { useAgents, useAgentTasks, useDispatch, useSwarm } from "../hooks/useAgents";
import { ago, duration, when } from "../lib/format";
import type { AgentInfo } from "../lib/types";

function AgentDetail({ agent }: { agent: AgentInfo }) {
  const tasks = useAgentTasks(agent.name);
  const dispatch = useDispatch(agent.name);
  return (
    <div className="grid2">
      <Card className="needs-admin" title={<>Dispatch to {agent.name}</>}>
        <p className="muted">{agent.description || agent.specialty}</p>
        <SchemaForm key={agent.name} idPrefix={`agent-${agent.name}`} schema={agent.params_schema ?? {}} submitText="Dispatch task" busy={dispatch.isPending} onSubmit={(params) => dispatch.mutate(params)} />
      </Card>
      <Card title="History">
        <QueryState q={tasks} empty={(d) => d.length === 0 && "No tasks yet."}>
          {(list) => (
            <table data-testid="agent-tasks">
              <thead><tr><th>Task</th><th>State</th><th>Progress</th><th>Created</th><th>Duration</th></tr></thead>
              <tbody>{list.map((t) => (
                <tr key={t.id} data-state={t.state}>
                  <td><code title={t.id}>{t.id.slice(0, 8)}</code>{t.error && <div className="form-error">{t.error}</div>}</td>
                  <td><Badge value={t.state} /></td>
                  <td><ProgressBar label={`task ${t.id.slice(0, 8)}`} value={t.state === "SUCCESS" ? 100 : (t.progress?.percent ?? 0)} /></td>
                  <td>{when(t.created_at)}</td><td>{duration(t.duration)}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
        {tasks.data?.[0]?.result != null && (
          <details>
            <summary>Latest result</summary>
            <pre className="json">{JSON.stringify(tasks.data[0].result, null, 2)}</pre>
          </details>
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
  const shown = (agents.data ?? []).filter((a) => (!tier || a.tier === tier) && (!q || `${a.name} ${a.specialty} ${a.owner}`.toLowerCase().includes(q.toLowerCase())));
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
          <input type="search" aria-label="filter agents" placeholder="filter" value={q} onChange={(e) => setQ(e.target.value)} />
          <select aria-label="tier" value={tier} onChange={(e) => setTier(e.target.value)}>
            <option value="">all tiers</option>
            {tiers.map((t) => <option key={t}>{t}</option>)}
          </select>
        </div>
      }>
        <QueryState q={agents} empty={(d) => d.length === 0 && "No agents registered."}>
          {() => (
            <table>
              <thead><tr><th>Agent</th><th>Tier</th><th>Specialty</th><th>Status</th><th>Running / queued</th><th>Done / failed</th><th>Last active</th><th>Plugin</th></tr></thead>
              <tbody>{shown.map((a) => (
                <tr key={a.id ?? a.name} data-testid={`agent-${a.name}`} className={selected?.name === a.name ? "selected" : undefined}>
                  <td><Link to={`/agents/${encodeURIComponent(a.name)}`}>{a.name}</Link></td>
                  <td>{a.tier}</td><td>{a.specialty}</td><td><Badge value={a.status} /></td>
                  <td>{a.running} / {a.queued}</td><td>{a.counters?.tasks_done ?? 0} / {a.counters?.tasks_failed ?? 0}</td>
                  <td>{ago(a.counters?.last_active)}</td><td>{a.owner}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
      </Card>
    </div>
  );
}
