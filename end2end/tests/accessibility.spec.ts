import { expect } from "@playwright/test";
import { ACCOUNTS, createConnection, seriousViolations, signIn, test, waitForHydration } from "./fixtures";

// Pages checked as they first load; every screenshot in the other specs is
// checked too (fixtures.ts, screenshot).

test.describe("Accessibility (axe-core)", () => {
  test("no serious or critical violations on any page", async ({ page }) => {
    const found: Record<string, string[]> = {};
    await page.goto("/login");
    await waitForHydration(page);
    found["/login"] = await seriousViolations(page);
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    found["/"] = await seriousViolations(page);
    for (const path of ["/settings/authentication", "/settings/provisioning", "/settings/members", "/settings/audit"]) {
      await page.goto(path);
      await waitForHydration(page);
      found[path] = await seriousViolations(page);
    }
    await page.goto("/settings/authentication");
    await waitForHydration(page);
    await createConnection(page, "SAML", "Okta", "Accessible Okta");
    found["a SAML connection"] = await seriousViolations(page);
    expect(found).toEqual(Object.fromEntries(Object.keys(found).map((k) => [k, []])));
  });
});
