// End-to-end scenarios in real headless Chromium against a running SigmaVault daemon.
// Driven by tests/e2e/test_webui.py, which starts the daemon; usable by hand too:
//   SV_URL=http://127.0.0.1:12080/ SV_USER=admin SV_PASS=... node e2e/run.mjs
// Prints one JSON line per scenario: {"name","status":"passed"|"failed"|"skipped","detail"}.
// Writes screenshots (SV_ARTIFACTS; every page at 1440 and 390 px in SV_SCREENSHOTS) and the
// axe-core findings of impact critical or serious (SV_ARTIFACTS/axe.json).
import { chromium } from "playwright-core";
import { chmodSync, existsSync, mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { axeScan } from "./a11y.mjs";

const URL_ = process.env.SV_URL ?? "http://127.0.0.1:12080/";
const USER = process.env.SV_USER ?? "admin";
const PASS = process.env.SV_PASS ?? "";
const ART = process.env.SV_ARTIFACTS ?? "test-artifacts";
const ONLY = (process.env.SV_SCENARIOS ?? "").split(",").filter(Boolean);
const T = 20000;
const POOL = `e2e${Date.now().toString(36)}`;
const SHOTS = process.env.SV_SCREENSHOTS ?? join(ART, "..", "screenshots");
mkdirSync(ART, { recursive: true });
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.SV_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, colorScheme: "dark" });
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });

let plugins = new Set();
const state = {};
const results = [];
const shot = (name) => page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
/** The page at 1440 px and at 390 px (a phone), under test-artifacts/screenshots/. */
const shots = async (name) => {
  await page.screenshot({ path: join(SHOTS, `${name}-1440.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}-390.png`), fullPage: true });
  await page.setViewportSize({ width: 1440, height: 1000 });
  await page.waitForTimeout(200);
};
const go = async (hash) => {
  await page.goto(new URL(`#${hash}`, URL_).toString());
  await page.locator("main h1").first().waitFor({ timeout: T });
};
const api = async (path) => {
  const r = await page.request.get(new URL(`api/v1/${path}`, URL_).toString());
  if (!r.ok()) throw new Error(`GET ${path}: ${r.status()}`);
  return r.json();
};

async function scenario(name, needs, fn) {
  if (ONLY.length && !ONLY.includes(name)) return;
  const missing = needs.filter((p) => !plugins.has(p));
  if (missing.length) {
    results.push({ name, status: "skipped", detail: `plugin not installed: ${missing.join(", ")}` });
    console.log(JSON.stringify(results.at(-1)));
    return;
  }
  const t0 = Date.now();
  try {
    const detail = await fn();
    results.push({ name, status: "passed", detail: detail ?? "", seconds: (Date.now() - t0) / 1000 });
  } catch (e) {
    await shot(`FAILED-${name}`).catch(() => {});
    results.push({ name, status: "failed", detail: String(e?.stack ?? e).slice(0, 2000) });
  }
  console.log(JSON.stringify(results.at(-1)));
}

