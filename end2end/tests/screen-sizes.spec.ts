import { expect, Page } from "@playwright/test";
import {
  ACCOUNTS,
  createConnection,
  expectNoSidewaysScroll,
  PHONE,
  screenshot,
  signIn,
  test,
  waitForHydration,
} from "./fixtures";

async function fitsTheScreen(page: Page, name: string) {
  await expectNoSidewaysScroll(page, name);
  await screenshot(page, `phone-${name}`);
}

test.describe("At a phone's width (390 px)", () => {
  test.use({ viewport: PHONE });

  test("every page fits the screen and the settings navigation sits above the page", async ({ page }) => {
    await page.goto("/login");
    await waitForHydration(page);
    await fitsTheScreen(page, "login");

    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await fitsTheScreen(page, "home");

    for (const [path, name] of [
      ["/settings/authentication", "authentication"],
      ["/settings/provisioning", "provisioning"],
      ["/settings/members", "members"],
      ["/settings/audit", "audit"],
    ]) {
      await page.goto(path);
      await waitForHydration(page);
      await fitsTheScreen(page, name);
    }

    // The audit log has rows by now (the sign-in above): each is a card.
    await expect(page.getByRole("table", { name: "Audit events" }).locator("tbody tr").first()).toBeVisible();
    const navigation = await page.getByRole("navigation", { name: "Settings" }).boundingBox();
    const heading = await page.getByRole("heading", { level: 1 }).first().boundingBox();
    expect(navigation!.y + navigation!.height, "navigation above the page").toBeLessThanOrEqual(heading!.y);
    expect(navigation!.width, "navigation across the screen").toBeGreaterThan(PHONE.width * 0.8);

    await page.goto("/settings/authentication");
    await waitForHydration(page);
    await createConnection(page, "SAML", "Okta", "Okta on a phone");
    await expect(page.getByRole("heading", { name: "Okta on a phone" })).toBeVisible();
    await fitsTheScreen(page, "saml-connection");
  });
});
