// Page weight (SPEC §13: a hydrated page's WASM + JS + CSS on the wire ≤ 250 KB).
// Loads each page in a fresh browser context (empty cache), waits until it is
// hydrated and the network is idle, and adds up what it fetched from /pkg/:
// the bytes on the wire (the brotli copies scripts/lib/precompress-site wrote,
// which Chromium accepts) and, for reference, each file gzipped here at level 6.
// The verdict is on the wire. Prints one row per page.
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

async function weigh(path, storageState) {
  const context = await browser.newContext(storageState ? { storageState } : {});
  const page = await context.newPage();
  const pending = [];
  page.on("requestfinished", (request) => {
    if (!new URL(request.url()).pathname.startsWith("/pkg/")) return;
    pending.push((async () => {
      const body = await (await request.response()).body();
      const sizes = await request.sizes();
      return { wire: sizes.responseBodySize, gzip: gzipSync(body, { level: 6 }).length, raw: body.length };
    })());
  });
  await page.goto(`${base}${path}`);
  await page.waitForFunction(() => window.__latchkey_hydrated === true, null, { timeout: 60_000 });
  await page.waitForLoadState("networkidle");
  const files = await Promise.all(pending);
  await context.close();
  const sum = (key) => files.reduce((total, file) => total + file[key], 0);
  return { path, files: files.length, raw: sum("raw"), gzip: sum("gzip"), wire: sum("wire") };
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
console.log("page | files | raw | gzip -6 | on the wire | budget 250 KB");
let worst = 0;
for (const [path, storage] of pages) {
  const row = await weigh(path, storage);
  worst = Math.max(worst, row.wire);
  const verdict = row.wire <= BUDGET ? "within" : "OVER";
  console.log(`${row.path} | ${row.files} | ${kb(row.raw)} | ${kb(row.gzip)} | ${kb(row.wire)} | ${verdict}`);
}
console.log(`heaviest page: ${kb(worst)} on the wire (${worst <= BUDGET ? "within" : "over"} the budget)`);
await browser.close();
