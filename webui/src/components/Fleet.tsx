/** The fleet on the Dashboard: every mesh node with its health (as the server judged it, with its
 * reasons), pools and the last replication to and from it, read over the mesh by this node
 * (`GET /replication/fleet`). */
import { Link } from "react-router";
import { Badge, Card, QueryState } from "./ui";
import { useFleet, type FleetNode } from "./ReplicationApi";
import { iso, runSummary } from "./Replication";
import { bytes, when } from "../lib/format";

const WORD = { ok: "healthy", degraded: "degraded", down: "down" } as const;

/** One word for a node, from the server's health. */
export const nodeHealth = (n: FleetNode): "healthy" | "degraded" | "down" => WORD[n.health.state];

function Health({ n }: { n: FleetNode }) {
  return (
    <>
      <Badge value={nodeHealth(n)} />
      {n.reachable && n.latency_ms != null && <div className="muted small">{Math.round(n.latency_ms)} ms</div>}
      {n.health.reasons.filter((r) => r.kind !== "unreachable").length > 0 && (
        <ul className="plain small" aria-label={`Why ${n.peer} is ${nodeHealth(n)}`}>
          {n.health.reasons.filter((r) => r.kind !== "unreachable").map((r, i) => <li key={i}>{r.message}</li>)}
        </ul>
      )}
      {n.system && <div className="muted small">{n.system.hostname}{n.system.cpu_percent != null ? ` · CPU ${Math.round(n.system.cpu_percent)} %` : ""}{n.system.memory_percent != null ? ` · memory ${Math.round(n.system.memory_percent)} %` : ""}</div>}
    </>
  );
}

function LastFrom({ n }: { n: FleetNode }) {
  const f = n.last_replication_from;
  if (!f) return <span className="muted">none</span>;
  return (
    <>
      <span>{f.pool}/{f.volume}</span>{f.sealed && <> <Badge value="encrypted" /></>}
      <div className="muted small">{[f.snapshot, f.bytes != null ? bytes(f.bytes) : null, f.at != null ? when(iso(f.at)) : null].filter(Boolean).join(" · ")}</div>
    </>
  );
}

function Pools({ n }: { n: FleetNode }) {
  if (!n.reachable) return <span className="muted">{n.health.reasons[0]?.message ?? n.error ?? "not reachable"}</span>;
  if (n.pools.length === 0) return <span className="muted">no pools</span>;
  return (
    <ul className="plain">
      {n.pools.map((p) => (
        <li key={p.name}>
          <strong>{p.name}</strong> <span className="muted">{p.backend}</span>{p.state && p.state !== "online" && <> <Badge value={p.state} /></>}
          {p.size != null && <span className="muted small"> · {bytes(p.size - (p.free ?? 0))} of {bytes(p.size)} used</span>}
        </li>
      ))}
    </ul>
  );
}

export function Fleet() {
  const fleet = useFleet();
  return (
    <Card title="Fleet" actions={<Link to="/protection">Replication</Link>}>
      <QueryState q={fleet} empty={(l) => l.length === 0 && "No other SigmaVault node has joined this one over PhantomMesh."}>
        {(list) => (
          <table>
            <thead><tr><th>Node</th><th>Health</th><th>Pools</th><th>Last replication to it</th><th>Last replication from it</th></tr></thead>
            <tbody>{list.map((n) => (
              <tr key={n.peer} data-testid={`fleet-${n.peer}`}>
                <td><strong>{n.peer}</strong>{n.node_name && n.node_name !== n.peer && <div className="muted small">{n.node_name}</div>}</td>
                <td><Health n={n} /></td>
                <td><Pools n={n} /></td>
                <td>{n.last_replication
                  ? <><Badge value={n.last_replication.state} /> <span className="muted small">{when(iso(n.last_replication.ended ?? n.last_replication.started))}</span><div className="small">{runSummary(n.last_replication)}</div></>
                  : <span className="muted">{n.tasks ? "not run yet" : "none"}</span>}</td>
                <td><LastFrom n={n} /></td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </QueryState>
    </Card>
  );
}
