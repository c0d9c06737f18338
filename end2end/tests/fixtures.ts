import AxeBuilder from "@axe-core/playwright";
import { BrowserContext, expect, Locator, Page, test as base } from "@playwright/test";
import { mkdirSync } from "node:fs";
import path from "node:path";

/**
 * Every test runs with a watch on Content-Security-Policy violations in all of
 * its pages (popups too): our own scripts must carry the page's nonce, so a
 * violation means a script of ours would not run for real users.
 */
export const test = base.extend<{ cspViolations: string[] }>({
  cspViolations: [
    async ({ context }, use) => {
      const violations: string[] = [];
      watchCsp(context, violations);
      await use(violations);
      expect(violations, "Content-Security-Policy violations").toEqual([]);
    },
    { auto: true },
  ],
});

/** Each page's console errors and uncaught exceptions, for failures to quote. */
const pageErrors = new WeakMap<Page, string[]>();

function watchCsp(context: BrowserContext, violations: string[]) {
  const watch = (page: Page) => {
    const errors: string[] = [];
    pageErrors.set(page, errors);
    page.on("pageerror", (error) => errors.push(`${page.url()}: uncaught ${error.message}`));
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      errors.push(`${page.url()}: ${message.text()}`);
      if (/Content Security Policy/i.test(message.text())) {
        violations.push(`${page.url()}: ${message.text()}`);
      }
    });
  };
  context.pages().forEach(watch);
  context.on("page", watch);
}

export const ORG = { slug: "initech", name: "Initech" };

/** Test peers started by global-setup.ts on loopback. */
export const PEERS = {
  metadataPort: 3301,
  metadataUrl: "http://127.0.0.1:3301/okta/metadata",
  oidcPort: 3300,
  oidcIssuer: "http://127.0.0.1:3300",
  oidcClientId: "latchkey-e2e",
  oidcClientSecret: "latchkey-e2e-secret-value",
  /** The pysaml2 SAML IdP (peers/saml-idp.py). */
  samlIdpUrl: `http://127.0.0.1:${process.env.SAML_IDP_PORT ?? 3302}`,
  /** The DNS server (peers/dns.mjs): scripts/lib/e2e names it in LATCHKEY_DNS_SERVER. */
  dnsPort: 3303,
  dnsControlPort: 3304,
};

/** Publishes a TXT record at the test DNS server, as an admin would at their DNS provider. */
export async function publishTxt(name: string, value: string) {
  const response = await fetch(`http://127.0.0.1:${PEERS.dnsControlPort}/records/${encodeURIComponent(name)}`, {
    method: "PUT",
    body: value,
  });
  if (response.status !== 204) throw new Error(`DNS peer: ${response.status}`);
}

export const ACCOUNTS = {
  admin: {
    email: "ida.admin@initech.test",
    password: "admin password for tests",
    role: "integrations-admin",
    firstName: "Ida",
    lastName: "Admin",
  },
  member: {
    email: "milton@initech.test",
    password: "member password for tests",
    role: "member",
    firstName: "Milton",
    lastName: "Waddams",
  },
} as const;

type Account = (typeof ACCOUNTS)[keyof typeof ACCOUNTS];

const SHOTS = path.join(__dirname, "..", "screenshots", process.env.E2E_DATABASE ?? "sqlite");

/** Saves a full-page screenshot under end2end/screenshots/<database>/<name>.png. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  // Every state worth a picture is checked by axe-core too (our pages only,
  // not the test identity providers').
  if (new URL(page.url()).origin === new URL(process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000").origin) {
    expect(await seriousViolations(page), `axe-core on ${name}`).toEqual([]);
  }
}

/** An iPhone 12 to 15: the narrowest screen an admin is likely to use. */
export const PHONE = { width: 390, height: 844 };

/** Nothing is wider than the screen: the page scrolls only downwards. */
export async function expectNoSidewaysScroll(page: Page, name: string) {
  const widths = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  expect(widths.scroll, `${name}: page width ${widths.scroll} px on a ${widths.client} px screen`).toBeLessThanOrEqual(
    widths.client,
  );
}

/** axe-core's serious and critical findings on the page as it is now. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/**
 * Waits until the WASM bundle has hydrated the page, so clicks reach Rust
 * handlers. A page that does not hydrate fails with what its console said.
 */
export async function waitForHydration(page: Page) {
  try {
    await page.waitForFunction(() => (window as any).__latchkey_hydrated === true, null, { timeout: 20_000 });
  } catch (error) {
    const said = (pageErrors.get(page) ?? []).join("\n") || "(no console errors)";
    throw new Error(`${page.url()} did not hydrate within 20 s. Console:\n${said}\n${error}`);
  }
}

export async function signIn(page: Page, account: Account) {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password", { exact: true }).fill(account.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** On Settings > Authentication: creates a connection and waits for its page. */
export async function createConnection(page: Page, protocol: "SAML" | "OIDC", provider: string, name = "") {
  await page.getByLabel(protocol, { exact: true }).check();
  await page.getByLabel("Identity provider").selectOption({ label: provider });
  if (name) await page.getByLabel("Display name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page).toHaveURL(/connection=/);
  await waitForHydration(page);
}

/** Presses Tab until `target` has focus; fails if it is not reachable that way. */
export async function tabTo(page: Page, target: Locator, limit = 80) {
  for (let presses = 0; presses < limit; presses++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`not reachable with Tab in ${limit} presses: ${target}`);
}

/** The app's one polite live region: what a screen reader was last told. */
export function announcement(page: Page) {
  return page.getByTestId("announcement");
}

/** Whether the focused element draws a focus indicator (an outline or a ring). */
export async function focusIsVisible(page: Page) {
  return page.evaluate(() => {
    const style = getComputedStyle(document.activeElement as Element);
    return style.outlineStyle !== "none" || style.boxShadow !== "none";
  });
}

/** Signs in at the test OpenID Provider's own login page (its development interaction). */
export async function signInAtProvider(page: Page, login: string) {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password");
  await page.locator('button[type="submit"]').click();
}

/**
 * After going to the organization's login URL (or "Sign in with SSO"): with
 * several active connections the member picks one; with one, the browser is
 * already on its way to the identity provider.
 */
export async function continueWith(page: Page, connectionName: string) {
  await page.waitForURL((url) => url.pathname !== "/login");
  if (new URL(page.url()).pathname.startsWith(`/login/${ORG.slug}`)) {
    await page.getByRole("link", { name: `Continue with ${connectionName}`, exact: true }).click();
  }
}
