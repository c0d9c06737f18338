import { expect } from "@playwright/test";
import { ACCOUNTS, focusIsVisible, tabTo, test, waitForHydration } from "./fixtures";

// Test Connection with the keyboard alone: tests/oidc.spec.ts runs the passing test that way.

test.describe("With the keyboard alone", () => {
  test("an admin signs in and deactivates and reactivates a member", async ({ page }) => {
    await page.goto("/login");
    await waitForHydration(page);
    await tabTo(page, page.getByLabel("Email"));
    await page.keyboard.type(ACCOUNTS.admin.email);
    await page.keyboard.press("Tab");
    await page.keyboard.type(ACCOUNTS.admin.password);
    await page.keyboard.press("Enter");
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();

    await page.goto("/settings/members");
    await waitForHydration(page);
    const search = page.getByLabel("Search members");
    await tabTo(page, search);
    expect(await focusIsVisible(page), "the search field shows focus").toBe(true);
    await page.keyboard.type("milton");
    const row = page.getByRole("table", { name: "Members" }).locator(`tr[data-member="${ACCOUNTS.member.email}"]`);
    await expect(page.getByRole("table", { name: "Members" }).locator("tbody tr")).toHaveCount(1);

    await tabTo(page, row.getByRole("button", { name: "Deactivate" }));
    expect(await focusIsVisible(page), "the button shows focus").toBe(true);
    await page.keyboard.press("Enter");
    await expect(row.getByTestId("member-status")).toHaveText("Deactivated");
    // The outcome is announced, not only drawn.
    await expect(page.getByRole("main").getByRole("status")).toHaveText("Milton Waddams is deactivated and signed out everywhere.");

    await tabTo(page, row.getByRole("button", { name: "Reactivate" }));
    await page.keyboard.press("Enter");
    await expect(row.getByTestId("member-status")).toHaveText("Active");

    await tabTo(page, row.getByRole("link", { name: "Milton Waddams" }));
    await page.keyboard.press("Enter");
    await expect(page.getByRole("heading", { name: "Milton Waddams", level: 1 })).toBeVisible();
  });
});
