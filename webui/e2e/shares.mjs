// The SMB shares journey in real headless Chromium, through the UI alone: accounts, a share on a
// volume picked from selects, its access list, "can bob write here?", a connected client shown
// live, and the 409 for an account still in use. Driven by tests/e2e/test_shares_ui.py, which
// starts a daemon with [smb] enabled and a pool + dir volume, and checks the effect with smbclient.
//   SV_URL=… SV_PASS=… SV_POOL=… SV_VOLUME=… SV_SMB_PORT=… node e2e/shares.mjs
// Prints one JSON line per step: {"name","status","detail"}.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const URL_ = process.env.SV_URL ?? "http://127.0.0.1:12080/";
const PASS = process.env.SV_PASS ?? "";
const POOL = process.env.SV_POOL ?? "tank";
const VOLUME = process.env.SV_VOLUME ?? "docs";
const SMB_PORT = process.env.SV_SMB_PORT ?? "";
const SHOTS = process.env.SV_SCREENSHOTS ?? "test-artifacts/screenshots";
const ART = process.env.SV_ARTIFACTS ?? "test-artifacts/shares";
export const PASSWORDS = { alice: "wonder-land-42", bob: "hammer-time-77" };
const T = 20000;
mkdirSync(SHOTS, { recursive: true });
mkdirSync(ART, { recursive: true });

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

const results = [];
const shots = async (name) => {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}-1440.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(400);
  await page.screenshot({ path: join(SHOTS, `${name}-390.png`), fullPage: true });
  await page.setViewportSize({ width: 1440, height: 1000 });
  await page.waitForTimeout(200);
};
const go = async (hash) => {
  await page.goto(new URL(`#${hash}`, URL_).toString());
  await page.locator("main h1").first().waitFor({ timeout: T });
};
async function step(name, fn) {
  if (results.some((r) => r.status === "failed")) {
    results.push({ name, status: "failed", detail: "an earlier step failed" });
  } else {
    try {
      results.push({ name, status: "passed", detail: (await fn()) ?? "" });
    } catch (e) {
      await page.screenshot({ path: join(ART, `FAILED-${name}.png`), fullPage: true }).catch(() => {});
      results.push({ name, status: "failed", detail: String(e?.stack ?? e).slice(0, 2000) });
    }
  }
  console.log(JSON.stringify(results.at(-1)));
}

async function newUser(name, fullName, password, groups = []) {
  await page.getByRole("button", { name: "New user" }).click();
  const d = page.getByRole("dialog");
  await d.getByLabel(/^User name/).fill(name);
  await d.getByLabel(/^Full name/).fill(fullName);
  await d.getByLabel(/^Password(?! again)/).fill(password);
  await d.getByLabel("Password again").fill(password);
  for (const g of groups) await d.getByLabel(g, { exact: true }).check();
  await d.getByRole("button", { name: "Create user" }).click();
  await page.locator(`[data-testid="user-${name}"]`).waitFor({ timeout: T });
}

