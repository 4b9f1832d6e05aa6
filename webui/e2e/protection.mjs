// The Data protection page in real headless Chromium against a running SigmaVault daemon that has
// a dir pool SV_POOL with a volume "data" (tests/e2e/test_protection_ui.py prepares them):
// sign in, create a snapshot task through the dialog's pickers and presets, see it listed with its
// schedule in words and next run, run it now and find the run in its history.
// Prints one JSON line: {"name","status":"passed"|"failed","detail"}.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const URL_ = process.env.SV_URL ?? "http://127.0.0.1:12080/";
const USER = process.env.SV_USER ?? "admin";
const PASS = process.env.SV_PASS ?? "";
const POOL = process.env.SV_POOL ?? "tank";
const ART = process.env.SV_ARTIFACTS ?? "test-artifacts/protection";
const T = 20000;
mkdirSync(ART, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.SV_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const page = await (await browser.newContext({ viewport: { width: 1440, height: 1000 } })).newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
const api = async (path) => (await page.request.get(new URL(`api/v1/${path}`, URL_).toString())).json();

let out;
try {
  await page.goto(URL_);
  await page.getByLabel("Username").fill(USER);
  await page.getByLabel("Password").fill(PASS);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor({ timeout: T });
  await page.getByRole("link", { name: /Data protection/ }).click();
  await page.getByRole("heading", { name: "Data protection" }).waitFor({ timeout: T });

  await page.getByRole("button", { name: "New task" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Task").selectOption("snapshot");
  await dialog.getByRole("combobox", { name: "Pool" }).selectOption(POOL);
  await dialog.getByRole("combobox", { name: "Volume" }).selectOption("data");
  // a refused field first: a schema without a time field
  await dialog.getByLabel("Snapshot names").fill("fixed");
  await dialog.getByLabel("Repeat").selectOption("daily");
  await dialog.getByLabel("Time (UTC)").fill("02:30");
  await dialog.getByText(/every day at 02:30 · next:/).waitFor({ timeout: T });
  await dialog.getByRole("button", { name: "Create task" }).click();
  await dialog.locator(".field.invalid").filter({ hasText: "Snapshot names" }).getByRole("alert").waitFor({ timeout: T });
  await dialog.getByLabel("Snapshot names").fill("e2e-%Y%m%d-%H%M%S");
  await dialog.getByLabel("Keep last").fill("3");
  await page.screenshot({ path: join(ART, "protection-dialog.png"), fullPage: true });
  await dialog.getByRole("button", { name: "Create task" }).click();

  const [task] = await api("storage/protection/tasks");
  if (!task) throw new Error("no task on the server");
  if (task.schedule !== "30 2 * * *" || task.params.retention.keep_last !== 3) throw new Error(`unexpected task ${JSON.stringify(task)}`);
  const row = page.locator(`[data-testid="task-${task.id}"]`);
  await row.getByText("every day at 02:30").waitFor({ timeout: T });
  const next = (await row.getByTestId("next-run").textContent()) ?? "";
  const expected = new Date(task.next_run).toLocaleString();
  if (next !== expected) throw new Error(`next run shown as ${next}, expected ${expected}`);

  await row.getByRole("button", { name: "Run now" }).click();
  await row.getByText("success").waitFor({ timeout: T });
  await row.getByRole("button", { name: "History" }).click();
  const history = page.getByRole("dialog");
  await history.getByText(/created e2e-/).waitFor({ timeout: T });
  await page.screenshot({ path: join(ART, "protection-history.png"), fullPage: true });
  await history.getByRole("button", { name: "Close" }).click();
  const snaps = await api(`storage/pools/${POOL}/volumes/data/snapshots`);
  const items = snaps.items ?? snaps;
  if (!items.some((s) => s.name.startsWith("e2e-"))) throw new Error("the run made no snapshot");
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  out = { name: "protection_snapshot_task", status: "passed", detail: `task ${task.id}, next run ${next}` };
} catch (e) {
  await page.screenshot({ path: join(ART, "FAILED-protection.png"), fullPage: true }).catch(() => {});
  out = { name: "protection_snapshot_task", status: "failed", detail: String(e?.stack ?? e).slice(0, 2000) };
}
console.log(JSON.stringify(out));
await browser.close();
