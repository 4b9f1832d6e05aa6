import { useQuery } from "@tanstack/react-query";
import { del, get, post } from "../lib/api";
import type { Page } from "../lib/types";
import { itemsOf, useOptimisticMutation, useThrottledInvalidate } from "./cache";
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