try {
  await scenario("login", [], async () => {
    await page.goto(URL_);
    await page.getByLabel("Username").waitFor({ timeout: T });
    await shot("01-login");
    await shots("login");
    state.axeLogin = await axeScan(page, "login");
    await page.getByLabel("Username").fill(USER);
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor({ timeout: T });
    await page.getByLabel("Password").fill(PASS);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor({ timeout: T });
    await page.locator('[data-testid="socket-status"][data-status="open"]').waitFor({ timeout: T });
    const me = await api("auth/me");
    if (me.username !== USER || me.via !== "session") throw new Error(`unexpected identity ${JSON.stringify(me)}`);
    plugins = new Set((await api("plugins")).filter((p) => p.status === "loaded").map((p) => p.name));
    return `signed in as ${me.username}; plugins: ${[...plugins].filter((p) => !p.startsWith("sigmavault.")).join(" ")}`;
  });
  if (!results.find((r) => r.name === "login" && r.status === "passed")) throw new Error("login failed: nothing else can run");

  await scenario("metrics_live", ["sigmavault-system"], async () => {
    await go("/");
    const last = page.locator('[data-testid="last-sample"]');
    await page.locator(".chart canvas").first().waitFor({ timeout: T });
    const count = page.locator('[data-testid="sample-count"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="sample-count"]')?.textContent) > 0, null, { timeout: T });
    const before = await last.textContent();
    const n0 = Number(await count.textContent());
    // a new system.metrics event must arrive over the WebSocket and move the charts
    await page.waitForFunction(
      ([b, n]) => document.querySelector('[data-testid="last-sample"]')?.textContent !== b && Number(document.querySelector('[data-testid="sample-count"]')?.textContent) > n,
      [before, n0], { timeout: T });
    const cpu = await page.locator('[data-testid="cpu-percent"]').textContent();
    const points = await page.locator(".chart [data-points]").first().getAttribute("data-points");
    await page.waitForTimeout(1500);
    await shot("02-dashboard");
    return `sample ${before} → ${await last.textContent()}, cpu ${cpu}, ${points} points charted`;
  });

  await scenario("storage_pool_snapshot", ["sigmavault-storage"], async () => {
    await go("/storage");
    await page.getByRole("button", { name: "New pool" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill(POOL);
    await dialog.getByLabel("Backend").selectOption("dir");
    await dialog.getByRole("button", { name: "Create pool" }).click();
    await page.locator(`[data-testid="pool-${POOL}"]`).getByText("online").waitFor({ timeout: T });
    await page.locator(`[data-testid="pool-${POOL}"]`).getByRole("button", { name: POOL }).click();
    await page.getByLabel("volume name").fill("data");
    await page.getByRole("button", { name: "Create volume" }).click();
    await page.getByRole("button", { name: "data", exact: true }).click();
    const vol = await api(`storage/pools/${POOL}/volumes/data`);
    writeFileSync(join(vol.path, "hello.txt"), "before snapshot\n");
    chmodSync(join(vol.path, "hello.txt"), 0o640);
    state.volumePath = vol.path;
    await page.getByLabel("snapshot name").fill("snap1");
    await page.getByRole("button", { name: "Create snapshot" }).click();
    const row = page.locator('[data-testid="snapshot-snap1"]');
    await row.waitFor({ timeout: T });
    // the selection is in the URL: a reload (or Back from another page) comes back to it
    if (!page.url().includes(`pool=${POOL}`) || !page.url().includes("volume=data")) throw new Error(`selection not in the URL: ${page.url()}`);
    await page.reload();
    await row.waitFor({ timeout: T });
    const snaps = await api(`storage/pools/${POOL}/volumes/data/snapshots`);
    if (!snaps.items.some((s) => s.name === "snap1")) throw new Error("snapshot not on the server");
    // change the volume (new inode, as editors save), then roll back through the confirmation dialog
    writeFileSync(join(vol.path, "hello.tmp"), "after snapshot\n");
    renameSync(join(vol.path, "hello.tmp"), join(vol.path, "hello.txt"));
    writeFileSync(join(vol.path, "added.txt"), "new\n");
    await row.getByRole("button", { name: "Changes" }).click();
    const diff = page.getByRole("dialog");
    await diff.getByRole("cell", { name: "added.txt" }).waitFor({ timeout: T });
    await diff.getByRole("cell", { name: "hello.txt" }).waitFor({ timeout: T });
    await diff.getByRole("button", { name: "Close" }).click();
    // the file is deleted (as over a share); restore it by picking it in the snapshot's browser
    const { readFileSync } = await import("node:fs");
    unlinkSync(join(vol.path, "hello.txt"));
    await row.getByRole("button", { name: "Restore a file" }).click();
    const restoreDialog = page.getByRole("dialog");
    await restoreDialog.getByTestId("file-browser").waitFor({ timeout: T });
    await restoreDialog.getByRole("button", { name: "choose hello.txt" }).click();
    await restoreDialog.getByTestId("picked").filter({ hasText: `${POOL} / data / hello.txt` }).waitFor({ timeout: T });
    await shots("storage-restore-picker");
    await restoreDialog.getByRole("button", { name: "Restore" }).click();
    await page.getByText("Restored hello.txt").waitFor({ timeout: T });
    const restored = readFileSync(join(vol.path, "hello.txt"), "utf8");
    if (restored !== "before snapshot\n") throw new Error(`restore left ${JSON.stringify(restored)}`);
    const mode = (statSync(join(vol.path, "hello.txt")).mode & 0o777).toString(8);
    if (mode !== "640") throw new Error(`restored file has mode ${mode}, the original had 640`);
    writeFileSync(join(vol.path, "hello.tmp"), "after restore\n");
    renameSync(join(vol.path, "hello.tmp"), join(vol.path, "hello.txt"));
    await row.getByRole("button", { name: "Rollback" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Roll back" }).click();
    await page.getByText("data rolled back to snap1").waitFor({ timeout: T });
    const content = readFileSync(join(vol.path, "hello.txt"), "utf8");
    if (content !== "before snapshot\n") throw new Error(`rollback left ${JSON.stringify(content)}`);
    if (existsSync(join(vol.path, "added.txt"))) throw new Error("rollback kept a file created after the snapshot");
    await page.waitForTimeout(500);
    await shot("03-storage");
    await shots("storage");
    // SMART: a disk that reports none says so and offers no self-test
    const smartButton = page.getByRole("button", { name: "SMART details" }).first();
    if (await smartButton.count()) {
      const disk = (await api("storage/disks"))[0] ?? (await api("storage/disks")).items?.[0];
      await smartButton.click();
      const smartDialog = page.getByRole("dialog");
      await smartDialog.getByText("Health:").waitFor({ timeout: T });
      const smart = await api(`storage/disks/${encodeURIComponent(disk.name)}/smart`);
      const offered = await smartDialog.getByRole("button", { name: "Run short self-test" }).count();
      if (smart.supported === false && offered) throw new Error("self-test offered on a disk without SMART");
      await shots("storage-smart");
      await smartDialog.getByRole("button", { name: "Close" }).click();
    }
    // a second pool, exported through its confirmation dialog: it leaves the list and the API
    const other = `${POOL}x`;
    await page.getByRole("button", { name: "New pool" }).click();
    const createOther = page.getByRole("dialog");
    await createOther.getByLabel("Name").fill(other);
    await createOther.getByLabel("Backend").selectOption("dir");
    await createOther.getByRole("button", { name: "Create pool" }).click();
    const otherRow = page.locator(`[data-testid="pool-${other}"]`);
    await otherRow.getByText("online").waitFor({ timeout: T });
    await otherRow.getByRole("button", { name: "Export" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Export" }).click();
    await page.getByText(`Pool ${other} exported`).waitFor({ timeout: T });
    await otherRow.waitFor({ state: "detached", timeout: T });
    const gone = await page.request.get(new URL(`api/v1/storage/pools/${other}`, URL_).toString());
    if (gone.status() !== 404) throw new Error(`exported pool still answers ${gone.status()}`);
    return `pool ${POOL}, volume data at ${vol.path}, snapshot snap1 created, a deleted file restored by picking it (mode 640 kept), rolled back; pool ${other} exported`;
  });

  await scenario("agent_task", ["sigmavault-agents"], async () => {
    await go("/agents");
    await page.locator('[data-testid="agent-FORTRESS"]').waitFor({ timeout: T });
    const count = await page.locator('[data-testid="agent-count"]').textContent();
    await page.locator('[data-testid="agent-FORTRESS"]').getByRole("link", { name: "FORTRESS" }).click();
    await page.getByRole("heading", { name: /Security check/ }).waitFor({ timeout: T });
    await page.getByRole("button", { name: "Run" }).click();
    const done = page.locator('[data-testid="agent-tasks"] tr[data-state="SUCCESS"]').first();
    await done.waitFor({ timeout: 60000 });
    const bar = await done.getByRole("progressbar").getAttribute("aria-valuenow");
    if (bar !== "100") throw new Error(`finished task shows ${bar} %`);
    await page.waitForTimeout(300);
    await shot("04-agents");
    let census = "";
    if (state.volumePath && plugins.has("sigmavault-storage")) {
      // a file census of the volume, picked (no path typed); the result is a readable summary
      await go("/agents/PRISM");
      await page.getByRole("heading", { name: /File census/ }).waitFor({ timeout: T });
      await page.getByLabel("Where: pool").selectOption(POOL);
      await page.getByLabel("Where: volume").selectOption("data");
      await page.getByRole("button", { name: /Choose this folder/ }).click();
      await page.getByRole("button", { name: "Run" }).click();
      await page.locator('[data-testid="agent-tasks"] tr[data-state="SUCCESS"]').first().waitFor({ timeout: 60000 });
      const result = page.getByTestId("result");
      await result.waitFor({ timeout: T });
      const text = await result.textContent();
      if (!/\d B|[KMG]iB/.test(text)) throw new Error(`census result shows no humanised size: ${text.slice(0, 300)}`);
      if (await result.locator("pre").isVisible()) throw new Error("raw JSON shown without asking");
      await shots("agents-census");
      census = "; PRISM census of the picked volume shown as a summary";
    }
    return `${count} agents listed; FORTRESS task finished${census}`;
  });

  await scenario("compression_job", ["sigmavault-compression", "sigmavault-storage"], async () => {
    if (!state.volumePath) throw new Error("needs the volume from storage_pool_snapshot");
    // 8 MiB of base64 text (compressible, not trivially) at level 19: a few seconds of progress
    const source = join(state.volumePath, "big.txt");
    writeFileSync(source, randomBytes(6 << 20).toString("base64"));
    await go("/compression");
    await page.getByRole("button", { name: "New job" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel(/to compress: pool$/).selectOption(POOL);
    await dialog.getByLabel(/to compress: volume$/).selectOption("data");
    await dialog.getByRole("button", { name: "choose big.txt" }).click();
    await dialog.getByLabel("Codec").selectOption("zstd");
    await dialog.getByLabel("Level (optional)").fill("19");
    await dialog.getByLabel("Threads (optional)").fill("1");
    const seen = [];
    await dialog.getByRole("button", { name: "Start" }).click();
    const row = page.locator('tr[data-testid^="cjob-"]:not([data-testid^="cjob-pending"])').first();
    await row.waitFor({ timeout: T });
    const bar = row.getByRole("progressbar");
    const deadline = Date.now() + 90000;
    for (;;) {
      const v = Number(await bar.getAttribute("aria-valuenow"));
      if (!seen.length || seen.at(-1) !== v) seen.push(v);
      if (v === 100 && (await row.getAttribute("data-state")) === "SUCCESS") break;
      if (Date.now() > deadline) throw new Error(`progress stuck at ${v}: ${seen.join(",")}`);
      await page.waitForTimeout(100);
    }
    await page.waitForTimeout(500);
    await shot("05-compression");
    await page.locator("section.card").filter({ hasText: "Statistics" }).getByRole("cell", { name: "zstd" }).waitFor({ timeout: T });
    if (!seen.some((v) => v > 0 && v < 100)) throw new Error(`no live progress between 0 and 100 %: ${seen.join(",")}`);
    return `progress bar values seen: ${seen.join(" → ")}`;
  });

  await scenario("compress_folder_journey", ["sigmavault-compression", "sigmavault-storage"], async () => {
    // journey (b): a folder picked in the browser, its job watched, its archive found in the browser
    if (!state.volumePath) throw new Error("needs the volume from storage_pool_snapshot");
    mkdirSync(join(state.volumePath, "album", "2024"), { recursive: true });
    writeFileSync(join(state.volumePath, "album", "2024", "scan.txt"), randomBytes(4 << 20).toString("base64"));
    writeFileSync(join(state.volumePath, "album", "notes.txt"), "holiday notes\n".repeat(1000));
    await go("/compression");
    await page.getByRole("button", { name: "New job" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel(/to compress: pool$/).selectOption(POOL);
    await dialog.getByLabel(/to compress: volume$/).selectOption("data");
    await dialog.getByRole("button", { name: "open folder album" }).click();
    await dialog.getByRole("button", { name: "choose notes.txt" }).waitFor({ timeout: T });
    await dialog.getByRole("button", { name: /^Choose this folder/ }).click();
    await dialog.getByTestId("picked").filter({ hasText: `${POOL} / data / album` }).waitFor({ timeout: T });
    await dialog.getByLabel("Level (optional)").fill("19");
    await dialog.getByLabel("Threads (optional)").fill("1");
    const before = new Set(await page.locator('tr[data-testid^="cjob-"]').evaluateAll((rows) => rows.map((r) => r.dataset.testid)));
    await dialog.getByRole("button", { name: "Start" }).click();
    await dialog.waitFor({ state: "detached", timeout: T });
    const row = page.locator('tr[data-testid^="cjob-"]:not([data-testid^="cjob-pending"])').filter({ hasText: "album" }).first();
    await row.waitFor({ timeout: T });
    if (before.has(await row.getAttribute("data-testid"))) throw new Error("no new job row for the folder");
    const seen = [];
    for (const end = Date.now() + 90000; ;) {
      const v = Number(await row.getByRole("progressbar").getAttribute("aria-valuenow"));
      if (!seen.length || seen.at(-1) !== v) seen.push(v);
      const st = await row.getAttribute("data-state");
      if (st === "FAILURE" || st === "CANCELLED") throw new Error(`job ${st}: ${await row.textContent()}`);
      if (v === 100 && st === "SUCCESS") break;
      if (Date.now() > end) throw new Error(`progress stuck at ${v}: ${seen.join(",")}`);
      await page.waitForTimeout(100);
    }
    const rowText = await row.getByTestId("cjob-source").textContent();
    if (!rowText.includes("album.tar.zst")) throw new Error(`the row does not say where the result went: ${rowText}`);
    await shots("compression-folder-done");
    // the archive, found by browsing (the decompress form picks compressed files)
    await page.getByRole("button", { name: "New job" }).click();
    const again = page.getByRole("dialog");
    await again.getByLabel("Operation").selectOption("decompress");
    await again.getByLabel(/Compressed file: pool$/).selectOption(POOL);
    await again.getByLabel(/Compressed file: volume$/).selectOption("data");
    const archive = again.getByRole("button", { name: "choose album.tar.zst" });
    await archive.waitFor({ timeout: T });
    const meta = await again.getByRole("listitem").filter({ has: page.getByRole("button", { name: "choose album.tar.zst" }) }).locator(".meta").textContent();
    await archive.click();
    await again.getByTestId("picked").filter({ hasText: `${POOL} / data / album.tar.zst` }).waitFor({ timeout: T });
    await shots("compression-find-output");
    await again.getByRole("button", { name: "Cancel" }).click();
    if (statSync(join(state.volumePath, "album.tar.zst")).size === 0) throw new Error("album.tar.zst is empty");
    return `folder album compressed, progress ${seen.join(" → ")}; album.tar.zst found in the browser (${meta.trim()})`;
  });

  await scenario("three_agents", ["sigmavault-agents", "sigmavault-storage"], async () => {
    // journey (d): three agents dispatched through their pickers, results read as summaries
    if (!state.volumePath) throw new Error("needs the volume from storage_pool_snapshot");
    const run = async (agent, fill) => {
      await go(`/agents/${agent}`);
      await page.getByRole("heading", { level: 2, name: new RegExp(agent) }).waitFor({ timeout: T });
      const form = page.locator("main form").first();
      await fill(form);
      const done = page.locator('[data-testid="agent-tasks"] tr[data-state="SUCCESS"]');
      const n = await done.count();
      await form.getByRole("button", { name: "Run" }).click();
      const failed = page.locator('[data-testid="agent-tasks"] tr[data-state="FAILED"]');
      for (const end = Date.now() + 60000; (await done.count()) <= n; await page.waitForTimeout(200)) {
        if (await failed.count()) throw new Error(`${agent} failed: ${await failed.first().textContent()}`);
        if (Date.now() > end) throw new Error(`${agent} did not finish`);
      }
      const result = page.getByTestId("result");
      await result.waitFor({ timeout: T });
      if (await result.locator("pre").isVisible()) throw new Error(`${agent}: raw JSON shown without asking`);
      const text = (await result.evaluate((e) => e.innerText)).replace(/\s+/g, " "); // what is shown, not the closed details
      if (/\{"|"\w+"\s*:/.test(text)) throw new Error(`${agent}: result reads like JSON: ${text.slice(0, 300)}`);
      await shots(`agents-${agent.toLowerCase()}`);
      return text;
    };
    // VERTEX: heaviest folders of a folder picked in the browser
    const vertex = await run("VERTEX", async (form) => {
      await form.getByLabel(/: pool$/).first().selectOption(POOL);
      await form.getByLabel(/: volume$/).first().selectOption("data");
      await form.getByRole("button", { name: /^Choose this folder/ }).click();
      await form.getByTestId("picked").filter({ hasText: `${POOL} / data` }).waitFor({ timeout: T });
    });
    if (!/album/.test(vertex) || !/\d(\.\d+)? ?(B|KiB|MiB|GiB)\b/.test(vertex)) throw new Error(`VERTEX result names no folder with a size: ${vertex.slice(0, 300)}`);
    // STREAM: snap1 exported as a stream file, pool, volume and snapshot picked from lists
    const stream = await run("STREAM", async (form) => {
      await form.getByLabel(/^Pool/).selectOption(POOL);
      await form.getByLabel(/^Volume/).selectOption("data");
      await form.getByLabel(/^Snapshot/).selectOption("snap1");
    });
    if (!/snap1/.test(stream) || !/\d(\.\d+)? ?(B|KiB|MiB|GiB)\b/.test(stream)) throw new Error(`STREAM result shows no snapshot with a size: ${stream.slice(0, 300)}`);
    // AEGIS: a protective snapshot of the pools ticked in the list
    const aegis = await run("AEGIS", async (form) => {
      await form.getByLabel(POOL, { exact: true }).check();
    });
    const snaps = await api(`storage/pools/${POOL}/volumes/data/snapshots`);
    const made = snaps.items.find((x) => x.name.startsWith("aegis-"));
    if (!made) throw new Error(`AEGIS made no snapshot: ${JSON.stringify(snaps.items.map((x) => x.name))}`);
    if (!aegis.includes("data")) throw new Error(`AEGIS result does not name the volume: ${aegis.slice(0, 300)}`);
    return `VERTEX: ${vertex.slice(0, 120)} | STREAM: ${stream.slice(0, 120)} | AEGIS: ${aegis.slice(0, 120)}`;
  });

  await scenario("encryption_lock_unlock", ["sigmavault-encryption"], async () => {
    await go("/encryption");
    await page.getByRole("button", { name: "New identity" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("e2ekey");
    await dialog.getByLabel("Passphrase").fill("correct horse battery");
    await dialog.getByRole("button", { name: "Create identity" }).click();
    const row = page.getByRole("row").filter({ hasText: "e2ekey" });
    await row.getByText("SHA256:").waitFor({ timeout: 60000 }); // the server's row, not the optimistic one
    await row.getByRole("button", { name: "Lock", exact: true }).click();
    await row.getByText("locked", { exact: true }).waitFor({ timeout: T });
    // a wrong passphrase: the optimistic "unlocked" flips back and an error toast shows
    await row.getByRole("button", { name: "Unlock" }).click();
    await page.getByRole("dialog").getByLabel("Passphrase").fill("wrong passphrase");
    await page.getByRole("dialog").getByRole("button", { name: "Unlock" }).click();
    await page.locator("[data-sonner-toast][data-type='error']").first().waitFor({ timeout: T });
    await row.getByText("locked", { exact: true }).waitFor({ timeout: T });
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click().catch(() => {});
    await row.getByRole("button", { name: "Unlock" }).click();
    await page.getByRole("dialog").getByLabel("Passphrase").fill("correct horse battery");
    await page.getByRole("dialog").getByRole("button", { name: "Unlock" }).click();
    await row.getByText("unlocked").waitFor({ timeout: T });
    const keys = await api("encryption/keys");
    const k = keys.find((x) => x.name === "e2ekey");
    if (!k || k.state !== "unlocked") throw new Error(`server says ${JSON.stringify(k)}`);
    await page.waitForTimeout(300);
    await shot("06-encryption");
    return `identity ${k.fingerprint ?? k.id} (${k.kind}) created, locked, refused a wrong passphrase, unlocked`;
  });

  await scenario("encrypt_decrypt_picked", ["sigmavault-encryption", "sigmavault-storage"], async () => {
    if (!state.volumePath) throw new Error("needs the volume from storage_pool_snapshot");
    const { readFileSync } = await import("node:fs");
    writeFileSync(join(state.volumePath, "secret.txt"), "top secret\n");
    await go("/encryption");
    const enc = page.getByRole("form", { name: "Encrypt" });
    await enc.getByLabel("What to encrypt: pool").selectOption(POOL);
    await enc.getByLabel("What to encrypt: volume").selectOption("data");
    await enc.getByRole("button", { name: "choose secret.txt" }).click();
    await enc.getByLabel("e2ekey", { exact: false }).check();
    await enc.getByRole("button", { name: "Encrypt" }).click();
    const sealed = join(state.volumePath, "secret.txt.age");
    for (const end = Date.now() + 30000; !existsSync(sealed); await page.waitForTimeout(200)) {
      if (Date.now() > end) throw new Error("secret.txt.age never appeared");
    }
    if (readFileSync(sealed).includes("top secret")) throw new Error("the .age file holds the plain text");
    unlinkSync(join(state.volumePath, "secret.txt"));
    const dec = page.getByRole("form", { name: "Decrypt" });
    await dec.getByLabel("Encrypted file: pool").selectOption(POOL);
    await dec.getByLabel("Encrypted file: volume").selectOption("data");
    await dec.getByRole("button", { name: "choose secret.txt.age" }).click();
    await dec.getByRole("button", { name: "Decrypt" }).click();
    const plain = join(state.volumePath, "secret.txt");
    for (const end = Date.now() + 30000; !existsSync(plain); await page.waitForTimeout(200)) {
      if (Date.now() > end) throw new Error("secret.txt was not decrypted back");
    }
    await page.waitForTimeout(300);
    const back = readFileSync(plain, "utf8");
    if (back !== "top secret\n") throw new Error(`decrypted ${JSON.stringify(back)}`);
    await shots("encryption");
    return "secret.txt encrypted to e2ekey (picked by name) and decrypted back, all picked in the volume";
  });

  await scenario("errors_on_fields", ["sigmavault-storage"], async () => {
    await go("/storage");
    await page.getByRole("button", { name: "New pool" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("bad name!");
    await dialog.getByLabel("Backend").selectOption("dir");
    await dialog.getByRole("button", { name: "Create pool" }).click();
    const err = dialog.locator(".field.invalid").filter({ hasText: "Name" }).locator(".field-error");
    await err.waitFor({ timeout: T });
    const text = await err.textContent();
    if (!/letters, digits/.test(text) || /Value error|invalid body/.test(text)) throw new Error(`pool name error reads ${JSON.stringify(text)}`);
    if ((await dialog.getByLabel("Name").inputValue()) !== "bad name!") throw new Error("the name was cleared on error");
    // the toast is in the top layer, above the dialog's backdrop
    const toastOnTop = await page.evaluate(() => document.getElementById("toasts")?.matches(":popover-open") ?? false);
    if (!toastOnTop) throw new Error("toasts are not above the dialog");
    const toast = await page.locator("[data-sonner-toast][data-type='error']").first().textContent();
    if (/invalid body|Value error/.test(toast)) throw new Error(`raw validation text in the toast: ${toast}`);
    await shots("errors-pool-name");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    // a volume name with a space: the message under the volume name input
    await page.locator(`[data-testid="pool-${POOL}"]`).getByRole("button", { name: POOL }).click();
    await page.getByLabel("volume name").fill("my volume");
    await page.getByRole("button", { name: "Create volume" }).click();
    const volErr = page.locator("label.field").filter({ has: page.getByLabel("volume name") }).locator(".field-error");
    await volErr.waitFor({ timeout: T });
    if ((await page.getByLabel("volume name").inputValue()) !== "my volume") throw new Error("the volume name was cleared on error");
    return `pool name: ${text}; volume name: ${await volErr.textContent()}`;
  });

  /** Every page the sidebar offers, with a stable file name: "#/" → dashboard, "#/p/hello" → plugin-hello. */
  const navPages = async () => (await page.getByRole("navigation", { name: "Main" }).locator("a").evaluateAll((as) => as.map((a) => a.getAttribute("href"))))
    .map((href) => [href.replace(/^#\//, "").replace(/^p\//, "plugin-").replace(/\//g, "-") || "dashboard", href.replace(/^#/, "")]);
  const numbered = { network: "07-network", jobs: "08-jobs", audit: "09-audit", plugins: "10-plugins", settings: "11-settings" };
  await scenario("page_screenshots", [], async () => {
    const list = await navPages();
    for (const [name, hash] of list) {
      await go(hash);
      await page.waitForLoadState("networkidle").catch(() => {});
      await page.waitForTimeout(name === "dashboard" ? 1500 : 400);
      state.axePages = [...(state.axePages ?? []), ...await axeScan(page, name)];
      if (numbered[name]) await shot(numbered[name]);
      if (name.startsWith("plugin-")) await shot("14-plugin-page");
      await shots(name);
    }
    // light theme, keyboard-toggled
    await go("/");
    await page.getByRole("button", { name: /switch to light theme/ }).focus();
    await page.keyboard.press("Enter");
    await page.waitForTimeout(1500);
    await shot("12-dashboard-light");
    const theme = await page.evaluate(() => document.documentElement.dataset.theme);
    if (theme !== "light") throw new Error(`theme is ${theme}`);
    await page.getByRole("button", { name: /switch to dark theme/ }).click();
    writeFileSync(join(SHOTS, "pages.json"), JSON.stringify(["login", ...list.map(([n]) => n)]));
    return `${list.length + 1} pages at 1440 and 390 px: login ${list.map(([n]) => n).join(" ")}`;
  });

  await scenario("accessibility", [], async () => {
    // every page was scanned as page_screenshots showed it; here the dialogs and the phone menu
    const found = [...(state.axeLogin ?? []), ...(state.axePages ?? [])];
    if (!state.axePages) for (const [name, hash] of await navPages()) {
      await go(hash);
      await page.waitForLoadState("networkidle").catch(() => {});
      found.push(...await axeScan(page, name));
    }
    // the main dialogs, open (with their pickers browsing a volume where they have one)
    const dialogs = [
      ["storage", "storage: new pool", async () => page.getByRole("button", { name: "New pool" }).click()],
      ["compression", "compression: new job", async () => {
        await page.getByRole("button", { name: "New job" }).click();
        if (!state.volumePath) return;
        await page.getByRole("dialog").getByLabel(/to compress: pool$/).selectOption(POOL);
        await page.getByRole("dialog").getByLabel(/to compress: volume$/).selectOption("data");
        await page.getByRole("dialog").getByRole("list", { name: /^Contents of/ }).waitFor({ timeout: T });
      }],
      ["encryption", "encryption: new identity", async () => page.getByRole("button", { name: "New identity" }).click()],
    ];
    for (const [hash, name, open] of dialogs) {
      if (!(await page.getByRole("navigation", { name: "Main" }).locator(`a[href="#/${hash}"]`).count())) continue;
      await go(`/${hash}`);
      await open();
      await page.getByRole("dialog").waitFor({ timeout: T });
      found.push(...await axeScan(page, name));
      await page.keyboard.press("Escape");
      await page.getByRole("dialog").waitFor({ state: "detached", timeout: T });
    }
    if (plugins.has("sigmavault-agents")) {
      await go("/agents/PRISM");
      await page.locator("main form").first().waitFor({ timeout: T });
      found.push(...await axeScan(page, "agents: PRISM form and result"));
    }
    // the phone layout with its menu open
    await page.setViewportSize({ width: 390, height: 844 });
    await go("/");
    await page.locator(".menu-toggle").click();
    found.push(...await axeScan(page, "dashboard 390 px, menu open"));
    await page.locator(".menu-toggle").click();
    await page.setViewportSize({ width: 1440, height: 1000 });
    writeFileSync(join(ART, "axe.json"), JSON.stringify(found, null, 2));
    const critical = found.filter((v) => v.impact === "critical");
    const serious = found.filter((v) => v.impact === "serious");
    if (critical.length) throw new Error(`critical: ${critical.map((v) => `${v.page}: ${v.rule} at ${v.nodes.map((n) => n.target).join(", ")}`).join("; ")}`);
    return `no critical violation; ${serious.length} serious (${[...new Set(serious.map((v) => `${v.page}: ${v.rule}`))].join("; ") || "none"}), see axe.json`;
  });

  await scenario("readonly_user", [], async () => {
    // an admin adds a viewer through the settings page, then the viewer signs in
    await go("/settings");
    await page.getByLabel("new username").fill("viewer");
    await page.getByLabel("new password").fill("viewer-password-1");
    await page.getByLabel("role", { exact: true }).selectOption("readonly");
    await page.getByRole("button", { name: "Add user" }).click();
    await page.getByRole("cell", { name: "viewer" }).waitFor({ timeout: T });
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Sign out" }).click()]);
    await page.getByLabel("Username").waitFor({ timeout: T });
    await page.getByLabel("Username").fill("viewer");
    await page.getByLabel("Password").fill("viewer-password-1");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor({ timeout: T });
    const nav = await page.getByRole("navigation", { name: "Main" }).textContent();
    if (nav.includes("Audit log") || nav.includes("Users & API keys")) throw new Error(`admin pages offered to a viewer: ${nav}`);
    if (plugins.has("sigmavault-storage")) {
      await go("/storage");
      await page.getByRole("heading", { name: "Pools" }).waitFor({ timeout: T });
      if (await page.getByRole("button", { name: "New pool" }).isVisible()) throw new Error("viewer sees New pool");
      await shot("13-storage-readonly");
    }
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Sign out" }).click()]);
    await page.getByLabel("Username").waitFor({ timeout: T });
    const after = await page.request.get(new URL("api/v1/auth/me", URL_).toString());
    if (after.status() !== 401) throw new Error(`session still valid after sign-out: ${after.status()}`);
    return "viewer signed in: no admin pages, no write controls";
  });

  await scenario("no_page_errors", [], async () => {
    if (pageErrors.length) throw new Error(pageErrors.join("\n"));
    return "no uncaught errors in the browser console";
  });
} finally {
  await browser.close();
  writeFileSync(join(ART, "e2e-results.json"), JSON.stringify(results, null, 2));
}
process.exit(results.some((r) => r.status === "failed") ? 1 : 0);
