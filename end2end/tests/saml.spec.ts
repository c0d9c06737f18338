import { expect, Page } from "@playwright/test";
import { ACCOUNTS, announcement, continueWith, createConnection, ORG, PEERS, publishTxt, screenshot, signIn, test, waitForHydration } from "./fixtures";

/**
 * SAML end to end against a real SAML IdP (pysaml2, peers/saml-idp.py): the admin
 * sets up a connection, proves it with Test Connection (and sees each classic
 * misconfiguration explained), then a member signs in through the IdP.
 */

const MEMBER = { email: "grace@initech.test", firstName: "Grace", lastName: "Hopper" };

type IdpApp = {
  acs_url: string;
  audience: string;
  sign?: "response" | "assertion" | "both" | "none";
  omit_attributes?: string[];
  name_id_format?: "email" | "persistent";
  recipient_url?: string;
};

/** Plays the IdP admin: configures the IdP's application for this connection. */
async function configureIdp(page: Page, app: string, settings: IdpApp) {
  const response = await page.request.put(`${PEERS.samlIdpUrl}/apps/${app}`, { data: settings });
  expect(response.status(), await response.text()).toBe(204);
}

async function addIdpUser(page: Page) {
  const response = await page.request.put(
    `${PEERS.samlIdpUrl}/users/${encodeURIComponent(MEMBER.email)}`,
    { data: { first_name: MEMBER.firstName, last_name: MEMBER.lastName } },
  );
  expect(response.status()).toBe(204);
}

/** The result shown in the Test Connection panel (the event log below repeats it). */
function testResult(page: Page) {
  return page.getByRole("region", { name: "Test Connection" }).getByTestId("test-result");
}

/** Runs Test Connection, signs in at the IdP in the popup, and returns the result panel. */
async function runTest(page: Page) {
  const popupPromise = page.waitForEvent("popup");
  await page.getByRole("button", { name: "Test Connection" }).click();
  const popup = await popupPromise;
  await expect(popup.getByRole("heading", { name: "Test IdP sign-in" })).toBeVisible();
  await popup.getByLabel("Username").fill(MEMBER.email);
  await popup.getByRole("button", { name: "Sign in to IdP" }).click();
  await popup.waitForEvent("close");
  const result = testResult(page);
  await expect(result).toBeVisible();
  return result;
}

/** Every WASM file of the site, as served: the main module and each lazily loaded chunk. */
async function siteWasm(page: Page): Promise<Buffer[]> {
  const manifest: Record<string, string[]> = await (await page.request.get("/pkg/__wasm_split_manifest.json")).json();
  const names = new Set(["latchkey", ...Object.values(manifest).flat()]);
  const identity = { headers: { "Accept-Encoding": "identity" } };
  return Promise.all([...names].map(async (name) => (await page.request.get(`/pkg/${name}.wasm`, identity)).body()));
}

async function openAuthentication(page: Page) {
  await signIn(page, ACCOUNTS.admin);
  await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
  await page.goto("/settings/authentication");
  await waitForHydration(page);
}

