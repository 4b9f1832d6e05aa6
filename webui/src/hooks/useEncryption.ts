import { useQuery } from "@tanstack/react-query";
import { del, get, post } from "../lib/api";
import type { Job, Page } from "../lib/types";
import { itemsOf, useOptimisticMutation, useThrottledInvalidate } from "./cache";
import { watchJob } from "./useJobs";
import { useWebSocket } from "./useWebSocket";

export interface Identity {
  id: string;
  name?: string;
  fingerprint?: string;
  recipient?: string;
  kind?: string;
  algorithm?: string;
  locked?: boolean;
  state?: string;
  created_at?: string;
  rotated_at?: string | null;
  [k: string]: unknown;
}

export const isLocked = (k: Identity) => k.locked ?? k.state === "locked";

export function useEncryptionStatus(enabled = true) {
  const invalidate = useThrottledInvalidate(1000);
  useWebSocket(["encryption.*"], () => {
    invalidate(["encryption", "status"]);
    invalidate(["encryption", "keys"]);
  }, enabled);
  return useQuery({ queryKey: ["encryption", "status"], queryFn: () => get<Record<string, unknown>>("encryption/status"), enabled });
}

export function useKeys(enabled = true) {
  return useQuery({ queryKey: ["encryption", "keys"], queryFn: () => get<Identity[] | Page<Identity>>("encryption/keys").then(itemsOf), enabled });
}

const keyPath = (id: string) => `encryption/keys/${encodeURIComponent(id)}`;

export function useCreateKey() {
  return useOptimisticMutation<{ name: string; passphrase: string; kind?: string }, Identity[], Identity>({
    mutationFn: (body) => post<Identity>("encryption/keys", body),
    queryKey: ["encryption", "keys"],
    update: (old, b) => [...(old ?? []), { id: `pending-${b.name}`, name: b.name, kind: b.kind, state: "unlocked" }],
    invalidate: [["encryption", "status"]],
    success: (k) => `Identity ${k.name ?? k.id} created`,
  });
}

export function useDeleteKey() {
  return useOptimisticMutation<string, Identity[]>({
    mutationFn: (id) => del(keyPath(id), { confirm: true }),
    queryKey: ["encryption", "keys"],
    update: (old, id) => old?.filter((k) => k.id !== id),
    invalidate: [["encryption", "status"]],
    success: "Identity deleted",
  });
}

/** Lock or unlock an identity; the row flips at once and flips back if the server refuses. */
export function useLockKey() {
  return useOptimisticMutation<{ id: string; lock: boolean; passphrase?: string }, Identity[]>({
    mutationFn: ({ id, lock, passphrase }) => post(`${keyPath(id)}/${lock ? "lock" : "unlock"}`, lock ? {} : { passphrase }),
    queryKey: ["encryption", "keys"],
    update: (old, v) => old?.map((k) => (k.id === v.id ? { ...k, locked: v.lock, state: v.lock ? "locked" : "unlocked" } : k)),
    invalidate: [["encryption", "status"]],
    success: (_d, v) => (v.lock ? "Identity locked" : "Identity unlocked"),
  });
}

/** Lock every identity at once (e.g. before leaving the machine). */
export function useLockAll() {
  return useOptimisticMutation<void, Identity[]>({
    mutationFn: () => post("encryption/lock"),
    queryKey: ["encryption", "keys"],
    update: (old) => old?.map((k) => ({ ...k, locked: true, state: "locked" })),
    invalidate: [["encryption", "status"]],
    success: "All identities locked",
  });
}

/** What the encrypt form collects; `passphrase` (when set) replaces the keys, as `age -p` does. */
/** An absolute path (inside the plugin's allowed roots) or a place inside a storage volume. */
export type Place = string | { pool: string; volume: string; path: string };

export interface EncryptForm {
  source: Place;
  target?: Place;
  keyIds: string[];
  passphrase?: string;
  armor: boolean;
  overwrite?: boolean;
}

export interface DecryptForm {
  source: Place;
  target?: Place;
  passphrase?: string;
  overwrite?: boolean;
}

const location = (p: Place) => (typeof p === "string" ? { path: p.trim() } : { pool: p.pool, volume: p.volume, subpath: p.path });
const given = (p: Place | undefined): p is Place => (typeof p === "string" ? p.trim() !== "" : !!p);

/** The `POST encryption/jobs/encrypt` body: keys or a passphrase, never both. */
export function encryptBody(f: EncryptForm): Record<string, unknown> {
  const body: Record<string, unknown> = { source: location(f.source), armor: f.armor, overwrite: !!f.overwrite };
  if (given(f.target)) body.target = location(f.target);
  if (f.passphrase) body.passphrase = f.passphrase;
  else body.key_ids = f.keyIds;
  return body;
}

/** The `POST encryption/jobs/decrypt` body: with the file's passphrase, or the unlocked keys. */
export function decryptBody(f: DecryptForm): Record<string, unknown> {
  const body: Record<string, unknown> = { source: location(f.source), overwrite: !!f.overwrite };
  if (given(f.target)) body.target = location(f.target);
  if (f.passphrase) body.passphrase = f.passphrase;
  return body;
}

function useFileJob<T>(operation: "encrypt" | "decrypt", toBody: (f: T) => Record<string, unknown>) {
  return useOptimisticMutation<T, unknown, Job>({
    mutationFn: (f) => post<Job>(`encryption/jobs/${operation}`, toBody(f)),
    queryKey: ["jobs"],
    invalidate: [["encryption", "status"]],
    onSuccess: (j) => watchJob(j.id),
    success: `${operation === "encrypt" ? "Encryption" : "Decryption"} job started`,
  });
}

export const useEncryptJob = () => useFileJob("encrypt", encryptBody);
export const useDecryptJob = () => useFileJob("decrypt", decryptBody);
