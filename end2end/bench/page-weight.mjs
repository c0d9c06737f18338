// Page weight (SPEC §13: a hydrated page's WASM + JS + CSS on the wire ≤ 250 KB).
// Loads each page in a fresh browser context (empty cache), waits until it is
// hydrated and the network is idle, and adds up what it fetched from /pkg/:
// the bytes on the wire (the brotli copies scripts/lib/precompress-site wrote,
// which Chromium accepts) and, for reference, each file gzipped here at level 6.
// The verdict is on the wire. Prints one row per page; for a settings page,
// also what it adds when reached from the home page (client-side navigation).
//
//   node end2end/bench/page-weight.mjs <base URL> <admin email> <admin password>
import { chromium } from "@playwright/test";
import { gzipSync } from "node:zlib";

const [base, email, password] = process.argv.slice(2);
const BUDGET = 250 * 1024;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"],
});

async function signedInState() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.waitForFunction(() => window.__latchkey_hydrated === true);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(`${base}/`);
  // A SAML connection, so the heaviest page (one connection's settings) exists.
  await page.goto(`${base}/settings/authentication`);
  await page.waitForFunction(() => window.__latchkey_hydrated === true);
  await page.getByLabel("SAML", { exact: true }).check();
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(/connection=/);
  const state = await context.storageState();
  const connectionPage = new URL(page.url()).pathname + new URL(page.url()).search;
  await context.close();
  return { state, connectionPage };
}

// Records every file the page fetches from /pkg/ from now on.
function recordPkgFiles(page) {
  const pending = [];
  page.on("requestfinished", (request) => {
    if (!new URL(request.url()).pathname.startsWith("/pkg/")) return;
    pending.push((async () => {
      const body = await (await request.response()).body();
      const sizes = await request.sizes();
      return { wire: sizes.responseBodySize, gzip: gzipSync(body, { level: 6 }).length, raw: body.length };
    })());
  });
  return async () => {
    const files = await Promise.all(pending);
    const sum = (key) => files.reduce((total, file) => total + file[key], 0);
    return { files: files.length, raw: sum("raw"), gzip: sum("gzip"), wire: sum("wire") };
  };
}

async function hydrated(page) {
  await page.waitForFunction(() => window.__latchkey_hydrated === true, null, { timeout: 60_000 });
  await page.waitForLoadState("networkidle");
}

// The page loaded on its own, with an empty cache: what the SPEC's budget counts.
async function weigh(path, storageState) {
  const context = await browser.newContext(storageState ? { storageState } : {});
  const page = await context.newPage();
  const fetched = recordPkgFiles(page);
  await page.goto(`${base}${path}`);
  await hydrated(page);
  const row = { path, ...(await fetched()) };
  await context.close();
  return row;
}

// What the page adds once the home page is loaded: an admin reaches the
// settings from there, and the router then fetches only the page's own chunks.
async function weighAfterHome(path, storageState) {
  const context = await browser.newContext({ storageState });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await hydrated(page);
  const fetched = recordPkgFiles(page);
  let inFlight = 0;
  let lastActivity = Date.now();
  page.on("request", () => { inFlight += 1; lastActivity = Date.now(); });
  const settle = () => { inFlight -= 1; lastActivity = Date.now(); };
  page.on("requestfinished", settle);
  page.on("requestfailed", settle);
  // The router follows the address as it does after a click on a link.
  await page.evaluate((target) => {
    history.pushState(null, "", target);
    window.dispatchEvent(new PopStateEvent("popstate", { state: null }));
  }, path);
  while (inFlight > 0 || Date.now() - lastActivity < 1000) await page.waitForTimeout(100);
  const row = await fetched();
  await context.close();
  return row;
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const { state, connectionPage } = await signedInState();
const pages = [
  ["/login", null],
  ["/", state],
  ["/settings/authentication", state],
  [connectionPage, state],
  ["/settings/provisioning", state],
  ["/settings/members", state],
  ["/settings/audit", state],
];
console.log("page | files | raw | gzip -6 | on the wire | budget 250 KB | on the wire after / (files)");
let worst = 0;
for (const [path, storage] of pages) {
  const row = await weigh(path, storage);
  worst = Math.max(worst, row.wire);
  const verdict = row.wire <= BUDGET ? "within" : "OVER";
  const onward = path.startsWith("/settings/") ? await weighAfterHome(path, storage) : null;
  const after = onward ? `${kb(onward.wire)} (${onward.files})` : "-";
  console.log(`${row.path} | ${row.files} | ${kb(row.raw)} | ${kb(row.gzip)} | ${kb(row.wire)} | ${verdict} | ${after}`);
}
console.log(`heaviest page: ${kb(worst)} on the wire (${worst <= BUDGET ? "within" : "over"} the budget)`);
await browser.close();
