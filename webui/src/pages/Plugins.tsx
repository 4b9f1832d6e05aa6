import { Badge, Card, QueryState } from "../components/ui";
import { usePlugins } from "../hooks/useCapabilities";
import type { PluginInfo } from "../lib/types";

/** What each bundled distribution adds, in a sentence (the API does not carry descriptions yet). */
const ABOUT: Record<string, string> = {
  "sigmavault-storage": "Storage pools, volumes, snapshots and disk health; plain-folder pools built in.",
  "sigmavault-btrfs": "Btrfs pools: RAID layouts, instant snapshots, scrubs, send/receive.",
  "sigmavault-zfs": "ZFS pools: RAID-Z and mirrors, datasets, snapshots, scrubs, send/receive.",
  "sigmavault-ceph": "Ceph file systems as pools, subvolumes as volumes.",
  "sigmavault-system": "Processor, memory, network and disk figures, services and alerts.",
  "sigmavault-agents": "The agent swarm: background tasks that check, index, copy and protect your data.",
  "sigmavault-compression": "Compress and decompress files and folders (zstd, gzip, xz, bzip2).",
  "sigmavault-encryption": "Encrypt files and folders to keys (post-quantum where available) or passphrases.",
  "sigmavault-phantommesh": "PhantomMesh: a private WireGuard network between your SigmaVault machines.",
  "sigmavault-shares": "Shared folders and the accounts that may use them.",
  "sigmavault-smb": "Windows and macOS file sharing (SMB) for the shares.",
  "sigmavault-nfs": "Linux and Unix file sharing (NFS) for the shares.",
  "sigmavault-notifications": "Notifications of alerts and events by web hook and e-mail.",
  "sigmavault-hello": "An example plugin for developers (installed only for tests).",
};

const about = (p: PluginInfo) => ABOUT[p.name.split(":")[0]!] ?? (p.name.startsWith("sigmavault.") ? "Part of the SigmaVault core." : "");

export default function Plugins() {
  const plugins = usePlugins();
  return (
    <div className="page">
      <h1>Plugins</h1>
      <Card>
        <QueryState q={plugins} empty={(d) => d.length === 0 && "No plugins."}>
          {(list) => (
            <table>
              <thead><tr><th>Plugin</th><th>What it adds</th><th>Version</th><th>State</th></tr></thead>
              <tbody>{list.map((p) => (
                <tr key={p.name} data-testid={`plugin-${p.name}`}>
                  <td>{p.name.replace(/^sigmavault[-.]/, "")}</td>
                  <td className="wrap">{about(p)}
                    <details>
                      <summary className="small muted">technical details</summary>
                      <p className="small">distribution <code>{p.name}</code> · module <code>{p.module}</code></p>
                      <p className="small">hooks: {p.hooks.length ? p.hooks.join(", ") : "none"}</p>
                    </details>
                  </td>
                  <td>{p.version}</td>
                  <td><Badge value={p.status} />{p.error && <div className="form-error">{p.error}</div>}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
      </Card>
    </div>
  );
}
