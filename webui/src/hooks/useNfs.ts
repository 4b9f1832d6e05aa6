/** The NFS plugin: a share's `options.nfs`, the server's state, connected clients, and the client
 * check the share editor runs before sending (the same rules as the plugin's `client_spec`). */
import { useQuery, type QueryKey } from "@tanstack/react-query";
import { get } from "../lib/api";
import { useThrottledInvalidate } from "./cache";
import type { ShareBody, ShareEvent } from "./useShares";
import { useWebSocket } from "./useWebSocket";

export type NfsAccess = "rw" | "ro";
export type Squash = "none" | "root" | "all";
export interface NfsClient { host: string; access: NfsAccess }
export interface NfsOptions {
  clients?: NfsClient[] | null;
  squash?: Squash;
  anon_user?: string | null;
  pseudo?: string | null;
  snapshots?: boolean;
}
/** A share body whose options may carry `nfs`. */
export type NfsShareBody = ShareBody & { options: ShareBody["options"] & { nfs?: NfsOptions } };

export interface NfsStatus {
  enabled: boolean; server: "ganesha" | "kernel"; kernel_nfsd: boolean; running: boolean; pid: number | null; port: number;
  bind_addr: string; versions: number[]; rpcbind: boolean | null; restarts: number; version: string | null; exports: number; config_check: string;
}
export interface NfsClients { connections: { address: string; port: number }[]; v4_clients: { address: string; owner: string }[]; source: string }

export const NFS_KEYS = { status: ["nfs", "status"] as QueryKey, clients: ["nfs", "clients"] as QueryKey };

export const useNfsStatus = (enabled = true) => useQuery({ queryKey: NFS_KEYS.status, queryFn: () => get<NfsStatus>("nfs/status"), enabled, refetchInterval: 30000 });
export const useNfsClients = (enabled = true) => useQuery({ queryKey: NFS_KEYS.clients, queryFn: () => get<NfsClients>("nfs/clients"), enabled, refetchInterval: 30000 });

/** Refetch the NFS state and clients when `share.event` says something happened over NFS. */
export function useNfsEvents(enabled = true) {
  const invalidate = useThrottledInvalidate(500);
  useWebSocket(["share.event"], (e) => {
    const d = (e.data ?? {}) as ShareEvent;
    if (d.protocol !== "nfs") return;
    if (d.kind === "client_connected" || d.kind === "client_disconnected") invalidate(NFS_KEYS.clients);
    else invalidate(NFS_KEYS.status);
  }, enabled);
}

export const NFS_CLIENT_RULE = "“*” (everybody), an address (192.168.1.20), a network (192.168.1.0/24) or a host name with * or ? as wildcards (*.lan).";

const LABEL = "[A-Za-z0-9*?](?:[A-Za-z0-9*?-]{0,61}[A-Za-z0-9*?])?";
const HOST_PATTERN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const NUMERIC = /^[0-9.]+$|^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/;

function ipv4(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number);
}

/** An IPv6 address as 8 groups, or null. */
function ipv6(s: string): number[] | null {
  if (!/^[0-9a-fA-F:]+$/.test(s) || (s.match(/::/g) ?? []).length > 1) return null;
  const [head, tail] = s.includes("::") ? s.split("::") : [s, null];
  const groups = (x: string | undefined) => (x ? x.split(":") : []);
  const h = groups(head), t = groups(tail ?? undefined);
  if (![...h, ...t].every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const fill = 8 - h.length - t.length;
  if (tail === null ? fill !== 0 : fill < 1) return null;
  return [...h, ...Array<string>(fill).fill("0"), ...t].map((g) => parseInt(g, 16));
}

/** Whether the bits of `groups` (each `width` bits wide) after the first `prefix` are all zero. */
function hostBitsZero(groups: number[], width: number, prefix: number): boolean {
  return groups.every((g, i) => {
    const keep = Math.min(width, Math.max(0, prefix - i * width));
    return keep === width || (g & ((1 << (width - keep)) - 1)) === 0;
  });
}

/** Why `host` cannot be an NFS client of an export, or null. */
export function nfsClientProblem(host: string): string | null {
  const v = host.trim();
  if (!v) return "Type “*”, an address, a network or a host name.";
  if (v.length > 253) return "Too long: at most 253 characters.";
  if (v === "*") return null;
  if (v.includes("/")) {
    const [addr = "", bits = "", ...rest] = v.split("/");
    const v4 = ipv4(addr), v6 = v4 ? null : ipv6(addr);
    const max = v4 ? 32 : 128;
    if (rest.length || (!v4 && !v6)) return `“${v}” is not a network: write it as an address, “/” and a prefix length (192.168.1.0/24).`;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `“${v}” is not a network: the prefix length after “/” is 0 to ${max}.`;
    if (!hostBitsZero(v4 ?? v6!, v4 ? 8 : 16, Number(bits))) return `“${v}” has host bits set: a network ends in zeros (e.g. 192.168.1.0/24).`;
    return null;
  }
  if (NUMERIC.test(v)) return ipv4(v) || ipv6(v) ? null : `“${v}” is not a valid IP address.`;
  return HOST_PATTERN.test(v) ? null : `“${v}” is not a host name: use letters, digits, “-” and “.”, with * or ? as wildcards.`;
}
