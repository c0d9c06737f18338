import { expect } from "@playwright/test";
import { ACCOUNTS, ORG, screenshot, signIn, test, waitForHydration } from "./fixtures";

test.describe("signing in", () => {
  test("an integrations admin signs in and reaches both settings pages", async ({ page }) => {
    await signIn(page, ACCOUNTS.admin);
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await expect(page.getByTestId("org-name")).toHaveText(ORG.name);
    await expect(page.getByTestId("role")).toHaveText("Integrations Admin");
    await screenshot(page, "home-admin");

    await page.getByRole("link", { name: /Authentication/ }).first().click();
    await expect(page).toHaveURL(/\/settings\/authentication$/);
    await expect(page.getByRole("heading", { name: "Authentication", exact: true })).toBeVisible();
    await expect(page.getByRole("heading", { name: "New connection" })).toBeVisible();
    await screenshot(page, "settings-authentication-empty");

    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "User Provisioning" }).click();
    await expect(page).toHaveURL(/\/settings\/provisioning$/);
    await expect(page.getByRole("heading", { name: "SCIM provisioning is off" })).toBeVisible();
    await screenshot(page, "settings-provisioning-empty");
  });

  test("a wrong password shows one clear error and no session", async ({ page }) => {
    await page.goto("/login");
    await waitForHydration(page);
    await page.getByLabel("Email").fill(ACCOUNTS.member.email);
    await page.getByLabel("Password", { exact: true }).fill("not the password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByRole("alert")).toHaveText("Incorrect email or password.");
    await expect(page).toHaveURL(/\/login$/);
    await screenshot(page, "login-wrong-password");
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === "latchkey_session")).toBeUndefined();
  });

  test("empty fields are explained next to each field before anything is sent", async ({ page }) => {
    await page.goto("/login");
    await waitForHydration(page);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.locator("#email-error")).toHaveText("Enter an email address.");
    await expect(page.locator("#password-error")).toHaveText("Enter your password.");
    await screenshot(page, "login-field-errors");
  });

  test("the password field can be revealed (runs in WASM)", async ({ page }) => {
    await page.goto("/login");
    await waitForHydration(page);
    const password = page.getByLabel("Password", { exact: true });
    await password.fill("secret");
    await expect(password).toHaveAttribute("type", "password");
    await page.getByRole("button", { name: "Show password" }).click();
    await expect(password).toHaveAttribute("type", "text");
    await page.getByRole("button", { name: "Hide password" }).click();
    await expect(password).toHaveAttribute("type", "password");
  });

  test("sign in with SSO explains when no organization offers it", async ({ page }) => {
    await page.goto("/login");
    await waitForHydration(page);
    await page.getByLabel("Email").fill("someone@unknown-company.test");
    await page.getByRole("button", { name: "Sign in with SSO" }).click();
    await expect(page.getByRole("alert")).toContainText("Single sign-on isn't available for that email address");
    await screenshot(page, "login-sso-unavailable");
  });

  test("the sign-in page loads without console errors", async ({ page }) => {
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto("/login");
    await waitForHydration(page);
    await screenshot(page, "login");
    expect(errors).toEqual([]);
  });
});

test.describe("access control", () => {
  test("a member gets the 403 page on settings, and the server refuses the call too", async ({ page }) => {
    await signIn(page, ACCOUNTS.member);
    await expect(page.getByRole("heading", { name: "Welcome, Milton Waddams" })).toBeVisible();
    await expect(page.getByRole("link", { name: "Settings" })).toHaveCount(0);
    // A member learns where they are and where to go instead.
    await expect(page.getByRole("heading", { name: "You're signed in to Initech's sign-in service" })).toBeVisible();
    await screenshot(page, "home-member");

    for (const path of ["/settings/authentication", "/settings/provisioning"]) {
      const response = await page.goto(path);
      expect(response?.status()).toBe(403);
      await expect(page.getByRole("heading", { name: "You don't have access to this page" })).toBeVisible();
    }
    await screenshot(page, "forbidden-member");

    // Calling the settings server function directly, with the member's cookie.
    const direct = await page.request.post("/api/settings_access", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(direct.status()).toBe(403);
  });

  test("signed-out visitors are sent to sign in and come back afterwards", async ({ page }) => {
    await page.goto("/settings/provisioning");
    await expect(page).toHaveURL(/\/login\?next=\/settings\/provisioning$/);
    await waitForHydration(page);
    await page.getByLabel("Email").fill(ACCOUNTS.admin.email);
    await page.getByLabel("Password", { exact: true }).fill(ACCOUNTS.admin.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(/\/settings\/provisioning$/);
  });

  test("signing out ends the session", async ({ page }) => {
    await signIn(page, ACCOUNTS.admin);
    await expect(page.getByRole("heading", { name: "Welcome, Ida Admin" })).toBeVisible();
    await waitForHydration(page);
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/login$/);
    await screenshot(page, "signed-out");
    await page.goto("/");
    await expect(page).toHaveURL(/\/login$/);
    const me = await page.request.post("/api/whoami", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(await me.text()).toBe("null");
  });
});
