/** Shares (SMB) and the NAS accounts people connect with: queries, mutations, `share.event`, and
 * the plain-language helpers the Shares and Accounts pages share. */
import { useMutation, useQuery, useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { ApiError, del, get, patch, post } from "../lib/api";
import { plainMessage } from "../lib/errors";
import { useOptimisticMutation, useThrottledInvalidate } from "./cache";
import { useWebSocket } from "./useWebSocket";

const enc = encodeURIComponent;

export type Level = "none" | "read" | "write" | "full";
export const LEVELS: Level[] = ["none", "read", "write", "full"];
export const LEVEL_WORDS: Record<Level, string> = { none: "no access", read: "read", write: "read & write", full: "full control" };

export interface AccessEntry { kind: "user" | "group" | "everyone"; name: string | null; level: Level }

export interface SmbOptions {
  browsable?: boolean | null;
  encryption?: "off" | "desired" | "required" | null;
  recycle?: boolean;
  time_machine?: boolean;
  time_machine_max_size?: string | null;
  previous_versions?: boolean;
}

export interface ShareBody {
  name: string;
  pool: string;
  volume: string;
  subfolder: string | null;
  description: string;
  enabled: boolean;
  read_only: boolean;
  guest_ok: boolean;
  browseable: boolean;
  hosts_allow: string[];
  hosts_deny: string[];
  protocols: string[];
  access: AccessEntry[];
  options: { smb?: SmbOptions };
}
export interface Share extends ShareBody { path: string | null }

export interface NasUser { name: string; uid: number; full_name: string; groups: string[]; enabled: boolean }
export interface NasGroup { name: string; gid: number; members: string[] }
export interface SmbStatus { enabled: boolean; running: boolean; pid: number | null; port: number; restarts: number; version: string | null; shares: number }
export interface SmbSession { session_id: string; pid: number; username: string; group: string; uid: number; remote: string; dialect: string; encryption: string; signing: string; shares: string[] }
export interface SmbSessions { sessions: SmbSession[]; open_files: { path: string; share_path: string; name: string; pid: number; uid: number; access: string; opened_at: string }[] }
export interface AccessAnswer { access: "none" | "read" | "write"; reasons: string[]; user: string | null; path: string; acl: string[] }

export interface ShareEvent { kind: string; share?: string | null; protocol?: string | null; user?: string | null; session?: string | null; remote?: string | null; message?: string }

export const KEYS = {
  shares: ["shares", "list"] as QueryKey,
  users: ["shares", "users"] as QueryKey,
  groups: ["shares", "groups"] as QueryKey,
  smbStatus: ["smb", "status"] as QueryKey,
  sessions: ["smb", "sessions"] as QueryKey,
  access: (share: string, user: string | null) => ["shares", "access", share, user] as QueryKey,
};

/** Apply one `share.event` to the cache; returns the families to refetch. */
export function applyShareEvent(qc: QueryClient, d: ShareEvent): QueryKey[] {
  switch (d.kind) {
    case "service_up":
    case "service_down":
      if (d.protocol && d.protocol !== "smb") return []; // NFS's own state: useNfsEvents
      qc.setQueryData<SmbStatus>(KEYS.smbStatus, (old) => (old ? { ...old, running: d.kind === "service_up" } : old));
      return [KEYS.smbStatus];
    case "client_connected":
    case "client_disconnected":
      return [KEYS.sessions];
    case "deleted":
      if (d.share) qc.setQueryData<Share[]>(KEYS.shares, (old) => old?.filter((s) => s.name !== d.share));
      return [KEYS.shares, KEYS.smbStatus];
    default:
      return [KEYS.shares, ["shares", "access"], KEYS.smbStatus];
  }
}

export function useShareEvents(enabled = true) {
  const qc = useQueryClient();
  const invalidate = useThrottledInvalidate(500);
  useWebSocket(["share.event"], (e) => {
    for (const key of applyShareEvent(qc, (e.data ?? {}) as ShareEvent)) invalidate(key);
  }, enabled);
}

export const useShares = () => useQuery({ queryKey: KEYS.shares, queryFn: () => get<Share[]>("shares") });
export const useNasUsers = () => useQuery({ queryKey: KEYS.users, queryFn: () => get<NasUser[]>("shares/users") });
export const useNasGroups = () => useQuery({ queryKey: KEYS.groups, queryFn: () => get<NasGroup[]>("shares/groups") });
export const useSmbStatus = (enabled = true) => useQuery({ queryKey: KEYS.smbStatus, queryFn: () => get<SmbStatus>("smb/status"), enabled, refetchInterval: 30000 });
export const useSmbSessions = (enabled = true) => useQuery({ queryKey: KEYS.sessions, queryFn: () => get<SmbSessions>("smb/sessions"), enabled });

/** What `user` (null: a guest) may do on `share`, with the reasons. */
export function useAccess(share: string | null, user: string | null, enabled = true) {
  return useQuery({
    queryKey: KEYS.access(share ?? "", user),
    queryFn: () => get<AccessAnswer>(`shares/${enc(share!)}/access`, { user: user ?? undefined }),
    enabled: enabled && !!share,
    staleTime: 0,
  });
}

// --- mutations: these forms show the problems on their fields, so no toast on error -----------

function useQuietMutation<TVars, TData>(mutationFn: (v: TVars) => Promise<TData>, invalidate: QueryKey[]) {
  const qc = useQueryClient();
  return useMutation<TData, Error, TVars>({
    mutationFn,
    onSettled: () => { for (const k of invalidate) void qc.invalidateQueries({ queryKey: k }); },
  });
}

const accountKeys = [KEYS.users, KEYS.groups, ["shares", "access"]];

export const useCreateShare = () => useQuietMutation((b: ShareBody) => post<Share>("shares", b), [KEYS.shares, KEYS.smbStatus]);
export const useUpdateShare = () => useQuietMutation(({ name, ...b }: ShareBody) => patch<Share>(`shares/${enc(name)}`, b), [KEYS.shares, ["shares", "access"], KEYS.smbStatus]);
export const useDeleteShare = () => useOptimisticMutation<string, Share[]>({
  mutationFn: (name) => del(`shares/${enc(name)}`),
  queryKey: KEYS.shares,
  update: (old, name) => old?.filter((s) => s.name !== name),
  invalidate: [KEYS.smbStatus],
  success: (_d, name) => `Share ${name} deleted; its files are kept`,
});
export const useDisconnect = () => useOptimisticMutation<string, SmbSessions>({
  mutationFn: (id) => del(`smb/sessions/${enc(id)}`),
  queryKey: KEYS.sessions,
  success: "Client disconnected",
});

export interface UserCreate { name: string; password: string; full_name: string; groups: string[]; enabled: boolean }
export interface UserUpdate { name: string; full_name?: string; groups?: string[]; enabled?: boolean; password?: string }
export const useCreateUser = () => useQuietMutation((b: UserCreate) => post<NasUser>("shares/users", b), accountKeys);
export const useUpdateUser = () => useQuietMutation(({ name, ...b }: UserUpdate) => patch<NasUser>(`shares/users/${enc(name)}`, b), accountKeys);
export const useDeleteUser = () => useQuietMutation((name: string) => del(`shares/users/${enc(name)}`), accountKeys);
export const useCreateGroup = () => useQuietMutation((b: { name: string; members: string[] }) => post<NasGroup>("shares/groups", b), accountKeys);
export const useUpdateGroup = () => useQuietMutation(({ name, members }: { name: string; members: string[] }) => patch<NasGroup>(`shares/groups/${enc(name)}`, { members }), accountKeys);
export const useDeleteGroup = () => useQuietMutation((name: string) => del(`shares/groups/${enc(name)}`), accountKeys);

// --- plain language -------------------------------------------------------------------------------

export const ACCOUNT_RULE = "1–32 lower-case letters, digits, “_” or “-”, starting with a letter";
export const PASSWORD_RULE = "At least 8 characters, at least three different ones, and not containing the user name.";
export const SHARE_NAME_RULE = "Up to 80 characters; not [ ] / \\ : | < > + = ; , * ? \" and not global, homes or printers.";
export const HOST_RULE = "An address (192.168.1.20), a network (192.168.1.0/24) or a host name.";
const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9.:/_-]{0,252}$/;