let smbclient = null;
try {
  await step("login", async () => {
    await page.goto(URL_);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(PASS);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor({ timeout: T });
    await page.getByRole("link", { name: "Share accounts" }).waitFor({ timeout: T });
  });

  await step("accounts", async () => {
    await go("/accounts");
    await page.getByText("accounts people use to connect to shares").waitFor({ timeout: T });
    await page.getByRole("button", { name: "New group" }).click();
    let d = page.getByRole("dialog");
    await d.getByLabel(/^Group name/).fill("readers");
    await d.getByRole("button", { name: "Create group" }).click();
    await page.locator('[data-testid="group-readers"]').waitFor({ timeout: T });

    // a weak password: refused on its field, in words, and the form keeps what was typed
    await page.getByRole("button", { name: "New user" }).click();
    d = page.getByRole("dialog");
    await d.getByLabel(/^User name/).fill("alice");
    await d.getByLabel(/^Full name/).fill("Alice Liddell");
    await d.getByLabel(/^Password(?! again)/).fill("alice-123");
    await d.getByLabel("Password again").fill("alice-123");
    await d.getByRole("button", { name: "Create user" }).click();
    const err = d.locator(".field-error").first();
    await err.waitFor({ timeout: T });
    const said = await err.textContent();
    if (!/cannot contain the user name/.test(said)) throw new Error(`password problem shown as ${said}`);
    if ((await d.getByLabel(/^Full name/).inputValue()) !== "Alice Liddell") throw new Error("the form lost the full name");
    await d.getByRole("button", { name: "Cancel" }).click();

    await newUser("alice", "Alice Liddell", PASSWORDS.alice);
    await newUser("bob", "Bob Builder", PASSWORDS.bob, ["readers"]);
    const bobGroups = await page.locator('[data-testid="user-bob"] [data-testid="user-groups"]').textContent();
    if (bobGroups !== "Groupsreaders") throw new Error(`bob's groups: ${bobGroups}`);
    return `weak password refused: “${said}”`;
  });

  await step("share_from_volume", async () => {
    await go("/shares");
    await page.getByRole("button", { name: "New share" }).click();
    const d = page.getByRole("dialog");
    await d.getByLabel(/^Name/).fill("docs");
    await d.getByLabel("Shared folder: pool").selectOption(POOL);
    await d.getByLabel("Shared folder: volume").selectOption(VOLUME);
    await d.getByRole("button", { name: /Choose this folder/ }).click();
    await d.getByTestId("picked").filter({ hasText: `${POOL} / ${VOLUME}` }).waitFor({ timeout: T });
    await d.getByLabel(/^Description/).fill("Team documents");
    await d.getByLabel("Add a user").selectOption("alice");
    await d.getByLabel("Access for alice").selectOption("write");
    await d.getByLabel("Add a group").selectOption("readers");
    // a host list refuses a bad entry before anything is sent
    await d.getByLabel("Only these computers may connect: new entry").fill("not a host!");
    await d.getByRole("button", { name: "Add", exact: true }).first().click();
    await d.getByText("is not an address").waitFor({ timeout: T });
    await d.getByLabel("Only these computers may connect: new entry").fill("127.0.0.0/8");
    await d.getByRole("button", { name: "Add", exact: true }).first().click();
    await d.getByLabel(/^Encryption/).selectOption("desired");
    await d.getByLabel(/Recycle bin/).check();
    await page.screenshot({ path: join(SHOTS, "shares-new-1440.png"), fullPage: true });
    await d.getByRole("button", { name: "Create share" }).click();
    const row = page.locator('[data-testid="share-docs"]');
    await row.waitFor({ timeout: T });
    const summary = await row.getByTestId("access-summary").textContent();
    if (summary !== "alice can write, readers can read, everyone else: no access") throw new Error(`summary: ${summary}`);
    await page.getByTestId("smb-state").getByText("running").waitFor({ timeout: T });
    return summary;
  });

  await step("can_bob_write", async () => {
    await page.locator('[data-testid="share-docs"]').getByRole("button", { name: "Check access" }).click();
    await page.getByLabel("Check access for").selectOption("bob");
    const headline = page.getByTestId("access-headline");
    await headline.waitFor({ timeout: T });
    const text = await headline.textContent();
    if (text !== "read only, because bob is in group readers") throw new Error(`headline: ${text}`);
    const reasons = await page.getByTestId("access-reasons").textContent();
    await page.getByLabel("Check access for").selectOption("alice");
    await page.getByTestId("access-headline").filter({ hasText: "read & write" }).waitFor({ timeout: T });
    await page.getByLabel("Check access for").selectOption("bob");
    await page.getByTestId("access-headline").filter({ hasText: "read only" }).waitFor({ timeout: T });
    return `${text} | ${reasons}`;
  });

  await step("edit_share", async () => {
    await page.locator('[data-testid="share-docs"]').getByRole("button", { name: "Edit" }).click();
    const d = page.getByRole("dialog");
    await d.getByTestId("picked").filter({ hasText: `${POOL} / ${VOLUME}` }).waitFor({ timeout: T });
    await d.getByLabel("Read-only for everybody").check();
    await d.getByRole("button", { name: "Save share" }).click();
    const summary = page.locator('[data-testid="share-docs"] [data-testid="access-summary"]');
    await summary.filter({ hasText: "(read-only share)" }).waitFor({ timeout: T });
    await page.getByLabel("Check access for").selectOption("alice");
    await page.getByTestId("access-headline").filter({ hasText: "read only, because the share is read-only" }).waitFor({ timeout: T });
    // and back, for the smbclient checks that follow
    await page.locator('[data-testid="share-docs"]').getByRole("button", { name: "Edit" }).click();
    await d.getByLabel("Read-only for everybody").uncheck();
    await d.getByRole("button", { name: "Save share" }).click();
    await summary.filter({ hasText: "alice can write, readers can read, everyone else: no access" }).waitFor({ timeout: T });
    return "read-only on and off again; the explainer followed";
  });

  await step("client_live", async () => {
    if (!SMB_PORT) return "no SMB port given";
    // alice connects with the real client and stays: the row shows her without a reload
    smbclient = spawn("smbclient", [`//127.0.0.1/docs`, "-p", SMB_PORT, "-U", `alice%${PASSWORDS.alice}`], { stdio: ["pipe", "ignore", "ignore"] });
    await page.locator('[data-testid="share-docs"]').getByText(/alice \(/).waitFor({ timeout: 30000 });
    await page.getByRole("heading", { name: "Connected computers" }).waitFor({ timeout: T });
    await page.locator("table").filter({ hasText: "Disconnect" }).getByText("alice").first().waitFor({ timeout: T });
    await shots("shares");
    return await page.locator('[data-testid="share-docs"] [data-testid="share-clients"]').textContent();
  });

  await step("account_in_use", async () => {
    await go("/accounts");
    await page.locator('[data-testid="user-alice"]').getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete user" }).click();
    const p = page.getByTestId("account-problem");
    await p.waitFor({ timeout: T });
    const text = await p.textContent();
    if (!text.includes("alice is used by share 'docs'; remove alice from its access list first.")) throw new Error(`shown: ${text}`);
    await page.locator('[data-testid="user-alice"]').waitFor({ timeout: T });
    await shots("accounts");
    return text;
  });

  await step("no_page_errors", async () => {
    if (pageErrors.length) throw new Error(pageErrors.join("\n"));
  });
} finally {
  smbclient?.stdin.end();
  smbclient?.kill();
  await browser.close();
}
