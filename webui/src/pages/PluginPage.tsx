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
  const page = caps.pages.find((p) => p.id === id && p.kind !== "widget");
  if (!page) return <Empty>No page “{id}”.</Empty>;
  const prefix = page.path.replace(/\/$/, "");
  const short = page.plugin.replace(/^sigmavault-/, "");
  type Op = { tags?: string[]; summary?: string };
  const ops: { method: string; path: string; summary: string }[] = [];
  for (const p of caps.paths) {
    for (const [method, raw] of Object.entries(caps.openapi?.paths[`/api/v1${p}`] ?? {})) {
      const op = raw as Op;
      if (p.startsWith(prefix) || (op.tags ?? []).some((t) => t === page.id || t === short)) ops.push({ method: method.toUpperCase(), path: p, summary: op.summary ?? "" });
    }
  }
  const paths = ops.filter((o) => o.method === "GET" && !o.path.includes("{")).map((o) => o.path);
  return (
    <div className="page">
      <h1>{page.title}</h1>
      <p className="muted">Contributed by the {page.plugin} plugin.</p>
      {ops.length > 0 && (
        <Card title="API">
          <table>
            <thead><tr><th>Method</th><th>Path</th><th>Summary</th></tr></thead>
            <tbody>{ops.map((o) => <tr key={`${o.method} ${o.path}`}><td><code>{o.method}</code></td><td><code>/api/v1{o.path}</code></td><td>{o.summary}</td></tr>)}</tbody>
          </table>
        </Card>
      )}
      {paths.length === 0 ? <Empty>This plugin exposes nothing to read here.</Empty> : paths.map((p) => <Endpoint key={p} path={p} />)}
    </div>
  );
}
