import { expect, Page } from "@playwright/test";
import { ACCOUNTS, announcement, expectNoSidewaysScroll, PHONE, screenshot, signIn, test, waitForHydration } from "./fixtures";

test.use({ permissions: ["clipboard-read", "clipboard-write"] });

async function openProvisioning(page: Page) {
  await signIn(page, ACCOUNTS.admin);
  await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
  await page.goto("/settings/provisioning");
  await waitForHydration(page);
}

/** Calls the SCIM API the way an identity provider would. */
async function scimStatus(page: Page, baseUrl: string, token: string): Promise<number> {
  const response = await page.request.get(`${baseUrl}/Users?count=1`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return response.status();
}

test.describe("Settings > User Provisioning", () => {
  test("enable SCIM, copy the base URL and the one-time token, rotate, cancel, complete and disable", async ({ page }) => {
    await openProvisioning(page);
    await expect(page.getByText("SCIM provisioning is off")).toBeVisible();
    await page.getByLabel("Identity provider").selectOption({ label: "Microsoft Entra ID" });
    await page.getByLabel("Connection name").fill("Entra production");
    await page.getByRole("button", { name: "Enable SCIM" }).click();

    const baseUrl = await page.getByLabel("SCIM Base URL", { exact: true }).inputValue();
    expect(baseUrl).toMatch(/\/scim\/v2\/[0-9a-f-]{36}$/);
    const first = await page.getByLabel("Bearer Token", { exact: true }).inputValue();
    expect(first).toMatch(/^lkscim_/);
    await expect(page.getByRole("main").getByText("It is shown only once")).toBeVisible();
    await expect(announcement(page)).toHaveText("SCIM is on. Copy the Bearer Token below now: it is shown only once.");
    await page.getByRole("button", { name: "Copy Bearer Token" }).click();
    await expect(announcement(page)).toHaveText("Bearer Token copied to the clipboard.");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(first);
    await screenshot(page, "provisioning-enabled");
    expect(await scimStatus(page, baseUrl, first)).toBe(200);

    // The token is not shown again after a reload.
    await page.reload();
    await waitForHydration(page);
    await expect(page.getByLabel("Bearer Token", { exact: true })).toHaveCount(0);
    await expect(page.getByText("Entra production")).toBeVisible();

    // Rotate, then cancel: the new token stops working, the old one keeps working.
    await page.getByRole("button", { name: "Rotate Token" }).click();
    const discarded = await page.getByLabel("Bearer Token", { exact: true }).inputValue();
    expect(await scimStatus(page, baseUrl, discarded)).toBe(200);
    expect(await scimStatus(page, baseUrl, first)).toBe(200);
    await page.getByRole("button", { name: "Cancel Rotation" }).click();
    await expect(page.getByRole("button", { name: "Rotate Token" })).toBeVisible();
    await expect(announcement(page)).toHaveText("Rotation cancelled: the new token no longer works; the old one still does.");
    expect(await scimStatus(page, baseUrl, discarded)).toBe(401);

    // Rotate, then complete: the old token stops working.
    await page.getByRole("button", { name: "Rotate Token" }).click();
    const second = await page.getByLabel("Bearer Token", { exact: true }).inputValue();
    await page.getByRole("button", { name: "Complete Rotation" }).click();
    await expect(page.getByRole("button", { name: "Rotate Token" })).toBeVisible();
    await expect(announcement(page)).toHaveText("Rotation complete: only the new token works now.");
    expect(await scimStatus(page, baseUrl, first)).toBe(401);
    expect(await scimStatus(page, baseUrl, second)).toBe(200);

    // The request log lists the IdP's calls without tokens.
    await page.reload();
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "Recent SCIM requests" })).toBeVisible();
    await expect(page.getByRole("cell", { name: "/Users" }).first()).toBeVisible();
    expect(await page.content()).not.toContain(second);
    await screenshot(page, "provisioning-requests");
    // On a phone each request is a card.
    const desktop = page.viewportSize()!;
    await page.setViewportSize(PHONE);
    await expectNoSidewaysScroll(page, "provisioning-requests");
    await screenshot(page, "phone-provisioning-requests");
    await page.setViewportSize(desktop);

    // Disable asks for confirmation, then revokes every token.
    await page.getByRole("button", { name: "Disable SCIM" }).click();
    await expect(page.getByRole("alertdialog")).toContainText("Existing users are not changed");
    await page.getByRole("button", { name: "Disable SCIM" }).click();
    await expect(page.getByRole("button", { name: "Enable SCIM" })).toBeVisible();
    await expect(announcement(page)).toHaveText("SCIM is off: every token was revoked.");
    expect(await scimStatus(page, baseUrl, second)).toBe(401);
    await screenshot(page, "provisioning-disabled");
  });
});