/** Why `host` is not accepted in a hosts allow/deny list, or null. */
export function hostProblem(host: string): string | null {
  if (!host.trim()) return "Type an address, a network or a host name.";
  return HOST_RE.test(host.trim()) ? null : `“${host}” is not an address, a network (a.b.c.d/nn) or a host name.`;
}

function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  const c = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(c) ? c : `${c}.`;
}

/**
 * Field → plain message for this plugin's errors: pydantic's 422 (`details.errors[].loc`, body
 * fields and `options.smb` ones), and the plugin's own `details.field` (its message starts with
 * "<field>: ", dropped here). Keys: "name", "hosts_allow.0", "access.1.name", "options.smb.encryption".
 */
export function shareFieldErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(e instanceof ApiError)) return out;
  const put = (field: string, msg: string) => {
    const parts = field.split(".");
    for (let i = parts.length; i >= 1; i--) {
      const k = parts.slice(0, i).join(".");
      if (!(k in out)) out[k] = msg;
    }
  };
  const errors = e.details.errors as { loc?: (string | number)[]; msg?: string; type?: string }[] | undefined;
  if (Array.isArray(errors)) {
    for (const x of errors) {
      const loc = (x.loc ?? []).map(String);
      const path = (loc[0] === "body" || loc[0] === "query" ? loc.slice(1) : loc).filter((p) => !/^function-/.test(p)).join(".");
      put(path, plainMessage((x.msg ?? "").replace(/^use 1-32 lower-case.*/, `Use ${ACCOUNT_RULE}.`), x.type));
    }
    return out;
  }
  const field = e.details.field;
  if (typeof field === "string") put(field, sentence(e.message.replace(new RegExp(`^${field.replace(/[.]/g, "\\.")}: `), "")));
  return out;
}

