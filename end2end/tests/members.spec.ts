import { expect } from "@playwright/test";
import { ACCOUNTS, expectNoSidewaysScroll, PHONE, screenshot, signIn, test, waitForHydration } from "./fixtures";

const MILTON = "Milton Waddams";

test.describe("Settings > Members", () => {
  test("an admin finds a member, deactivates, reactivates and signs them out", async ({ page, browser }) => {
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await page.goto("/settings/members");
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "Members", level: 1 })).toBeVisible();
    const table = page.getByRole("table", { name: "Members" });
    await expect(table.locator(`tr[data-member="${ACCOUNTS.admin.email}"]`)).toContainText("Integrations Admin");
    await screenshot(page, "members-list");

    await page.getByLabel("Search members").fill("milton");
    const row = table.locator(`tr[data-member="${ACCOUNTS.member.email}"]`);
    await expect(table.locator("tbody tr")).toHaveCount(1);
    await expect(row.getByRole("cell").nth(0)).toHaveText(`${MILTON}${ACCOUNTS.member.email}`);
    await expect(row.getByRole("cell").nth(1)).toHaveText("Member");
    await expect(row.getByTestId("member-status")).toHaveText("Active");
    await expect(row.getByRole("cell").nth(3)).toHaveText("Created by hand");

    // Milton is signed in elsewhere; deactivation ends that session at once.
    const elsewhere = await browser.newContext();
    const miltonPage = await elsewhere.newPage();
    await signIn(miltonPage, ACCOUNTS.member);
    await expect(miltonPage.getByRole("heading", { name: `Welcome, ${MILTON}` })).toBeVisible();

    await row.getByRole("button", { name: "Deactivate" }).click();
    await expect(row.getByTestId("member-status")).toHaveText("Deactivated");
    await expect(page.getByRole("main").getByRole("status")).toHaveText(`${MILTON} is deactivated and signed out everywhere.`);
    await screenshot(page, "members-deactivated");
    await miltonPage.reload();
    await expect(miltonPage.getByRole("heading", { name: "Sign in to Latchkey" })).toBeVisible();

    await row.getByRole("button", { name: "Reactivate" }).click();
    await expect(row.getByTestId("member-status")).toHaveText("Active");
    await signIn(miltonPage, ACCOUNTS.member);
    await expect(miltonPage.getByRole("heading", { name: `Welcome, ${MILTON}` })).toBeVisible();
    await row.getByRole("button", { name: "End sessions" }).click();
    await expect(page.getByRole("main").getByRole("status")).toHaveText(`${MILTON} is signed out of every browser.`);
    await miltonPage.reload();
    await expect(miltonPage.getByRole("heading", { name: "Sign in to Latchkey" })).toBeVisible();
    await elsewhere.close();

    // The member's own page: facts, every action with what it does, and their activity.
    await row.getByRole("link", { name: MILTON }).click();
    await expect(page).toHaveURL(/member=/);
    await expect(page.getByRole("heading", { name: MILTON, level: 1 })).toBeVisible();
    await expect(page.getByText("Last sign-in:")).toBeVisible();
    const activity = page.getByRole("table", { name: "Audit events" });
    // Newest first; other tests may have deactivated Milton before.
    await expect(activity.locator('tr[data-action="member_sessions_ended"]').first()).toBeVisible();
    await expect(activity.locator('tr[data-action="member_deactivated"]').first()).toBeVisible();
    await page.getByRole("button", { name: "Make Integrations Admin" }).click();
    await expect(page.getByRole("main").getByRole("status")).toHaveText(`${MILTON} is now an Integrations Admin.`);
    await screenshot(page, "member-detail");
    await page.getByRole("button", { name: "Remove Integrations Admin" }).click();
    await expect(page.getByRole("main").getByRole("status")).toHaveText(`${MILTON} is no longer an Integrations Admin.`);

    await page.setViewportSize(PHONE);
    await expectNoSidewaysScroll(page, "member detail");
    await screenshot(page, "phone-member-detail");
  });

  test("your own account offers no way to lock yourself out", async ({ page }) => {
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await page.goto("/settings/members");
    await waitForHydration(page);
    const me = page.getByRole("table", { name: "Members" }).locator(`tr[data-member="${ACCOUNTS.admin.email}"]`);
    await expect(me.getByRole("button", { name: "End sessions" })).toBeVisible();
    await expect(me.getByRole("button", { name: "Deactivate" })).toHaveCount(0);
    await page.getByLabel("Search members").fill("nobody-matches-this");
    await expect(page.getByText("No members match “nobody-matches-this”.")).toBeVisible();
  });
});
