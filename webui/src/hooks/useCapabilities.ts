import { useQuery } from "@tanstack/react-query";
import { get } from "../lib/api";
import type { PluginInfo, UiPage } from "../lib/types";

interface OpenApi {
  paths: Record<string, Record<string, unknown>>;
}

/** What the running daemon offers: API paths, plugins and plugin-contributed pages. */
export function useCapabilities() {
  const openapi = useQuery({ queryKey: ["meta", "openapi"], queryFn: () => get<OpenApi>("openapi.json"), staleTime: 60000 });
  const plugins = usePlugins();
  const pages = useQuery({ queryKey: ["meta", "pages"], queryFn: () => get<UiPage[]>("ui/pages"), staleTime: 60000 });
  const paths = new Set(Object.keys(openapi.data?.paths ?? {}).map((p) => p.replace(/^\/api\/v1/, "")));
  const loaded = new Set((plugins.data ?? []).filter((p) => p.status === "loaded").map((p) => p.name));
  return {
    ready: openapi.isSuccess,
    error: openapi.error,
    /** true when the API serves `path` (relative to /api/v1, e.g. "/storage/pools") */
    has: (path: string) => paths.has(path),
    plugin: (name: string) => loaded.has(name),
    paths,
    pages: pages.data ?? [],
    openapi: openapi.data,
  };
}

export function usePlugins() {
  return useQuery({ queryKey: ["meta", "plugins"], queryFn: () => get<PluginInfo[]>("plugins"), staleTime: 60000 });
}
