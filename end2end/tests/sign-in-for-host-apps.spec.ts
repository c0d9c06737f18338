import { expect } from "@playwright/test";
import { execFileSync, spawn } from "node:child_process";
import http from "node:http";
import * as jose from "jose";
import * as oidc from "openid-client";
import { ACCOUNTS, continueWith, ORG, screenshot, signInAtProvider, test, waitForHydration } from "./fixtures";

/**
 * Latchkey as the OpenID Provider of the host app (SPEC §14), driven by a
 * stock certified client library (npm openid-client, strict) the way a host
 * app would: the app is registered with the real CLI, the member signs in
 * through the organization's IdP (the oidc-provider peer, whose "Initech
 * OIDC" connection oidc.spec.ts set up) or, as break-glass, with a password.
 * Runs after saml.spec.ts, so the organization requires SSO.
 */

const BASE_URL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";
/** The host app's callback, served by the test on loopback. */
const APP_PORT = 3399;
const APP_CALLBACK = `http://127.0.0.1:${APP_PORT}/callback`;
/** Where the host app's members land after logout, and where its logout tokens arrive. */
const APP_SIGNED_OUT = `http://127.0.0.1:${APP_PORT}/signed-out`;
const APP_BACKCHANNEL = `http://127.0.0.1:${APP_PORT}/backchannel`;
const SSO_MEMBER = "peter@initech.test";
/** Where the example host app (examples/host-app) listens in this test. */
const EXAMPLE_URL = "http://127.0.0.1:3398";

type Registered = { client_id: string; client_secret: string; webhook_secret: string };

function createApp(name: string, redirectUri = APP_CALLBACK, webhookUrl?: string, extra: string[] = []): Registered {
  const webhook = webhookUrl ? ["--webhook-url", webhookUrl] : [];
  const output = execFileSync(
    process.env.LATCHKEY_BIN!,
    ["create-app", "--name", name, "--redirect-uri", redirectUri, ...webhook, ...extra],
    { env: process.env },
  );
  return JSON.parse(output.toString());
}

/** Starts examples/host-app (built by scripts/test) against this server. */
async function startExampleApp(app: Registered) {
  const child = spawn(process.env.EXAMPLE_HOST_APP_BIN!, [], {
    env: {
      ...process.env,
      LATCHKEY_ISSUER: BASE_URL,
      CLIENT_ID: app.client_id,
      CLIENT_SECRET: app.client_secret,
      WEBHOOK_SECRET: app.webhook_secret,
      APP_URL: EXAMPLE_URL,
      LISTEN: EXAMPLE_URL.replace("http://", ""),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(EXAMPLE_URL)).ok) return { child, output: () => output };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error(`the example host app did not start: ${output}`);
}

/** What a host app does before sending the browser to Latchkey. */
async function startSignIn(app: Registered, auth: oidc.ClientAuth, extra: Record<string, string> = {}) {
  const config = await oidc.discovery(new URL(BASE_URL), app.client_id, undefined, auth, {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: APP_CALLBACK,
    scope: "openid email profile",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    ...extra,
  });
  const finish = (callback: URL) =>
    oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
  return { config, url, finish };
}

/**
 * The host app's callback page, served for real on loopback: records where
 * each browser arrival came back to and shows a page, as the app would.
 */
async function startAppCallback() {
  const arrivals: URL[] = [];
  const signedOut: URL[] = [];
  const logoutTokens: string[] = [];
  let wake: (() => void) | undefined;
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", APP_CALLBACK);
    if (url.pathname === "/backchannel" && request.method === "POST") {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        const token = new URLSearchParams(body).get("logout_token");
        if (token) logoutTokens.push(token);
        response.writeHead(200).end();
      });
      return;
    }
    if (url.pathname === "/signed-out") {
      signedOut.push(url);
      response.writeHead(200, { "content-type": "text/html" });
      response.end("<!doctype html><title>Initech Portal</title><h1>Signed out of Initech Portal</h1>");
      return;
    }
    // The browser also asks for /favicon.ico: only the callback counts.
    if (url.pathname === "/callback") {
      arrivals.push(url);
      wake?.();
    }
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<!doctype html><title>Initech Portal</title><h1>Signed in to Initech Portal</h1>");
  });
  await new Promise<void>((resolve) => server.listen(APP_PORT, "127.0.0.1", resolve));
  const next = async () => {
    while (arrivals.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return arrivals.shift()!;
  };
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const forget = () => arrivals.splice(0);
  const pending = async () => arrivals.length;
  return { next, close, forget, pending, signedOut, logoutTokens };
}

