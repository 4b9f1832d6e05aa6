// The Data protection page in real headless Chromium against a running SigmaVault daemon that has
// a dir pool SV_POOL with a volume "data" (tests/e2e/test_protection_ui.py prepares them):
// sign in, create a snapshot task through the dialog's pickers and presets, see it listed with its
// schedule in words and next run, run it now and find the run in its history.
// SV_SCENARIO=replication instead (tests/e2e/test_protection_ui.py, two nodes joined over
// PhantomMesh): on node SV_URL with a pool SV_POOL holding volume "docs" and a snapshot, and mesh
// node SV_PEER allowing it into its pool SV_TARGET_POOL: create a replication through the dialog's
// pickers (the node chosen by name, its pool read over the mesh), run it now, restore one file
// (sub/b.bin, picked by browsing the replica snapshot s1 on the target) and then the volume from
// the replica as "docs-restored", and find the node with its health, that pool and the run on the
// Dashboard's fleet card.
// Prints one JSON line: {"name","status":"passed"|"failed","detail"}.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const URL_ = process.env.SV_URL ?? "http://127.0.0.1:12080/";
const USER = process.env.SV_USER ?? "admin";
const PASS = process.env.SV_PASS ?? "";
const POOL = process.env.SV_POOL ?? "tank";
const ART = process.env.SV_ARTIFACTS ?? "test-artifacts/protection";
const SCENARIO = process.env.SV_SCENARIO ?? "snapshot";
const PEER = process.env.SV_PEER ?? "beta";
const TARGET_POOL = process.env.SV_TARGET_POOL ?? "backup";
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

async function snapshotScenario() {
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
  return { name: "protection_snapshot", status: "passed", detail: `task ${task.id}, next run ${next}` };
}

/** Wait until `n` restore jobs have finished, all of them successfully. */
async function restoresDone(n) {
  const deadline = Date.now() + 60000;
  for (;;) {
    const jobs = (await api("jobs?kind=replication.restore")).items ?? [];
    const bad = jobs.find((j) => ["FAILED", "ABORTED"].includes(j.state));
    if (bad) throw new Error(`restore ${bad.state}: ${bad.error}`);
    if (jobs.filter((j) => j.state === "SUCCESS").length >= n) return;
    if (Date.now() > deadline) throw new Error("the restore did not finish");
    await page.waitForTimeout(300);
  }
}

async function replicationScenario() {
  const section = page.locator("section.card").filter({ has: page.getByRole("heading", { name: "Replication to other nodes" }) });
  await section.getByRole("button", { name: "Add replication" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("combobox", { name: /^Source pool/ }).selectOption(POOL);
  await dialog.getByRole("combobox", { name: /^Source volume/ }).selectOption("docs");
  const node = dialog.getByRole("combobox", { name: /^Target node/ });
  await node.locator("option", { hasText: PEER }).waitFor({ state: "attached", timeout: T });
  await node.selectOption(PEER);
  const tpool = dialog.getByRole("combobox", { name: /^Pool on the target node/ });
  await tpool.locator("option", { hasText: TARGET_POOL }).waitFor({ state: "attached", timeout: T });  // read from the peer over the mesh
  await tpool.selectOption(TARGET_POOL);
  await dialog.getByLabel("Repeat").selectOption("manual");
  await page.screenshot({ path: join(ART, "replication-dialog.png"), fullPage: true });
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.waitFor({ state: "hidden", timeout: T });

  const [task] = await api("replication");
  if (!task) throw new Error("no replication task on the server");
  if (task.pool !== POOL || task.volume !== "docs" || task.peer !== PEER || task.target_pool !== TARGET_POOL || task.schedule !== null)
    throw new Error(`unexpected task ${JSON.stringify(task)}`);
  const row = page.getByTestId(`repl-${task.id}`);
  await row.getByText("by hand").waitFor({ timeout: T });
  await row.getByRole("button", { name: "Run now" }).click();
  await row.getByTestId("repl-state").getByText("success").waitFor({ timeout: 60000 });
  const summary = (await row.getByTestId("repl-state").textContent()) ?? "";
  if (!/2 snapshots sent/.test(summary)) throw new Error(`run summary: ${summary}`);

  // one file: browse the replica snapshot as the target lists it, over the mesh
  await row.getByRole("button", { name: "Restore…" }).click();
  let restore = page.getByRole("dialog");
  await restore.getByTestId("replica-snap-s1").getByRole("button", { name: "Restore a file…" }).click();
  const browser = restore.getByTestId("replica-browser");
  await browser.getByRole("button", { name: "open folder sub" }).click();
  await browser.getByRole("button", { name: "choose b.bin" }).click();
  await restore.getByLabel("Replace the file if it exists").check();
  await page.screenshot({ path: join(ART, "replication-restore-file.png"), fullPage: true });
  await restore.getByRole("button", { name: "Restore sub/b.bin" }).click();
  await restore.waitFor({ state: "hidden", timeout: T });
  await restoresDone(1);

  await row.getByRole("button", { name: "Restore…" }).click();
  restore = page.getByRole("dialog");
  const snaps = restore.locator('[data-testid^="replica-snap-"]');
  await snaps.first().waitFor({ timeout: T });
  if ((await snaps.count()) !== 2) throw new Error(`replica snapshots: ${await snaps.allTextContents()}`);
  await restore.getByTestId("replica-snap-s1").getByRole("button", { name: "Restore volume…" }).click();
  await restore.getByLabel(/New volume in/).fill("docs-restored");
  await page.screenshot({ path: join(ART, "replication-restore.png"), fullPage: true });
  await restore.getByRole("button", { name: "Restore the volume" }).click();
  await restore.waitFor({ state: "hidden", timeout: T });
  await restoresDone(2);

  await page.getByRole("link", { name: /Dashboard/ }).click();
  const fleet = page.getByTestId(`fleet-${PEER}`);
  // the card may show the cached answer first: the run appears once the refetch (over the mesh) is back
  await fleet.getByText("success").waitFor({ timeout: T });
  const text = (await fleet.textContent()) ?? "";
  for (const want of [TARGET_POOL, "success"]) if (!text.includes(want)) throw new Error(`fleet row lacks ${want}: ${text}`);
  // healthy, or degraded by an alert the peer raised on this busy machine: never down, never a pool
  const [peerNode] = (await api("replication/fleet")).filter((x) => x.peer === PEER);
  const word = { ok: "healthy", degraded: "degraded", down: "down" }[peerNode.health.state];
  if (!text.includes(word) || peerNode.health.reasons.some((r) => r.kind !== "alert")) throw new Error(`fleet health: ${JSON.stringify(peerNode.health)} / ${text}`);
  await page.screenshot({ path: join(ART, "fleet.png"), fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  return { name: "protection_replication", status: "passed", detail: `task ${task.id}: ${summary}; fleet: ${text}` };
}

let out;
try {
  await page.goto(URL_);
  await page.getByLabel("Username").fill(USER);
  await page.getByLabel("Password").fill(PASS);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor({ timeout: T });
  await page.getByRole("link", { name: /Data protection/ }).click();
  await page.getByRole("heading", { name: "Data protection" }).waitFor({ timeout: T });

  out = SCENARIO === "replication" ? await replicationScenario() : await snapshotScenario();
} catch (e) {
  await page.screenshot({ path: join(ART, "FAILED-protection.png"), fullPage: true }).catch(() => {});
  out = { name: `protection_${SCENARIO}`, status: "failed", detail: String(e?.stack ?? e).slice(0, 2000) };
}
console.log(JSON.stringify(out));
await browser.close();
