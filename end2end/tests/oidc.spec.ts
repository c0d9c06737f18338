import { expect, Page } from "@playwright/test";
import {
  ACCOUNTS,
  focusIsVisible,
  ORG,
  PEERS,
  screenshot,
  signIn,
  signInAtProvider,
  tabTo,
  test,
  waitForHydration,
} from "./fixtures";

/**
 * OpenID Connect end to end against a real OpenID Provider (the npm package
 * oidc-provider, peers/oidc-provider.mjs): the admin registers Latchkey's
 * Redirect URI at the provider, sees a wrong client secret explained by Test
 * Connection, passes the test, and a member signs in, choosing the connection.
 */

const MEMBER = { email: "peter@initech.test", name: "Peter Gibbons" };

/**
 * Plays the IdP admin: allows this connection's Redirect URI for the client,
 * and its Post-logout redirect URI and Back-channel logout URI.
 */
async function registerRedirectUri(page: Page, redirectUri: string) {
  const value = (label: string) => page.getByLabel(label, { exact: true }).inputValue();
  const response = await page.request.put(
    `${PEERS.oidcIssuer}/__control/clients/${PEERS.oidcClientId}`,
    {
      data: {
        client_secret: PEERS.oidcClientSecret,
        redirect_uris: [redirectUri],
        post_logout_redirect_uris: [await value("Post-logout redirect URI")],
        backchannel_logout_uri: await value("Back-channel logout URI"),
      },
    },
  );
  expect(response.ok(), await response.text()).toBeTruthy();
}

/**
 * Creates an OIDC connection and saves it against the provider; unless told
 * otherwise, first registers its Redirect URI there as the IdP admin would.
 */
async function createOidcConnection(page: Page, name: string, secret: string, register = true) {
  await page.goto("/settings/authentication");
  await waitForHydration(page);
  await page.getByLabel("OIDC", { exact: true }).check();
  await page.getByLabel("Identity provider").selectOption({ label: "Okta" });
  await page.getByLabel("Display name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page).toHaveURL(/connection=/);
  await waitForHydration(page);
  const redirectUri = await page.getByLabel("Redirect URI", { exact: true }).inputValue();
  if (register) await registerRedirectUri(page, redirectUri);
  await page.getByLabel("Issuer URL", { exact: true }).fill(PEERS.oidcIssuer);
  await page.getByLabel("Client ID", { exact: true }).fill(PEERS.oidcClientId);
  await page.getByLabel("Client Secret", { exact: true }).fill(secret);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("token-endpoint")).toContainText(PEERS.oidcIssuer);
  await expect(page.getByRole("button", { name: "Test Connection" })).toBeEnabled();
}

/**
 * Runs Test Connection through the popup and returns the result panel. With
 * `atProvider: "signed-in"` the provider remembers the person from an earlier
 * run and sends the popup straight back.
 */
async function runTest(page: Page, atProvider: "sign-in" | "signed-in" = "sign-in", with_: "mouse" | "keyboard" = "mouse") {
  const popupPromise = page.waitForEvent("popup");
  const button = page.getByRole("button", { name: "Test Connection" });
  if (with_ === "keyboard") {
    await tabTo(page, button);
    expect(await focusIsVisible(page), "Test Connection shows focus").toBe(true);
    await page.keyboard.press("Enter");
  } else {
    await button.click();
  }
  const popup = await popupPromise;
  // The popup closes itself as soon as it is back: listen before signing in.
  const closed = popup.waitForEvent("close");
  if (atProvider === "sign-in") await signInAtProvider(popup, MEMBER.email);
  await closed;
  const result = page.getByRole("region", { name: "Test Connection" }).getByTestId("test-result");
  await expect(result).toBeVisible();
  return result;
}

