import { useCallback, useEffect, useRef } from "react";
import { useMutation, useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { toast } from "sonner";
import { errorMessage } from "../lib/api";
import type { Page } from "../lib/types";

/** Lists come either bare or as a Page; the UI works on arrays. */
export function itemsOf<T>(data: T[] | Page<T> | undefined | null): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : (data.items ?? []);
}

/** Apply `fn` to the array inside a cached list, whether it is bare or a Page. */
export function mapList<T>(data: T[] | Page<T> | undefined, fn: (items: T[]) => T[]): T[] | Page<T> | undefined {
  if (!data) return data;
  if (Array.isArray(data)) return fn(data);
  const items = fn(data.items);
  return { ...data, items, total: data.total + (items.length - data.items.length) };
}

/** Replace (by key) or insert an item in every cached list under `prefix`. */
export function upsertIn<T>(qc: QueryClient, prefix: QueryKey, item: T, key: (t: T) => string, insert = false): void {
  const k = key(item);
  qc.setQueriesData<T[] | Page<T>>({ queryKey: prefix }, (old) =>
    mapList(old, (items) => {
      const i = items.findIndex((x) => key(x) === k);
      if (i >= 0) return items.map((x, j) => (j === i ? { ...x, ...item } : x));
      return insert ? [item, ...items] : items;
    }),
  );
}

/** Invalidate a query family at most once per `ms` however many events ask for it. */
export function useThrottledInvalidate(ms = 1500): (key: QueryKey) => void {
  const qc = useQueryClient();
  const pending = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  useEffect(() => {
    const timers = pending.current;
    return () => timers.forEach((t) => clearTimeout(t));
  }, []);
  return useCallback(
    (key: QueryKey) => {
      const id = JSON.stringify(key);
      if (pending.current.has(id)) return;
      pending.current.set(
        id,
        setTimeout(() => {
          pending.current.delete(id);
          void qc.invalidateQueries({ queryKey: key });
        }, ms),
      );
    },
    [qc, ms],
  );
}

export interface OptimisticOptions<TVars, TCache, TData> {
  mutationFn: (vars: TVars) => Promise<TData>;
  /** the cache entry the optimistic change applies to */
  queryKey: QueryKey;
  /** the optimistic new value (undefined: no optimistic change) */
  update?: (old: TCache | undefined, vars: TVars) => TCache | undefined;
  /** families to refetch once the server answered */
  invalidate?: QueryKey[];
  success?: string | ((data: TData, vars: TVars) => string | null);
  onSuccess?: (data: TData, vars: TVars) => void;
}

/**
 * A mutation that changes the cache at once and puts the previous value back (with an error toast)
 * when the server refuses.
 */
export function useOptimisticMutation<TVars, TCache = unknown, TData = unknown>(o: OptimisticOptions<TVars, TCache, TData>) {
  const qc = useQueryClient();
  return useMutation<TData, Error, TVars, { previous: TCache | undefined }>({
    mutationFn: o.mutationFn,
    onMutate: async (vars) => {
      await qc.cancelQueries({ queryKey: o.queryKey });
      const previous = qc.getQueryData<TCache>(o.queryKey);
      if (o.update) qc.setQueryData<TCache>(o.queryKey, (old) => o.update!(old, vars));
      return { previous };
    },
    onError: (err, _vars, ctx) => {
      if (o.update) qc.setQueryData(o.queryKey, ctx?.previous);
      toast.error(errorMessage(err));
    },
    onSuccess: (data, vars) => {
      const msg = typeof o.success === "function" ? o.success(data, vars) : o.success;
      if (msg) toast.success(msg);
      o.onSuccess?.(data, vars);
    },
    onSettled: () => {
      void qc.invalidateQueries({ queryKey: o.queryKey });
      for (const k of o.invalidate ?? []) void qc.invalidateQueries({ queryKey: k });
    },
  });
}