/** A refused request as one sentence, for problems that belong to no field. */
export function plainShareError(e: unknown, fields: Record<string, string> = shareFieldErrors(e)): string | null {
  if (Object.keys(fields).length && e instanceof ApiError && (e.status === 422 || e.details.field)) return null;
  if (e instanceof ApiError) {
    if (e.status === 0) return "Cannot reach the SigmaVault daemon. Check that it is running and the network is up.";
    return sentence(e.message);
  }
  return e ? String((e as Error).message ?? e) : null;
}

/** "alice is used by share 'docs'; remove alice from its access list first." */
export function inUseMessage(kind: "user" | "group", name: string, e: unknown): string | null {
  if (!(e instanceof ApiError) || e.code !== "account_in_use") return null;
  const shares = (e.details.shares as string[] | undefined) ?? [];
  const list = shares.map((s) => `'${s}'`).join(", ");
  const what = kind === "user" ? name : `Group ${name}`;
  return shares.length === 1
    ? `${what} is used by share ${list}; remove ${kind === "user" ? name : "the group"} from its access list first.`
    : `${what} is used by shares ${list}; remove ${kind === "user" ? name : "the group"} from their access lists first.`;
}

/** "alice can write, readers can read, everyone else: no access" */
export function accessSummary(s: Pick<ShareBody, "access" | "read_only" | "guest_ok">): string {
  const verb = (l: Level) => (l === "none" ? "no access" : s.read_only || l === "read" ? "can read" : l === "full" ? "full control" : "can write");
  const named = s.access.filter((e) => e.kind !== "everyone").map((e) => (e.level === "none" ? `${e.name}: no access` : `${e.name} ${verb(e.level)}`));
  const every = s.access.find((e) => e.kind === "everyone");
  const rest = every && every.level !== "none" ? `everyone else ${verb(every.level)}` : "everyone else: no access";
  const guests = s.guest_ok ? (every && every.level !== "none" ? ", guests too" : "") : "";
  return [...named, rest].join(", ") + guests + (s.read_only ? " (read-only share)" : "");
}