test.describe("Sign-in for host apps", () => {
  let callbacks: Awaited<ReturnType<typeof startAppCallback>>;
  test.beforeAll(async () => {
    callbacks = await startAppCallback();
  });
  test.afterAll(async () => {
    await callbacks.close();
  });
  test.beforeEach(() => {
    callbacks.forget();
  });

  test("a member signs in to the host app through the organization's IdP", async ({ page }) => {
    test.setTimeout(60_000);
    const app = createApp("Initech Portal");
    const nextCallback = callbacks.next;
    const flow = await startSignIn(app, oidc.ClientSecretBasic(app.client_secret), { organization: ORG.slug });

    await page.goto(flow.url.href);
    await continueWith(page, "Initech OIDC");
    await signInAtProvider(page, SSO_MEMBER);
    const callback = await nextCallback();
    const tokens = await flow.finish(callback);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: BASE_URL,
      email: SSO_MEMBER,
      org_slug: ORG.slug,
      role: "member",
      amr: ["sso"],
      groups: [],
    });
    expect([claims.aud].flat()).toEqual([app.client_id]);
    expect(typeof claims.idp).toBe("string");
    expect(typeof claims.auth_time).toBe("number");
    const info = await oidc.fetchUserInfo(flow.config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: claims.sub, email: SSO_MEMBER, org_id: claims.org_id, idp: claims.idp });

    // The code was spent: a replay is refused by Latchkey, not just by the library.
    const replay = await flow.finish(callback).then(
      () => "accepted",
      (error) => error.error ?? String(error),
    );
    expect(replay).toBe("invalid_grant");

    // Signed in to Latchkey already: the next sign-in comes straight back.
    const again = await startSignIn(app, oidc.ClientSecretBasic(app.client_secret));
    await page.goto(again.url.href);
    const second = await again.finish(await nextCallback());
    expect(second.claims()!.sub).toBe(claims.sub);
    await expect(page.getByRole("heading", { name: "Signed in to Initech Portal" })).toBeVisible();
  });

  test("logging out of the host app ends the session at Latchkey, at every app and at the IdP", async ({ page }) => {
    test.setTimeout(60_000);
    const app = createApp("Initech Portal (logout)", APP_CALLBACK, undefined, [
      "--post-logout-redirect-uri", APP_SIGNED_OUT,
      "--backchannel-logout-uri", APP_BACKCHANNEL,
    ]);
    const flow = await startSignIn(app, oidc.ClientSecretBasic(app.client_secret), { organization: ORG.slug });
    await page.goto(flow.url.href);
    await continueWith(page, "Initech OIDC");
    await signInAtProvider(page, SSO_MEMBER);
    const tokens = await flow.finish(await callbacks.next());
    const claims = tokens.claims()!;
    expect(typeof claims.sid).toBe("string");

    // Without the session's own ID token, Latchkey asks the member first.
    const unproven = oidc.buildEndSessionUrl(flow.config, { post_logout_redirect_uri: APP_SIGNED_OUT });
    await page.goto(unproven.href);
    await expect(page.getByRole("heading", { name: "Sign out of Latchkey?" })).toBeVisible();
    await expect(page.getByText("Initech Portal (logout) asks to end your Latchkey session")).toBeVisible();
    await screenshot(page, "host-app-logout-confirm");
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, "host-app-logout-confirm-phone");
    await page.setViewportSize({ width: 1280, height: 720 });

    // The host app logs the member out the standard way: the library builds the request.
    const logout = oidc.buildEndSessionUrl(flow.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: APP_SIGNED_OUT,
      state: "bye-42",
    });
    await page.goto(logout.href);
    // Latchkey ended its session and sends the member on to end the IdP's.
    await expect(page.getByRole("heading", { name: /Do you want to sign-out/ })).toBeVisible();
    await page.getByRole("button", { name: "Yes, sign me out" }).click();
    await expect(page.getByRole("heading", { name: "Signed out of Initech Portal" })).toBeVisible();
    expect(callbacks.signedOut.at(-1)?.searchParams.get("state")).toBe("bye-42");

    // The app was told over the back channel, with a logout token it can verify.
    await expect.poll(() => callbacks.logoutTokens.length).toBeGreaterThan(0);
    const jwks = jose.createRemoteJWKSet(new URL(`${BASE_URL}/oauth2/jwks`));
    const { payload, protectedHeader } = await jose.jwtVerify(callbacks.logoutTokens.at(-1)!, jwks, {
      issuer: BASE_URL,
      audience: app.client_id,
      typ: "logout+jwt",
    });
    expect(protectedHeader.typ).toBe("logout+jwt");
    expect(payload).toMatchObject({ sub: claims.sub, sid: claims.sid });
    expect(payload.events).toEqual({ "http://schemas.openid.net/event/backchannel-logout": {} });

    // Latchkey's session is gone: a new sign-in for the app starts over at the IdP.
    await page.goto("/");
    await expect(page).toHaveURL(/\/login/);
  });

  test("the break-glass admin's password sign-in reaches the host app as pwd", async ({ page }) => {
    test.setTimeout(60_000);
    const app = createApp("Initech Admin Console");
    const nextCallback = callbacks.next;
    const flow = await startSignIn(app, oidc.ClientSecretPost(app.client_secret));

    await page.goto(flow.url.href);
    await expect(page).toHaveURL(/\/login\?next=%2Foauth2%2Fauthorize/);
    await waitForHydration(page);
    await screenshot(page, "host-app-sign-in");
    await page.getByLabel("Email").fill(ACCOUNTS.admin.email);
    await page.getByLabel("Password", { exact: true }).fill(ACCOUNTS.admin.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const tokens = await flow.finish(await nextCallback());
    expect(tokens.claims()).toMatchObject({
      email: ACCOUNTS.admin.email,
      given_name: ACCOUNTS.admin.firstName,
      family_name: ACCOUNTS.admin.lastName,
      role: "integrations_admin",
      amr: ["pwd"],
    });

    await expect(page.getByRole("heading", { name: "Signed in to Initech Portal" })).toBeVisible();
    await page.waitForLoadState("networkidle");
    expect(await callbacks.pending(), "one sign-in, one code").toBe(0);

    // A request naming an address the app never registered is stopped on our page.
    const forged = new URL(flow.url.href);
    forged.searchParams.set("redirect_uri", "https://evil.example/steal");
    await page.goto(forged.href);
    await expect(page.getByRole("heading", { name: "Sign-in request refused" })).toBeVisible();
    await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1/);
    await screenshot(page, "host-app-unregistered-redirect");
  });

  test("the example host app signs the admin in, lists the directory and verifies webhooks", async ({ page }) => {
    test.setTimeout(60_000);
    const app = createApp("Example host app", `${EXAMPLE_URL}/callback`, `${EXAMPLE_URL}/webhooks`);
    const example = await startExampleApp(app);
    try {
      await page.goto(EXAMPLE_URL);
      await page.getByRole("button", { name: "Sign in with SSO" }).click();
      await expect(page).toHaveURL(/\/login\?next=/);
      await waitForHydration(page);
      await page.getByLabel("Email").fill(ACCOUNTS.admin.email);
      await page.getByLabel("Password", { exact: true }).fill(ACCOUNTS.admin.password);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await expect(page.getByRole("heading", { name: `Signed in as ${ACCOUNTS.admin.email}` })).toBeVisible();
      await expect(page.locator("#claims")).toContainText('"role": "integrations_admin"');
      await screenshot(page, "example-host-app-signed-in");

      await page.getByRole("link", { name: "Your organization's directory" }).click();
      await expect(page.locator("#users")).toContainText(ACCOUNTS.member.email);

      // A change in Latchkey reaches the app as a verified webhook.
      execFileSync(
        process.env.LATCHKEY_BIN!,
        ["create-user", "--org", ORG.slug, "--email", "samir@initech.test", "--first-name", "Samir"],
        { env: process.env },
      );
      await expect(async () => {
        await page.goto(EXAMPLE_URL);
        await expect(page.locator("#webhooks")).toContainText("samir@initech.test", { timeout: 1_000 });
      }).toPass({ timeout: 20_000 });
      await expect(page.locator("#webhooks")).toContainText("user.created");
    } finally {
      example.child.kill();
    }
  });
});

