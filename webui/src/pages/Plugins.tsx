import { Badge, Card, QueryState } from "../components/ui";
import { usePlugins } from "../hooks/useCapabilities";

export default function Plugins() {
  const plugins = usePlugins();
  return (
    <div className="page">
      <h1>Plugins</h1>
      <Card>
        <QueryState q={plugins} empty={(d) => d.length === 0 && "No plugins."}>
          {(list) => (
            <table>
              <thead><tr><th>Name</th><th>Version</th><th>Status</th><th>Module</th><th>Hooks</th></tr></thead>
              <tbody>{list.map((p) => (
                <tr key={p.name} data-testid={`plugin-${p.name}`}>
                  <td>{p.name}</td><td>{p.version}</td><td><Badge value={p.status} />{p.error && <div className="form-error">{p.error}</div>}</td>
                  <td><code>{p.module}</code></td><td className="small">{p.hooks.join(", ")}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </QueryState>
      </Card>
    </div>
  );
}
