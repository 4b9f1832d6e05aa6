import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useCapabilities } from "../hooks/useCapabilities";
import { get } from "../lib/api";
import type { UiPage } from "../lib/types";
import { pageHref } from "../nav";
import { Card, QueryState } from "./ui";

type Scalar = string | number | boolean | null;

function isFlat(d: unknown): d is Record<string, Scalar> {
  return typeof d === "object" && d !== null && !Array.isArray(d) && Object.values(d).every((v) => v === null || typeof v !== "object");
}

/** One widget: the answer of its GET endpoint, as label/value pairs when flat, else as JSON. */
function PluginWidget({ widget, page }: { widget: UiPage; page: UiPage | undefined }) {
  const q = useQuery({ queryKey: ["plugin-widget", widget.path], queryFn: () => get<unknown>(widget.path.replace(/^\//, "")), refetchInterval: 15000 });
  return (
    <Card title={widget.title} actions={page && <Link to={pageHref(page)}>Open {page.title}</Link>}>
      <div data-testid={`widget-${widget.id}`}>
        <QueryState q={q}>
          {(d) => isFlat(d) ? (
            <dl className="kv">
              {Object.entries(d).map(([k, v]) => <div key={k}><dt>{k.replace(/_/g, " ")}</dt><dd>{v === null ? "—" : String(v)}</dd></div>)}
            </dl>
          ) : <pre className="json">{JSON.stringify(d, null, 2)}</pre>}
        </QueryState>
      </div>
    </Card>
  );
}

/** Dashboard cards plugins registered with `register_ui_pages(kind="widget")` whose endpoint exists. */
export default function PluginWidgets() {
  const caps = useCapabilities();
  const widgets = caps.pages.filter((p) => p.kind === "widget" && caps.has(p.path.split("?")[0]!));
  if (widgets.length === 0) return null;
  return (
    <div className="grid2">
      {widgets.map((w) => (
        <PluginWidget key={w.id} widget={w} page={caps.pages.find((p) => p.kind !== "widget" && p.plugin === w.plugin)} />
      ))}
    </div>
  );
}
