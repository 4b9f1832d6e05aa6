// Gzipped size of what the browser loads for the initial route (index.html, the entry chunk with
// its static imports and CSS, plus the dashboard route's chunk), from Vite's build manifest.
// `node scripts/size.mjs [--json] [--budget KB]` — exits 1 when over the budget (default 400 KB).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const dist = new URL("../dist/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
const args = process.argv.slice(2);
const budget = Number(args[args.indexOf("--budget") + 1]) || 400;

const files = new Set(["index.html"]);
function collect(key) {
  const chunk = manifest[key];
  if (!chunk || files.has(chunk.file)) return;
  files.add(chunk.file);
  (chunk.css ?? []).forEach((c) => files.add(c));
  (chunk.imports ?? []).forEach(collect);
}
const entry = Object.keys(manifest).find((k) => manifest[k].isEntry);
collect(entry);
collect("src/pages/Dashboard.tsx");

const rows = [...files].map((f) => {
  const raw = readFileSync(join(dist, f));
  return { file: f, bytes: raw.length, gzip: gzipSync(raw, { level: 9 }).length };
});
const total = rows.reduce((s, r) => s + r.gzip, 0);
const out = { route: "dashboard (initial)", files: rows, gzip_bytes: total, gzip_kb: +(total / 1024).toFixed(1), budget_kb: budget };
if (args.includes("--json")) console.log(JSON.stringify(out));
else {
  for (const r of rows) console.log(`${r.file.padEnd(44)} ${(r.bytes / 1024).toFixed(1).padStart(8)} KB  gzip ${(r.gzip / 1024).toFixed(1).padStart(6)} KB`);
  console.log(`initial route: ${out.gzip_kb} KB gzipped (budget ${budget} KB)`);
}
process.exit(total / 1024 > budget ? 1 : 0);
