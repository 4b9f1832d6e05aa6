import { useQuery, useQueryClient } from "@tanstack/react-query";
import { del, post } from "../lib/api";
import { get } from "../lib/api";
import { useOptimisticMutation, useThrottledInvalidate } from "./cache";
import { useWebSocket } from "./useWebSocket";

export interface MeshPeer {
  name: string;
  public_key: string;
  endpoint: string | null;
  allowed_ips: string[];
  address: string | null;
  keepalive: number;
  preshared_key: boolean;
  psk_mode?: string;
  node?: boolean;
  last_handshake_age: number | null;
  rx_bytes: number;
  tx_bytes: number;
  up: boolean;
}

export interface MeshState {
  /** false: the [phantommesh] section does not allow the interface to come up */
  enabled?: boolean;
  node_name: string;
  interface: string;
  driver: string | null;
  running: boolean;
  public_key: string;
  listen_port: number;
  address: string | null;
  mesh_cidr: string;
  post_quantum: boolean;
  peers: MeshPeer[];
  [k: string]: unknown;
}

export interface NetworkEvent {
  kind: string;
  interface: string;
  peer?: string | null;
  public_key?: string | null;
  detail?: string;
}

/** Apply a `network.event` to the cached mesh state: peer up/down in place, removal at once. */
export function applyNetworkEvent(old: MeshState | undefined, ev: NetworkEvent): MeshState | undefined {
  if (!old) return old;
  const match = (p: MeshPeer) => (ev.peer && p.name === ev.peer) || (ev.public_key && p.public_key === ev.public_key);
  switch (ev.kind) {
    case "peer.up":
    case "peer.down":
      return { ...old, peers: old.peers.map((p) => (match(p) ? { ...p, up: ev.kind === "peer.up" } : p)) };
    case "peer.removed":
      return { ...old, peers: old.peers.filter((p) => !match(p)) };
    case "interface.up":
    case "interface.down":
      return { ...old, running: ev.kind === "interface.up" };
    default:
      return old;
  }
}

export function useMesh(enabled = true) {
  const qc = useQueryClient();
  const invalidate = useThrottledInvalidate(2000);
  useWebSocket(["network.*"], (e) => {
    const ev = e.data as NetworkEvent;
    qc.setQueryData<MeshState>(["mesh"], (old) => applyNetworkEvent(old, ev));
    if (ev.kind === "peer.added" || ev.kind.endsWith("rotated")) invalidate(["mesh"]);
  }, enabled);
  return useQuery({ queryKey: ["mesh"], queryFn: () => get<MeshState>("network/phantommesh"), enabled, refetchInterval: 10000 });
}

export function useRemovePeer() {
  return useOptimisticMutation<string, MeshState>({
    mutationFn: (name) => del(`network/phantommesh/peers/${encodeURIComponent(name)}`),
    queryKey: ["mesh"],
    update: (old, name) => (old ? { ...old, peers: old.peers.filter((p) => p.name !== name) } : old),
    success: (_d, name) => `Peer ${name} removed`,
  });
}

export function useCreateInvite() {
  return useOptimisticMutation<{ name: string; ttl_seconds?: number | null }, MeshState, { invite: string; name: string }>({
    mutationFn: (body) => post("network/phantommesh/invites", body),
    queryKey: ["mesh"],
  });
}

export function useMeshUpDown() {
  return useOptimisticMutation<boolean, MeshState>({
    mutationFn: (up) => post(`network/phantommesh/${up ? "up" : "down"}`),
    queryKey: ["mesh"],
    update: (old, up) => (old ? { ...old, running: up } : old),
    success: (_d, up) => (up ? "Mesh interface up" : "Mesh interface down"),
  });
}

/** Join another node's mesh with the invite it issued. */
export function useJoinMesh() {
  return useOptimisticMutation<string, MeshState, MeshPeer>({
    mutationFn: (invite) => post<MeshPeer>("network/phantommesh/join", { invite }),
    queryKey: ["mesh"],
    update: (old) => old,
    success: (p) => `Joined the mesh through ${p.name}`,
  });
}

/** A peer's configuration in wg-quick format. */
export function usePeerConfig(name: string | null) {
  return useQuery({
    queryKey: ["mesh", "config", name],
    queryFn: () => get<{ name: string; filename: string; config: string }>(`network/phantommesh/peers/${encodeURIComponent(name!)}/config`),
    enabled: !!name,
  });
}