/** One reason of the explainer in plain words. */
export function plainReason(r: string, who = "The user"): string {
  let m: RegExpMatchArray | null;
  const lv = (l: string) => (l === "none" ? "no access" : l === "full" ? "full control" : l === "write" ? "write" : "read");
  if ((m = r.match(/^entry for user (\S+): (\w+)$/))) return `The access list gives ${m[1]} ${lv(m[2]!)} directly (a person's own entry decides alone).`;
  if ((m = r.match(/^via group (\S+): (\w+)(?: \(also in (.+)\))?$/))) return `${who} is in group ${m[1]}, which gives ${lv(m[2]!)}${m[3] ? ` (the best of their groups on the list; also in ${m[3]})` : ""}, and has no entry of their own.`;
  if ((m = r.match(/^no entry for (\S+) or their groups; everyone: (\w+)$/))) return `Neither ${m[1]} nor their groups are on the access list, so “everyone” applies: ${lv(m[2]!)}.`;
  if ((m = r.match(/^no entry for (\S+), their groups or everyone$/))) return `Neither ${m[1]}, their groups nor “everyone” are on the access list.`;
  if (r === "guests are not allowed on this share") return "Guests (people without an account) are not allowed on this share.";
  if (r.startsWith("guests get the 'everyone' level")) return "Guests get what “everyone” gets, and “everyone” is not on the access list.";
  if ((m = r.match(/^guest: everyone has (\w+)$/))) return `Guests get what “everyone” gets: ${lv(m[1]!)}.`;
  if (r === "share is disabled") return "The share is switched off.";
  if ((m = r.match(/^account (\S+) is disabled$/))) return `The account ${m[1]} is disabled.`;
  if (r === "share is read-only") return "The share is read-only, so nobody can write.";
  if ((m = r.match(/^filesystem ACL on the folder allows only (\w+)$/))) return `But the folder's permissions on disk allow only ${lv(m[1]!)}.`;
  if ((m = r.match(/^filesystem ACL on the folder allows (\w+)$/))) return `The folder's permissions on disk agree (${lv(m[1]!)}).`;
  return sentence(r);
}

/** The explainer's answer as one line: "read only, because bob is in group readers". */
export function accessHeadline(a: Pick<AccessAnswer, "access" | "reasons">, who: string): string {
  const first = a.reasons[0] ?? "";
  let because = "";
  let m: RegExpMatchArray | null;
  if ((m = first.match(/^via group (\S+):/))) because = `${who} is in group ${m[1]}`;
  else if (first.startsWith("entry for user")) because = `${who} has an entry of their own`;
  else if (first.startsWith("no entry for") && first.includes("everyone:")) because = "of the “everyone” entry";
  else if (first.startsWith("no entry for")) because = `${who} is not on the access list`;
  else if (first.startsWith("guest")) because = first.startsWith("guests are not") ? "guests are not allowed" : "of the “everyone” entry";
  const cap = a.reasons.slice(1).find((r) => !r.startsWith("filesystem ACL on the folder allows ") || r.includes(" only "));
  if (cap === "share is disabled") because = "the share is switched off";
  else if (cap?.startsWith("account ")) because = `the account ${who} is disabled`;
  else if (cap === "share is read-only") because = "the share is read-only";
  else if (cap?.includes(" only ")) because = "the folder's permissions on disk allow no more";
  const what = a.access === "write" ? "read & write" : a.access === "read" ? "read only" : "no access";
  return because ? `${what}, because ${because}` : what;
}