test.describe("SAML sign-in", () => {
  test("Test Connection explains each failure, passes, and a member signs in", async ({ page }) => {
    // Six round trips through the IdP popup.
    test.setTimeout(120_000);
    page.on("pageerror", (e) => console.log("pageerror:", e.message.slice(0, 400)));
    await addIdpUser(page);
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await page.goto("/settings/authentication");
    await waitForHydration(page);
    await createConnection(page, "SAML", "Okta", "Initech Okta");
    const connection = new URL(page.url()).searchParams.get("connection")!;
    const acsUrl = await page.getByLabel("ACS URL", { exact: true }).inputValue();
    const entityId = await page.getByLabel("Audience URI / Entity ID", { exact: true }).inputValue();

    // Not set up yet: the doctor keeps the button off.
    await expect(page.getByRole("button", { name: "Test Connection" })).toBeDisabled();
    await screenshot(page, "saml-test-not-ready");

    // A page left open while the connection is incomplete: the server says what is missing.
    const stalePopup = page.waitForEvent("popup");
    await page.evaluate((id) => window.open(`/sso/test/${id}`, "latchkey-test"), connection);
    await (await stalePopup).waitForEvent("close");
    await expect(testResult(page)).toHaveAttribute("data-code", "connection_not_configured");
    await screenshot(page, "saml-test-not-configured");

    // The IdP admin's side, then ours: import the IdP's metadata and save.
    await configureIdp(page, connection, { acs_url: acsUrl, audience: entityId });
    await page.getByLabel("Metadata URL", { exact: true }).fill(`${PEERS.samlIdpUrl}/apps/${connection}/metadata`);
    await page.getByRole("button", { name: "Import from URL" }).click();
    await expect(page.getByLabel("IdP Entity ID", { exact: true })).toHaveValue(`${PEERS.samlIdpUrl}/apps/${connection}`);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.getByText("Saved.", { exact: true })).toBeVisible();
    await expect(page.getByTestId("health-summary")).toHaveText("Ready to test");
    await expect(page.getByRole("button", { name: "Test Connection" })).toBeEnabled();

    // Each classic misconfiguration at the IdP, explained with expected vs received.
    const failures: { name: string; idp: IdpApp; code: string; expected?: string; received?: string }[] = [
      {
        name: "audience",
        idp: { acs_url: acsUrl, audience: "https://wrong.example.com/saml" },
        code: "audience_mismatch",
        expected: entityId,
        received: "https://wrong.example.com/saml",
      },
      {
        name: "acs-url",
        idp: { acs_url: acsUrl, audience: entityId, recipient_url: "https://wrong.example.com/acs" },
        code: "acs_url_mismatch",
        expected: acsUrl,
        received: "https://wrong.example.com/acs",
      },
      {
        name: "email-missing",
        idp: { acs_url: acsUrl, audience: entityId, omit_attributes: ["email"], name_id_format: "persistent" },
        code: "email_attribute_missing",
      },
      {
        name: "unsigned",
        idp: { acs_url: acsUrl, audience: entityId, sign: "none" },
        code: "invalid_saml_response",
      },
    ];
    const explanations: string[] = [];
    for (const failure of failures) {
      await configureIdp(page, connection, failure.idp);
      const result = await runTest(page);
      await expect(result).toHaveAttribute("data-outcome", "failure");
      await expect(result).toHaveAttribute("data-code", failure.code);
      await expect(result.getByText("What it means")).toBeVisible();
      await expect(result.getByText("How to fix it")).toBeVisible();
      if (failure.expected) await expect(result.getByTestId("expected")).toHaveText(failure.expected);
      if (failure.received) await expect(result.getByTestId("received")).toHaveText(failure.received);
      // What it means and how to fix it (the first two descriptions).
      explanations.push(...(await result.locator("dd").allTextContents()).slice(0, 2));
      await screenshot(page, `saml-test-${failure.name}`);
    }
    // Those explanations come rendered from the server: no code the browser can load holds them.
    expect(explanations).toHaveLength(2 * failures.length);
    const wasm = await siteWasm(page);
    expect(explanations.filter((text) => wasm.some((file) => file.includes(text)))).toEqual([]);

    // Fixed at the IdP: the test passes and shows everything the IdP sent.
    await configureIdp(page, connection, { acs_url: acsUrl, audience: entityId });
    const passed = await runTest(page);
    await expect(passed).toHaveAttribute("data-outcome", "success");
    await expect(passed.getByTestId("test-email")).toHaveText(MEMBER.email);
    // The page's status moves on with the passed test.
    await expect(page.getByTestId("connection-status")).toHaveText("Active");
    const attributes = passed.getByRole("table", { name: "Attributes received" });
    await expect(attributes.getByRole("row", { name: /firstName/ })).toContainText(MEMBER.firstName);
    await expect(attributes.getByRole("row", { name: /lastName/ })).toContainText(MEMBER.lastName);
    await screenshot(page, "saml-test-passed");

    // The admin was never signed in as the tester, and the event log (reloaded after
    // each test) lists every run.
    await expect(page.getByRole("banner")).toContainText(ACCOUNTS.admin.email);
    const events = page.getByRole("list", { name: "Sign-in events" }).getByRole("listitem");
    await expect(events).toHaveCount(6);
    await expect(events.first()).toHaveAttribute("data-outcome", "success");
    await screenshot(page, "saml-event-log");

    // A member signs in through the organization's login URL.
    await page.context().clearCookies();
    await page.goto(`/login/${ORG.slug}`);
    await continueWith(page, "Initech Okta");
    await expect(page.getByRole("heading", { name: "Test IdP sign-in" })).toBeVisible();
    await screenshot(page, "saml-idp-sign-in");
    await page.getByLabel("Username").fill(MEMBER.email);
    await page.getByRole("button", { name: "Sign in to IdP" }).click();
    await expect(page.getByRole("heading", { name: `Welcome, ${MEMBER.firstName} ${MEMBER.lastName}` })).toBeVisible();
    await screenshot(page, "saml-member-signed-in");

    // The IdP sends a response again (IdP-initiated) where the connection does not allow it:
    // the member sees a plain page with a reference, not the technical record.
    await page.context().clearCookies();
    await page.goto(`${PEERS.samlIdpUrl}/apps/${connection}/initiate?user=${encodeURIComponent(MEMBER.email)}`);
    await expect(page.getByRole("heading", { name: "We couldn't sign you in" })).toBeVisible();
    await expect(page.getByTestId("reference")).toHaveText(/^[A-Z0-9]{8}$/);
    await expect(page.getByText("Expected")).toHaveCount(0);
    await screenshot(page, "saml-member-refused");
  });

  test("Sign in with SSO finds the organization by the email's domain", async ({ page }) => {
    await openAuthentication(page);
    await page.getByLabel("Domain", { exact: true }).fill("gmail.com");
    await page.getByRole("button", { name: "Add domain" }).click();
    await expect(page.locator("#domain-error")).toContainText("public mail service");
    await page.getByLabel("Domain", { exact: true }).fill("initech.test");
    await page.getByRole("button", { name: "Add domain" }).click();
    const claim = page.getByRole("list", { name: "Claimed domains" }).locator('li[data-domain="initech.test"]');
    await expect(claim).toHaveAttribute("data-status", "pending");
    await screenshot(page, "sso-domain-pending");

    // Until the TXT record is found, the domain routes no one.
    await claim.getByRole("button", { name: "Verify" }).click();
    await expect(claim.getByTestId("domain-check")).toHaveAttribute("data-code", /.+/);
    await expect(announcement(page)).toHaveText(/^initech\.test is not verified: /);
    await expect(claim).toHaveAttribute("data-status", "pending");
    await publishTxt(
      await claim.getByLabel("TXT record name", { exact: true }).inputValue(),
      await claim.getByLabel("TXT record value", { exact: true }).inputValue(),
    );
    await claim.getByRole("button", { name: "Verify" }).click();
    await expect(claim).toHaveAttribute("data-status", "verified");
    await expect(announcement(page)).toHaveText("initech.test is verified.");
    await expect(claim.getByTestId("domain-state")).toContainText("Members at this domain");
    await screenshot(page, "sso-domains");

    await page.context().clearCookies();
    await page.goto("/login");
    await waitForHydration(page);
    await page.getByLabel("Email").fill("someone@unclaimed.test");
    await page.getByRole("button", { name: "Sign in with SSO" }).click();
    await expect(page.getByRole("alert")).toContainText("isn't available for that email address");
    await page.getByLabel("Email").fill(MEMBER.email);
    await page.getByRole("button", { name: "Sign in with SSO" }).click();
    await continueWith(page, "Initech Okta");
    await expect(page.getByRole("heading", { name: "Test IdP sign-in" })).toBeVisible();
    await page.getByLabel("Username").fill(MEMBER.email);
    await page.getByRole("button", { name: "Sign in to IdP" }).click();
    await expect(page.getByRole("heading", { name: `Welcome, ${MEMBER.firstName} ${MEMBER.lastName}` })).toBeVisible();
  });

  test("with SSO required, members are sent to SSO while an admin keeps break-glass access", async ({ page }) => {
    await openAuthentication(page);
    await page.getByLabel("Require SSO").check();
    await expect(page.getByTestId("require-sso-state")).toHaveText("On: members sign in through SSO only.");
    await expect(announcement(page)).toHaveText("Require SSO is on: members sign in through SSO only.");
    await screenshot(page, "require-sso-on");

    await page.context().clearCookies();
    await signIn(page, ACCOUNTS.member);
    await expect(page.getByRole("alert")).toContainText("requires single sign-on");
    await expect(page.getByRole("alert")).toContainText(`/login/${ORG.slug}`);
    await screenshot(page, "require-sso-member-refused");

    await page.context().clearCookies();
    await openAuthentication(page);

    // The audit log shows the refusal and the break-glass sign-in.
    await page.getByRole("link", { name: "Audit log" }).click();
    await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
    await waitForHydration(page);
    const events = page.getByRole("table", { name: "Audit events" });
    await expect(events.locator('tr[data-action="require_sso_enabled"]').first()).toBeVisible();
    await page.getByLabel("Kind").selectOption({ label: "Sign-ins and sign-outs" });
    await expect(events.locator('tr[data-action="sign_in"]').filter({ hasText: "break_glass" }).first()).toBeVisible();
    // The member's sign-ins through the IdP (found by email domain, and by the login URL).
    await expect(events.locator('tr[data-action="sign_in"]').filter({ hasText: "saml" }).first()).toBeVisible();
    await page.getByLabel("User", { exact: true }).fill(ACCOUNTS.member.email);
    await page.getByLabel("User", { exact: true }).press("Enter");
    const refused = events.locator('tr[data-action="sign_in_failed"]').filter({ hasText: "sso_required" });
    await expect(refused.first()).toBeVisible();
    await expect(events.locator("tbody tr").filter({ hasNotText: ACCOUNTS.member.email })).toHaveCount(0);
    await screenshot(page, "audit-log");

    await page.goto("/settings/authentication");
    await waitForHydration(page);
    await page.getByLabel("Require SSO").uncheck();
    await expect(page.getByTestId("require-sso-state")).toHaveText("Off: members may still use passwords.");
  });
});
