import { useInfiniteQuery } from "@tanstack/react-query";
import { get } from "../lib/api";

const enc = encodeURIComponent;

export interface FileEntry {
  name: string;
  /** relative to the volume (or snapshot) root */
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  mtime: string;
  mode: string;
}

export interface FilePage {
  path: string;
  parent: string | null;
  items: FileEntry[];
  total: number;
  limit: number;
  offset: number;
}

/** Where a browser lists: a volume, or one of its snapshots — or, with `listUrl`, another list
 * of the same pages (a replica's snapshot on another node), named `label` in the breadcrumb. */
export interface FileSource {
  pool: string;
  volume: string;
  snapshot?: string | null;
  listUrl?: string;
  label?: string;
}

export const PAGE = 200;

export function filesUrl(s: FileSource): string {
  if (s.listUrl) return s.listUrl;
  const vol = `storage/pools/${enc(s.pool)}/volumes/${enc(s.volume)}`;
  return s.snapshot ? `${vol}/snapshots/${enc(s.snapshot)}/files` : `${vol}/files`;
}

/** A folder's entries, folders first, a page at a time ("Show more" fetches the next). */
export function useFiles(source: FileSource | null, path: string) {
  return useInfiniteQuery({
    queryKey: source?.listUrl ? ["files", source.listUrl, path]
      : ["storage", "files", source?.pool, source?.volume, source?.snapshot ?? null, path],
    queryFn: ({ pageParam }) => get<FilePage>(filesUrl(source!), { path, limit: PAGE, offset: pageParam }),
    initialPageParam: 0,
    getNextPageParam: (last) => (last.offset + last.items.length < last.total && last.items.length > 0 ? last.offset + last.limit : undefined),
    enabled: !!source?.pool && !!source.volume,
    staleTime: 0, // files change behind our back (shares, jobs): always list afresh on opening
    retry: source?.listUrl ? false : undefined, // another node: say at once that it did not answer
  });
}