test.describe("Setup links", () => {
  test("the host app creates an organization and its IT admin's setup link lands them on Authentication", async ({ page }) => {
    test.setTimeout(60_000);
    const app = createApp("Initech Onboarding");
    const config = await oidc.discovery(new URL(BASE_URL), app.client_id, undefined, oidc.ClientSecretBasic(app.client_secret), {
      execute: [oidc.allowInsecureRequests],
    });
    const { access_token } = await oidc.clientCredentialsGrant(config, { scope: "management" });
    const api = (path: string, body: unknown) =>
      fetch(`${BASE_URL}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const created = await api("/api/v1/organizations", { slug: "globex", name: "Globex Corporation", domains: ["globex.test"] });
    expect(created.status).toBe(201);
    expect((await created.json()).domains[0].txt_record.name).toBe("_latchkey-challenge.globex.test");
    const link = await (await api("/api/v1/organizations/globex/setup-links", { email: "hank@globex.test" })).json();

    await page.goto(link.url);
    await expect(page.getByRole("heading", { name: "Set up sign-in for Globex Corporation" })).toBeVisible();
    await expect(page.getByTestId("setup-email")).toHaveText("hank@globex.test");
    await screenshot(page, "setup-link-invitation");
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, "setup-link-invitation-phone");
    await page.setViewportSize({ width: 1280, height: 720 });

    await page.getByRole("button", { name: "Accept and continue" }).click();
    await expect(page).toHaveURL(/\/settings\/authentication$/);
    await expect(page.getByRole("banner")).toContainText("hank@globex.test");
    await screenshot(page, "setup-link-landed");

    await page.goto(link.url);
    await expect(page.getByRole("heading", { name: "This setup link can't be used" })).toBeVisible();
    await expect(page.getByText("This setup link was already used.")).toBeVisible();
    await screenshot(page, "setup-link-used");
  });
});
