import { useQuery } from "@tanstack/react-query";
import { useParams } from "react-router";
import { Card, Empty, QueryState } from "../components/ui";
import { useCapabilities } from "../hooks/useCapabilities";
import { get } from "../lib/api";

/** A page a plugin registered through `register_ui_pages`: its read endpoints, shown live. */
function Endpoint({ path }: { path: string }) {
  const q = useQuery({ queryKey: ["plugin-page", path], queryFn: () => get<unknown>(path.replace(/^\//, "")), refetchInterval: 10000 });
  return (
    <Card title={<code>GET {path}</code>}>
      <QueryState q={q}>{(d) => <pre className="json">{JSON.stringify(d, null, 2)}</pre>}</QueryState>
    </Card>
  );
}

export default function PluginPage() {
  const { id } = useParams();
  const caps = useCapabilities();
  const page = caps.pages.find((p) => p.id === id);
  if (!page) return <Empty>No page “{id}”.</Empty>;
  const prefix = page.path.replace(/\/$/, "");
  const short = page.plugin.replace(/^sigmavault-/, "");
  const paths = [...caps.paths].filter((p) => {
    const op = caps.openapi?.paths[`/api/v1${p}`]?.get as { tags?: string[] } | undefined;
    if (!op || p.includes("{")) return false;
    return p.startsWith(prefix) || (op.tags ?? []).some((t) => t === page.id || t === short);
  });
  return (
    <div className="page">
      <h1>{page.title}</h1>
      <p className="muted">Contributed by the {page.plugin} plugin.</p>
      {paths.length === 0 ? <Empty>This plugin exposes no readable endpoints under {prefix}.</Empty> : paths.map((p) => <Endpoint key={p} path={p} />)}
    </div>
  );
}
