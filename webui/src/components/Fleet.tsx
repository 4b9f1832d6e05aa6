/** The fleet on the Dashboard: every mesh node with its health, pools and the last replication
 * to it, read over the mesh by this node (`GET /replication/fleet`). */
import { Link } from "react-router";
import { Badge, Card, QueryState } from "./ui";
import { useFleet, type FleetNode } from "./ReplicationApi";
import { iso, runSummary } from "./Replication";
import { bytes, when } from "../lib/format";

const BAD_POOL = new Set(["degraded", "faulted", "unavailable", "offline", "error", "missing"]);

/** One word for a node: down when unreachable, degraded when a pool is, else healthy. */
export function nodeHealth(n: FleetNode): "down" | "degraded" | "healthy" {
  if (!n.reachable) return "down";
  return n.pools.some((p) => BAD_POOL.has(String(p.state ?? "").toLowerCase())) ? "degraded" : "healthy";
}

function Pools({ n }: { n: FleetNode }) {
  if (!n.reachable) return <span className="muted">{n.error ?? "not reachable"}</span>;
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
            <thead><tr><th>Node</th><th>Health</th><th>Pools</th><th>Last replication to it</th></tr></thead>
            <tbody>{list.map((n) => (
              <tr key={n.peer} data-testid={`fleet-${n.peer}`}>
                <td><strong>{n.peer}</strong>{n.node_name && n.node_name !== n.peer && <div className="muted small">{n.node_name}</div>}</td>
                <td><Badge value={nodeHealth(n)} />{n.reachable && n.latency_ms != null && <div className="muted small">{Math.round(n.latency_ms)} ms</div>}</td>
                <td><Pools n={n} /></td>
                <td>{n.last_replication
                  ? <><Badge value={n.last_replication.state} /> <span className="muted small">{when(iso(n.last_replication.ended ?? n.last_replication.started))}</span><div className="small">{runSummary(n.last_replication)}</div></>
                  : <span className="muted">{n.tasks ? "not run yet" : "none"}</span>}</td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </QueryState>
    </Card>
  );
}
