import { Badge, Card, QueryState } from "./ui";
import { useNfsClients, useNfsStatus } from "../hooks/useNfs";

const SERVER_NAME = { ganesha: "NFS-Ganesha", kernel: "the kernel's NFS server" } as const;

/** The NFS server's state: switched off, down, or running (which server, port, versions). */
export function NfsServerState({ shares }: { shares: number }) {
  const status = useNfsStatus();
  if (!status.data) return null;
  const s = status.data;
  if (!s.enabled) {
    return <div className="card state error" role="alert" data-testid="nfs-banner"><strong>NFS sharing is switched off</strong> in the daemon's configuration (<code>[nfs] enabled</code>): no computer can mount these shares over NFS.</div>;
  }
  if (!s.running && s.exports > 0) {
    return <div className="card state error" role="alert" data-testid="nfs-banner"><strong>The NFS service ({SERVER_NAME[s.server]}) is down.</strong> Computers cannot mount the NFS shares right now. SigmaVault restarts it by itself; if this stays, look at the alerts on the Dashboard.</div>;
  }
  return (
    <p className="inline" data-testid="nfs-state">
      NFS service: <Badge value={s.running ? "running" : "idle"} />
      <span className="muted">{s.running
        ? `${SERVER_NAME[s.server]}${s.version ? ` ${s.version}` : ""}, port ${s.port}, NFSv${s.versions.join(" and v")}, ${s.exports} export${s.exports === 1 ? "" : "s"}${s.restarts ? `, restarted ${s.restarts}×` : ""}`
        : shares > 0 ? `${SERVER_NAME[s.server]} starts with the first share served over NFS` : `${SERVER_NAME[s.server]} starts with the first NFS share`}</span>
    </p>
  );
}

/** Computers connected over NFS now: TCP connections to the NFS port and NFSv4 clients holding state. */
export function NfsClientsCard() {
  const clients = useNfsClients();
  return (
    <Card title="Connected over NFS">
      <QueryState q={clients} empty={(d) => d.connections.length === 0 && d.v4_clients.length === 0 && "No computer is connected over NFS right now."}>
        {(d) => {
          const held = new Map(d.v4_clients.map((c) => [c.address, c.owner]));
          const rows = [
            ...d.connections.map((c) => ({ address: c.address, port: String(c.port), owner: held.get(c.address) ?? "" })),
            ...d.v4_clients.filter((c) => !d.connections.some((x) => x.address === c.address)).map((c) => ({ address: c.address, port: "", owner: c.owner })),
          ];
          return (
            <div style={{ overflowX: "auto" }} data-testid="nfs-clients">
              <table>
                <thead><tr><th>Computer</th><th>Connected</th><th>NFSv4 client</th></tr></thead>
                <tbody>{rows.map((r) => (
                  <tr key={`${r.address}:${r.port}`}>
                    <td>{r.address}</td>
                    <td>{r.port ? `yes (port ${r.port})` : "no (state kept until its lease ends)"}</td>
                    <td>{r.owner ? <code>{r.owner}</code> : "—"}</td>
                  </tr>
                ))}</tbody>
              </table>
            </div>
          );
        }}
      </QueryState>
    </Card>
  );
}
