// Accessibility scan of the page as it is now, with axe-core injected into it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// evaluated through the DevTools protocol: the UI's Content-Security-Policy forbids injected <script>
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Rules for WCAG 2.x A/AA and axe's best practices; violations of impact critical and serious. */
export async function axeScan(page, name) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
    resultTypes: ["violations"],
  }));
  return result.violations
    .filter((v) => v.impact === "critical" || v.impact === "serious")
    .map((v) => ({
      page: name,
      rule: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 10).map((n) => ({ target: n.target.join(" "), summary: n.failureSummary?.slice(0, 300) })),
      count: v.nodes.length,
    }));
}