test.describe("OIDC sign-in", () => {
  test("Test Connection explains a wrong secret, passes, and a member signs in", async ({ page }) => {
    test.setTimeout(90_000);
    page.on("pageerror", (e) => console.log("pageerror:", e.message.slice(0, 400)));
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();

    // The Redirect URI was never registered at the provider: it shows its own error
    // page and never sends the popup back, so closing it says where to look.
    await createOidcConnection(page, "Initech OIDC (unregistered)", PEERS.oidcClientSecret, false);
    const popupPromise = page.waitForEvent("popup");
    await page.getByRole("button", { name: "Test Connection" }).click();
    const popup = await popupPromise;
    await expect(popup.getByText(/redirect_uri/).first()).toBeVisible();
    await screenshot(popup, "oidc-test-unregistered-redirect-popup");
    await popup.close();
    const abandoned = page.getByTestId("test-abandoned");
    await expect(abandoned).toContainText("redirect URI");
    await expect(page.getByText("Waiting for your identity provider")).toHaveCount(0);
    await screenshot(page, "oidc-test-popup-closed");

    // A connection saved with a secret the provider does not know.
    await createOidcConnection(page, "Initech OIDC (old secret)", "not-the-secret");
    const refused = await runTest(page);
    await expect(refused).toHaveAttribute("data-outcome", "failure");
    await expect(refused).toHaveAttribute("data-code", "invalid_client");
    await expect(refused).toContainText("Client Secret");
    await screenshot(page, "oidc-test-invalid-client");

    // The right one passes and shows the claims the provider sent (run from the keyboard).
    await createOidcConnection(page, "Initech OIDC", PEERS.oidcClientSecret);
    const passed = await runTest(page, "signed-in", "keyboard");
    await expect(passed).toHaveAttribute("data-outcome", "success");
    await expect(passed.getByTestId("test-email")).toHaveText(MEMBER.email);
    const claims = passed.getByRole("table", { name: "Attributes received" });
    await expect(claims.getByRole("row", { name: /given_name/ })).toContainText("Peter");
    await expect(page.getByRole("banner")).toContainText(ACCOUNTS.admin.email);
    await screenshot(page, "oidc-test-passed");

    // A member: the organization has several active connections, so they choose.
    await page.context().clearCookies();
    await page.goto(`/login/${ORG.slug}`);
    await expect(page.getByRole("heading", { name: "Choose how to sign in" })).toBeVisible();
    await screenshot(page, "sso-choose-connection");
    await page.getByRole("link", { name: "Continue with Initech OIDC", exact: true }).click();
    await signInAtProvider(page, MEMBER.email);
    await expect(page.getByRole("heading", { name: `Welcome, ${MEMBER.name}` })).toBeVisible();
    await screenshot(page, "oidc-member-signed-in");

    // The audit log records the member's sign-in through OIDC.
    await page.context().clearCookies();
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await page.goto("/settings/audit");
    await waitForHydration(page);
    await page.getByLabel("User", { exact: true }).fill(MEMBER.email);
    await page.getByLabel("User", { exact: true }).press("Enter");
    const events = page.getByRole("table", { name: "Audit events" });
    await expect(events.locator('tr[data-action="sign_in"]').filter({ hasText: "oidc" }).first()).toBeVisible();
  });

  test("an admin with a password is signed in by SSO only after linking their identity", async ({ page }) => {
    test.setTimeout(90_000);
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await createOidcConnection(page, "Initech OIDC (admins)", PEERS.oidcClientSecret);
    const connection = new URL(page.url()).searchParams.get("connection");
    expect(connection).toBeTruthy();

    // An IdP account carrying the admin's email does not open the admin account.
    await page.context().clearCookies();
    await page.goto(`/login/${ORG.slug}?connection=${connection}`);
    await signInAtProvider(page, ACCOUNTS.admin.email);
    await expect(page.getByRole("heading", { name: "We couldn't sign you in" })).toBeVisible();
    await expect(page.getByText("Admin must link their SSO identity first")).toBeVisible();
    await screenshot(page, "sso-admin-link-required");

    // Linked from the admin's own session, that identity is theirs.
    await page.context().clearCookies();
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await page.goto(`/settings/authentication?connection=${connection}`);
    await waitForHydration(page);
    await page.getByRole("button", { name: "Link my SSO identity" }).click();
    await signInAtProvider(page, ACCOUNTS.admin.email);
    await expect(page.getByTestId("linked-identity")).toContainText(ACCOUNTS.admin.email);
    await expect(page.getByRole("banner")).toContainText(ACCOUNTS.admin.email);
    await screenshot(page, "sso-identity-linked");
  });
});
