import { useState } from "react";
import { Badge, Card, FieldError, Modal, QueryState } from "../components/ui";
import { useConfirm } from "../components/confirm";
import { errorMessage } from "../lib/api";
import { fieldErrors, NAME_RULE } from "../lib/errors";
import { useCapabilities } from "../hooks/useCapabilities";
import { useCreateInvite, useJoinMesh, useMesh, useMeshUpDown, usePeerConfig, useRemovePeer } from "../hooks/useMesh";
import { useInterfaces } from "../hooks/useSystem";
import { bytes, duration } from "../lib/format";

function Interfaces() {
  const ifs = useInterfaces();
  return (
    <Card title="Interfaces">
      <QueryState q={ifs} empty={(d) => d.length === 0 && "No interfaces."}>
        {(list) => (
          <table>
            <thead><tr><th>Name</th><th>Kind</th><th>State</th><th>Addresses</th><th>MAC</th><th>MTU</th><th>Speed</th><th>RX / TX</th></tr></thead>
            <tbody>{list.map((i) => (
              <tr key={i.index}>
                <td>{i.name}</td><td>{i.kind}</td><td><Badge value={i.state} /></td>
                <td>{i.addresses.map((a) => `${a.address}/${a.prefixlen}`).join(", ") || "—"}</td>
                <td><code>{i.mac ?? "—"}</code></td><td>{i.mtu}</td><td>{i.speed_mbps ? `${i.speed_mbps} Mb/s` : "—"}</td>
                <td>{bytes(i.rx_bytes)} / {bytes(i.tx_bytes)}</td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </QueryState>
    </Card>
  );
}

function Invite() {
  const invite = useCreateInvite();
  const [name, setName] = useState("");
  const [token, setToken] = useState<string | null>(null);
  return (
    <>
      <form className="inline needs-admin" noValidate onSubmit={(e) => { e.preventDefault(); invite.mutate({ name }, { onSuccess: (r) => { setToken(r.invite); setName(""); } }); }}>
        <label className="field">
          <input aria-label="invite peer name" placeholder="new node name" value={name} aria-invalid={!!fieldErrors(invite.error).name} onChange={(e) => setName(e.target.value)} />
          {fieldErrors(invite.error).name ? <FieldError error={fieldErrors(invite.error).name} /> : <span className="hint">{NAME_RULE}</span>}
        </label>
        <button type="submit" className="btn small primary">Issue invite</button>
      </form>
      {token && <><p className="muted">One-time invite (redeem it on the other node):</p><pre className="json">{token}</pre></>}
    </>
  );
}

function Join() {
  const join = useJoinMesh();
  const [invite, setInvite] = useState("");
  return (
    <form className="inline needs-admin" noValidate onSubmit={(e) => { e.preventDefault(); if (invite.trim().length >= 8) join.mutate(invite.trim(), { onSuccess: () => setInvite("") }); }}>
      <label className="field">
        <input aria-label="invite to redeem" placeholder="paste the invite from another node" value={invite} onChange={(e) => setInvite(e.target.value)} style={{ minWidth: "min(24em, 100%)" }} />
        {join.error ? <FieldError error={errorMessage(join.error)} /> : <span className="hint">the text shown by “Issue invite” on the other machine</span>}
      </label>
      <button type="submit" className="btn small" disabled={join.isPending}>Join mesh</button>
    </form>
  );
}

function PeerConfig({ name, onClose }: { name: string; onClose: () => void }) {
  const cfg = usePeerConfig(name);
  return (
    <>
      <QueryState q={cfg}>{(c) => <><p className="muted">{c.filename}</p><pre className="json">{c.config}</pre></>}</QueryState>
      <div className="modal-actions">
        {cfg.data && <button type="button" className="btn" onClick={() => void navigator.clipboard?.writeText(cfg.data!.config)}>Copy</button>}
        <button type="button" className="btn primary" onClick={onClose}>Close</button>
      </div>
    </>
  );
}

function Mesh() {
  const [configOf, setConfigOf] = useState<string | null>(null);
  const mesh = useMesh();
  const remove = useRemovePeer();
  const updown = useMeshUpDown();
  const confirm = useConfirm();
  return (
    <Card title="PhantomMesh" actions={mesh.data && mesh.data.enabled !== false && (
      <button type="button" className="btn small needs-admin" onClick={async () => {
        if (!mesh.data!.running || await confirm({ title: "Take the mesh down?", message: "Every tunnel of this node closes.", confirmText: "Take down", danger: true })) updown.mutate(!mesh.data!.running);
      }}>{mesh.data.running ? "Take down" : "Bring up"}</button>
    )}>
      <QueryState q={mesh}>
        {(m) => m.enabled === false ? (
          <div data-testid="mesh-disabled">
            <p><Badge value="disabled" /> PhantomMesh, the private network between your SigmaVault machines, is switched off on this machine.</p>
            <p className="muted">To use it, set <code>enabled = true</code> in the <code>[phantommesh]</code> section of the configuration file (<code>/etc/sigmavault/config.toml</code> on a packaged install) and restart SigmaVault. Then bring the mesh up here and invite your other machines.</p>
          </div>
        ) : (
          <>
            <p>
              <Badge value={m.running ? "up" : "down"} /> <strong>{m.node_name}</strong> · {m.interface} · driver {m.driver ?? "—"} · {m.address ?? "no address"} in {m.mesh_cidr} · port {m.listen_port}
              {" "}· PQ PSK <Badge value={m.post_quantum ? "on" : "off"} />
            </p>
            <p className="small muted">public key <code>{m.public_key}</code></p>
            {m.peers.length === 0 ? <p className="muted">No peers yet.</p> : (
              <table>
                <thead><tr><th>Peer</th><th>Endpoint</th><th>Allowed IPs</th><th>Last handshake</th><th>RX / TX</th><th>State</th><th className="actions"><span className="sr-only">Actions</span></th></tr></thead>
                <tbody>{m.peers.map((p) => (
                  <tr key={p.public_key}>
                    <td>{p.name} <code className="small" title={p.public_key}>{p.public_key.slice(0, 10)}…</code></td>
                    <td>{p.endpoint ?? "—"}</td><td>{p.allowed_ips.join(", ")}</td>
                    <td>{p.last_handshake_age == null ? "never" : `${duration(p.last_handshake_age)} ago`}</td>
                    <td>{bytes(p.rx_bytes)} / {bytes(p.tx_bytes)}</td><td><Badge value={p.up ? "up" : "down"} /></td>
                    <td className="actions"><button type="button" className="btn small needs-admin" onClick={() => setConfigOf(p.name)}>Config</button>
                      <button type="button" className="btn small danger needs-admin" onClick={async () => {
                      if (await confirm({ title: "Remove peer?", message: <>The tunnel to <b>{p.name}</b> closes.</>, confirmText: "Remove", danger: true })) remove.mutate(p.name);
                    }}>Remove</button></td>
                  </tr>
                ))}</tbody>
              </table>
            )}
            <Invite />
            <Join />
            <Modal open={!!configOf} title={`wg-quick config for ${configOf}`} onClose={() => setConfigOf(null)}>
              {configOf && <PeerConfig name={configOf} onClose={() => setConfigOf(null)} />}
            </Modal>
          </>
        )}
      </QueryState>
    </Card>
  );
}

export default function Network() {
  const caps = useCapabilities();
  return (
    <div className="page">
      <h1>Network</h1>
      {caps.has("/system/network/interfaces") && <Interfaces />}
      {caps.has("/network/phantommesh") && <Mesh />}
    </div>
  );
}
