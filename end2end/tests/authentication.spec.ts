import { expect, Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ACCOUNTS, announcement, createConnection, PEERS, screenshot, signIn, test, waitForHydration } from "./fixtures";

const SIGNING_CERT = readFileSync(path.join(__dirname, "..", "fixtures", "idp-signing.pem"), "utf8");
const NEXT_CERT = readFileSync(path.join(__dirname, "..", "fixtures", "idp-next.pem"), "utf8");
const OKTA_METADATA = readFileSync(path.join(__dirname, "..", "fixtures", "okta-metadata.xml"), "utf8");

test.use({ permissions: ["clipboard-read", "clipboard-write"] });

async function openAuthentication(page: Page) {
  await signIn(page, ACCOUNTS.admin);
  await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
  await page.goto("/settings/authentication");
  await waitForHydration(page);
}

test.describe("Settings > Authentication", () => {
  // Runs before any spec passes Test Connection (files run in name order, one worker).
  test("Require SSO is refused while no connection has passed Test Connection", async ({ page }) => {
    await openAuthentication(page);
    await expect(page.getByTestId("require-sso-state")).toContainText("once a connection passes Test Connection");
    // The server refuses, so the switch springs back (click, not check()).
    await page.getByLabel("Require SSO").click();
    await expect(page.locator("#require-sso-error")).toContainText("Run Test Connection successfully");
    await expect(page.getByLabel("Require SSO")).not.toBeChecked();
    await screenshot(page, "require-sso-refused");
  });

  test("the organization login URL is shown and copied", async ({ page }) => {
    await openAuthentication(page);
    const loginUrl = page.getByLabel("Login URL", { exact: true });
    await expect(loginUrl).toHaveValue(/\/login\/initech$/);
    await page.getByRole("button", { name: "Copy Login URL" }).click();
    await expect(page.getByRole("button", { name: "Copy Login URL" })).toHaveText("Copied");
    await expect(announcement(page)).toHaveText("Login URL copied to the clipboard.");
    // Copying again is announced again: the region's text changes each time.
    await page.getByRole("button", { name: "Copy Login URL" }).click();
    await expect.poll(() => announcement(page).textContent()).toBe("Login URL copied to the clipboard.\u00a0");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toMatch(/\/login\/initech$/);
    await screenshot(page, "authentication-overview-empty");
  });

  test("the IdP dropdown offers only providers of the chosen protocol", async ({ page }) => {
    await openAuthentication(page);
    const options = page.getByLabel("Identity provider").locator("option");
    await expect(options.filter({ hasText: "Shibboleth" })).toHaveCount(1);
    await page.getByLabel("OIDC", { exact: true }).check();
    await expect(options.filter({ hasText: "Shibboleth" })).toHaveCount(0);
    await expect(options.filter({ hasText: "Google Workspace" })).toHaveCount(1);
    await expect(page.getByLabel("Display name", { exact: true })).toHaveAttribute("placeholder", /SSO$/);
  });

  test("a SAML connection: SP details, copy, defaults, metadata import, doctor", async ({ page }) => {
    await openAuthentication(page);
    await createConnection(page, "SAML", "Okta");
    await expect(page.getByRole("heading", { name: "Okta SSO" })).toBeVisible();

    const acs = page.getByLabel("ACS URL", { exact: true });
    await expect(acs).toHaveValue(/\/sso\/saml\/[0-9a-f-]+\/acs$/);
    await expect(page.getByLabel("Audience URI / Entity ID", { exact: true })).toHaveValue(/\/sso\/saml\/[0-9a-f-]+\/metadata$/);
    await page.getByRole("button", { name: "Copy ACS URL" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await acs.inputValue());

    // Defaults follow the IdP; edited values survive a switch.
    await expect(page.getByLabel("email", { exact: true })).toHaveValue("email");
    await expect(page.getByLabel("first_name", { exact: true })).toHaveValue("firstName");
    await expect(page.getByTestId("health-summary")).toHaveText("Needs attention");
    // One honest status: on, but nobody can sign in through it yet.
    await expect(page.getByTestId("connection-status")).toHaveText("Setup incomplete");
    await expect(page.getByTestId("connection-next-step")).toContainText("Members cannot sign in");
    await screenshot(page, "saml-connection-created");

    await page.getByLabel("Identity provider").selectOption({ label: "Microsoft Entra ID" });
    await expect(page.getByLabel("email", { exact: true })).toHaveValue(
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    );
    await page.getByLabel("first_name", { exact: true }).fill("GivenNameCustom");
    await page.getByLabel("Identity provider").selectOption({ label: "OneLogin" });
    await expect(page.getByLabel("email", { exact: true })).toHaveValue("User.email");
    await expect(page.getByLabel("first_name", { exact: true })).toHaveValue("GivenNameCustom");
    await expect(page.getByLabel("last_name", { exact: true })).toHaveValue("User.LastName");
    await page.getByLabel("Identity provider").selectOption({ label: "Okta" });
    await page.getByLabel("first_name", { exact: true }).fill("firstName");

    // Invalid input is explained next to the field, and nothing is saved.
    await page.getByLabel("IdP SSO URL", { exact: true }).fill("not a url");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.locator("#idp-sso-url-error")).toBeVisible();
    await expect(page.getByLabel("IdP SSO URL", { exact: true })).toHaveAttribute("aria-invalid", "true");
    await screenshot(page, "saml-field-errors");

    // Import from a metadata URL served by the test, review, save.
    await page.getByLabel("Metadata URL", { exact: true }).fill(PEERS.metadataUrl);
    await page.getByRole("button", { name: "Import from URL" }).click();
    await expect(page.getByLabel("IdP SSO URL", { exact: true })).toHaveValue(/^https:\/\//);
    await expect(page.getByLabel("IdP Entity ID", { exact: true })).not.toHaveValue("");
    await expect(page.getByLabel("X.509 Certificate", { exact: true })).toHaveValue(/BEGIN CERTIFICATE/);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
    await expect(page.getByTestId("health-summary")).toHaveText("Ready to test");
    await expect(page.getByTestId("connection-status")).toHaveText("Ready to test");
    await expect(page.getByTestId("connection-next-step")).toContainText("Run Test Connection");

    await page.getByRole("button", { name: "Show details" }).click();
    await expect(page.locator("[data-check=saml_sso_url] pre")).toBeVisible();
    await screenshot(page, "saml-ready-to-test");

    // The SP metadata link serves XML naming our ACS URL.
    const metadataUrl = (await page.getByLabel("Audience URI / Entity ID", { exact: true }).inputValue());
    const metadata = await page.request.get(metadataUrl);
    expect(await metadata.text()).toContain(await acs.inputValue());
  });

  test("pasted metadata XML and a pasted certificate fill the form", async ({ page }) => {
    await openAuthentication(page);
    await createConnection(page, "SAML", "Other identity provider", "Pasted IdP");
    await page.getByText("Paste metadata XML instead").click();
    await page.getByLabel("Metadata XML", { exact: true }).fill(OKTA_METADATA);
    await page.getByRole("button", { name: "Import XML" }).click();
    await expect(page.getByLabel("IdP SSO URL", { exact: true })).toHaveValue(/^https:\/\//);
    await expect(page.getByLabel("IdP SLO URL", { exact: true })).toHaveValue(/\/slo\/saml$/);

    await page.getByLabel("X.509 Certificate", { exact: true }).fill(SIGNING_CERT);
    await page.getByLabel("Second certificate (rollover)").fill(NEXT_CERT);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.getByTestId("health-summary")).toHaveText("Ready to test");
    await expect(page.locator("[data-check=saml_certificate]")).toContainText("idp.example.test");
    await expect(page.locator("[data-check=saml_certificate]")).toContainText("idp-next.example.test");
    await expect(page.getByLabel("Second certificate (rollover)")).toHaveValue(/BEGIN CERTIFICATE/);
    // Single logout: the IdP's SLO URL came with the metadata; ours is shown to copy.
    await expect(page.locator("[data-check=saml_single_logout]")).toContainText("Single logout is on");
    const slo = await page.getByLabel("SLO URL", { exact: true }).inputValue();
    expect(slo).toMatch(/\/sso\/saml\/[0-9a-f-]+\/slo$/);
    const metadataUrl = await page.getByLabel("Audience URI / Entity ID", { exact: true }).inputValue();
    expect(await (await page.request.get(metadataUrl)).text()).toContain(`Location="${slo}"`);
    await page.getByRole("button", { name: "Show details" }).click();
    await screenshot(page, "saml-certificate-rollover");
  });

  test("signed requests and encrypted assertions: switches, certificates, rotation", async ({ page }) => {
    await openAuthentication(page);
    await createConnection(page, "SAML", "Other identity provider", "Keys IdP");
    const keys = page.getByRole("region", { name: "Signing and encryption certificates" });
    await expect(keys.getByLabel("Signing certificate", { exact: true })).toHaveValue(/BEGIN CERTIFICATE/);
    await expect(keys.getByLabel("Encryption certificate", { exact: true })).toHaveValue(/BEGIN CERTIFICATE/);
    await keys.getByRole("button", { name: "Copy Encryption certificate" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toMatch(/^-----BEGIN CERTIFICATE-----\n/);

    // Metadata that asks for signed requests turns the switch on for review.
    await page.getByText("Paste metadata XML instead").click();
    await page
      .getByLabel("Metadata XML", { exact: true })
      .fill(OKTA_METADATA.replace('WantAuthnRequestsSigned="false"', 'WantAuthnRequestsSigned="true"'));
    await page.getByRole("button", { name: "Import XML" }).click();
    await expect(page.getByRole("region", { name: "IdP configuration" }).getByText("The metadata asks for signed requests")).toBeVisible();
    await expect(announcement(page)).toContainText("The metadata asks for signed requests");
    await expect(page.getByLabel("Sign AuthnRequests")).toBeChecked();
    await page.getByLabel("Require encrypted assertions").check();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
    await expect(page.getByLabel("Sign AuthnRequests")).toBeChecked();
    await expect(page.getByLabel("Require encrypted assertions")).toBeChecked();
    const doctor = page.locator("[data-check=saml_sp_keys]");
    await expect(doctor).toContainText("Requests are signed");
    await expect(doctor).toContainText("Only encrypted assertions are accepted");
    const metadataUrl = await page.getByLabel("Audience URI / Entity ID", { exact: true }).inputValue();
    const metadata = await (await page.request.get(metadataUrl)).text();
    expect(metadata).toContain('AuthnRequestsSigned="true"');
    expect(metadata).toContain('use="encryption"');
    await screenshot(page, "saml-signing-and-encryption");

    // Rotation keeps the old key until the admin removes it.
    await keys.getByRole("button", { name: "Rotate encryption key" }).click();
    await expect(page.getByRole("status").filter({ hasText: "New encryption key made" })).toBeVisible();
    await expect(keys.getByText("The old encryption certificate is still accepted")).toBeVisible();
    await expect(doctor).toContainText("An old encryption key is still kept");
    expect((await (await page.request.get(metadataUrl)).text()).match(/use="encryption"/g)).toHaveLength(2);
    await screenshot(page, "saml-encryption-key-rotated");
    await keys.getByRole("button", { name: "Remove old encryption key" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Old encryption key removed" })).toBeVisible();
    await expect(keys.getByRole("button", { name: "Rotate encryption key" })).toBeVisible();
    expect((await (await page.request.get(metadataUrl)).text()).match(/use="encryption"/g)).toHaveLength(1);
  });

  test("an OIDC connection runs discovery against a real OpenID Provider", async ({ page }) => {
    await openAuthentication(page);
    await createConnection(page, "OIDC", "Okta");
    await expect(page.getByLabel("Redirect URI", { exact: true })).toHaveValue(/\/sso\/oidc\/[0-9a-f-]+\/callback$/);

    // The secret is required the first time.
    await page.getByLabel("Issuer URL", { exact: true }).fill(PEERS.oidcIssuer);
    await page.getByLabel("Client ID", { exact: true }).fill(PEERS.oidcClientId);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.locator("#client-secret-error")).toBeVisible();

    await page.getByLabel("Client Secret", { exact: true }).fill(PEERS.oidcClientSecret);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.getByTestId("token-endpoint")).toContainText(PEERS.oidcIssuer);
    await expect(page.getByTestId("jwks-endpoint")).toContainText(PEERS.oidcIssuer);
    await expect(page.getByTestId("health-summary")).toHaveText("Ready to test");
    await expect(page.getByLabel("Client Secret", { exact: true })).toHaveValue("");
    expect(await page.content()).not.toContain(PEERS.oidcClientSecret);
    await screenshot(page, "oidc-discovered");

    // A wrong issuer: discovery says why, nothing changes.
    await page.getByLabel("Issuer URL", { exact: true }).fill("http://127.0.0.1:9");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.locator("#issuer-url-error")).toContainText("Discovery failed");
    await screenshot(page, "oidc-discovery-failed");
  });

  test("a connection can be deactivated and deleted after confirmation", async ({ page }) => {
    await openAuthentication(page);
    await createConnection(page, "SAML", "JumpCloud", "Temporary");
    await page.getByRole("button", { name: "Deactivate" }).click();
    await expect(page.getByTestId("connection-status")).toHaveText("Inactive");
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await expect(page.getByRole("alertdialog")).toBeVisible();
    await screenshot(page, "delete-confirmation");
    await page.getByRole("button", { name: "Delete connection" }).click();
    await expect(page).toHaveURL(/\/settings\/authentication$/);
    await expect(page.getByRole("link", { name: "Temporary" })).toHaveCount(0);
  });

  test("the overview and a connection's page each load only their own code, opened directly or by a link", async ({ page }) => {
    await openAuthentication(page);
    await createConnection(page, "SAML", "OneLogin", "Code split");
    const connectionPage = page.url();
    // The lazily loaded parts this page fetched, by name: /pkg/split_overview_part_<hash>.wasm → overview_part.
    const fetched: string[] = [];
    page.on("request", (request) => {
      const file = new URL(request.url()).pathname.match(/^\/pkg\/split_(.+)_\d+\.wasm$/);
      if (file) fetched.push(file[1]);
    });

    await page.goto(connectionPage);
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "Code split" })).toBeVisible();
    expect([...new Set(fetched)].sort()).toEqual(["authentication_view", "connection_part"]);

    // Hydrated: the link is followed in the page, which fetches only the overview's part.
    fetched.length = 0;
    await page.getByRole("link", { name: "← All connections" }).click();
    await expect(page).toHaveURL(/\/settings\/authentication$/);
    await expect(page.getByRole("link", { name: "Code split" })).toBeVisible();
    expect([...new Set(fetched)]).toEqual(["overview_part"]);

    fetched.length = 0;
    await page.goto("/settings/authentication");
    await waitForHydration(page);
    expect([...new Set(fetched)].sort()).toEqual(["authentication_view", "overview_part"]);
    // And back to the connection, in the page again, to delete it.
    await page.getByRole("link", { name: "Code split" }).click();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("button", { name: "Delete connection" }).click();
    await expect(page.getByRole("link", { name: "Code split" })).toHaveCount(0);
  });
});
