// A real OpenID Provider for the browser and integration tests: the OpenID-certified
// npm package `oidc-provider`, on loopback, with confidential clients and PKCE required.
// Usage: node peers/oidc-provider.mjs <port>        (issuer http://127.0.0.1:<port>)
//
// Sign-in (devInteractions, no consent screen since every client is first-party):
//   1. GET  /auth?client_id&redirect_uri&response_type=code&scope=openid email profile
//           &state&nonce&code_challenge&code_challenge_method=S256
//      -> 303 Location: /interaction/<uid>, sets cookies `_interaction` (Path=/interaction/<uid>)
//         and `_interaction_resume` (Path=/auth/<uid>).
//   2. GET  /interaction/<uid>  (sends `_interaction`) -> 200 HTML login form,
//      action="<issuer>/interaction/<uid>" (absolute), hidden field prompt=login.
//   3. POST /interaction/<uid>  (sends `_interaction`) form: prompt=login, login=<name>,
//      password=<anything>
//      -> 303 Location: http://127.0.0.1:<port>/auth/<uid>
//   4. GET  /auth/<uid>  (sends `_interaction_resume`) -> sets `_session`,
//      303 Location: <redirect_uri>?code=...&state=...&iss=<issuer>
//   5. POST /token  (Basic client_id:client_secret, or client_secret in the form;
//      both work for every client) grant_type=authorization_code, code, redirect_uri,
//      code_verifier -> { id_token, access_token, ... }
// The login name picks the account: sub = login; email = login if it contains "@",
// else <login>@initech.test; "noemail..." has no email claims; "unverified..." has
// email_verified false. ID tokens carry the email and profile claims themselves.
//
// Control API (JSON, answered here before oidc-provider sees the request):
//   GET  /__control/health                 -> {"ok":true}
//   PUT  /__control/clients/<client_id>    {"client_secret", "redirect_uris": [...],
//        "post_logout_redirect_uris"?: [...], "backchannel_logout_uri"?}
//        registers the client or adds redirect_uris (and post-logout ones) to it (secret
//        and back-channel logout URI replaced when given)
//
// Logout (RP-Initiated Logout and Back-Channel Logout are on):
//   GET  /session/end?id_token_hint&client_id&post_logout_redirect_uri&state -> 200 HTML
//        confirmation form (id op.logoutForm, action /session/end/confirm, hidden xsrf);
//        POST it with logout=yes -> the provider POSTs a logout token to the client's
//        backchannel_logout_uri, then 303 to post_logout_redirect_uri?state=...
//   POST /__control/rotate-keys            -> {"kid"}: new signing key first, old one kept
//   PUT  /__control/tamper                 {"mode": <mode>|null, "once": true, "client_id"?}
//        alters the id_token of the next (or, with once false, every) token response.
//   POST /__control/retire-key             -> {"kid"}: the oldest key leaves the JWKS (as a
//        provider does after a rotation or a leak); tamper mode "retired_key" still signs
//        with it, as whoever holds the leaked key would.
//   PUT  /__control/jwks-cache             {"max_age": <seconds>|null}: the Cache-Control
//        max-age sent with the JWKS (none by default).
//   GET  /__control/stats                  -> {"jwks_fetches"}: JWKS requests served so far.
import http from "node:http";
import { randomUUID } from "node:crypto";
import Provider from "oidc-provider";
// oidc-provider 9 gives each Provider instance its own in-memory store when no adapter is
// configured; we rebuild the instance on every client or key change, so share one store
// to keep sessions, interactions, grants and codes across rebuilds.
import { createMemoryAdapter } from "oidc-provider/lib/adapters/memory_adapter.js";
import { CompactSign, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from "jose";

const port = Number(process.argv[2] ?? 3300);
const issuer = `http://127.0.0.1:${port}`;
const adapter = createMemoryAdapter();

/** client_id -> { secret, redirectUris, postLogoutRedirectUris, backchannelLogoutUri } */
const clients = new Map([
  ["latchkey-e2e", { secret: "latchkey-e2e-secret-value", redirectUris: [`${issuer}/unused-callback`] }],
]);

/** RS256 keys we hold the private half of, so tampering can re-sign; the first one signs. */
const signingKeys = [await newSigningKey()];

/** Keys taken out of the JWKS, newest last; "retired_key" signs with the newest. */
const retiredKeys = [];

/** { mode, once, clientId } or null */
let tamper = null;

/** Cache-Control max-age for the JWKS, in seconds, or null for no header. */
let jwksMaxAge = null;
let jwksFetches = 0;

async function newSigningKey(kid = randomUUID()) {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  return { kid, privateKey, jwk };
}

const SCOPE = "openid email profile";
const CLAIMS = ["email", "email_verified", "given_name", "family_name", "name"];

function buildProvider() {
  const provider = new Provider(issuer, {
    adapter,
    clients: [...clients].map(([client_id, { secret, redirectUris, postLogoutRedirectUris, backchannelLogoutUri }]) => ({
      client_id,
      client_secret: secret,
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogoutRedirectUris ?? [],
      ...(backchannelLogoutUri
        ? { backchannel_logout_uri: backchannelLogoutUri, backchannel_logout_session_required: true }
        : {}),
      grant_types: ["authorization_code"],
      response_types: ["code"],
    })),
    jwks: { keys: signingKeys.map((k) => k.jwk) },
    pkce: { required: () => true },
    // Its back-channel logout POSTs go to Latchkey on loopback, which oidc-provider's SSRF
    // guard refuses (as Latchkey's own does unless LATCHKEY_ALLOW_PRIVATE_URLS is set).
    fetch: (url, { dispatcher: _loopbackRefused, ...options }) => globalThis.fetch(url, options),
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    claims: { email: ["email", "email_verified"], profile: ["given_name", "family_name", "name"] },
    // Put the scope's claims into the ID token too, as many real IdPs do, instead of
    // only behind the UserInfo endpoint.
    conformIdTokenClaims: false,
    // Every client is first-party: grant it up front so no consent screen is shown.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(SCOPE);
      grant.addOIDCClaims(CLAIMS);
      await grant.save();
      return grant;
    },
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        ...(id.startsWith("noemail") ? {} : {
          email: id.includes("@") ? id : `${id}@initech.test`,
          email_verified: !id.startsWith("unverified"),
        }),
        given_name: "Peter",
        family_name: "Gibbons",
      }),
    }),
  });
  provider.use(tamperIdToken);
  provider.on("server_error", (_ctx, err) => console.error("oidc-provider server_error:", err));
  provider.on("backchannel.error", (_ctx, err, client) =>
    console.error(`oidc-provider back-channel logout to ${client.clientId} failed:`, err.message));
  return provider;
}

// Runs around every request; after the token endpoint answered, swaps in a forged id_token.
async function tamperIdToken(ctx, next) {
  await next();
  if (!tamper || ctx.oidc?.route !== "token" || ctx.status !== 200 || !ctx.body?.id_token) return;
  const clientId = ctx.oidc.client?.clientId;
  if (tamper.clientId && tamper.clientId !== clientId) return;
  const { mode } = tamper;
  if (tamper.once) tamper = null;
  ctx.body = { ...ctx.body, id_token: await forge(ctx.body.id_token, mode, clientId) };
}

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
const sign = (header, claims, key) =>
  new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(header).sign(key);

async function forge(idToken, mode, clientId) {
  const header = decodeProtectedHeader(idToken);
  const claims = decodeJwt(idToken);
  const realKey = (signingKeys.find((k) => k.kid === header.kid) ?? signingKeys[0]).privateKey;
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case "wrong_audience":
      return sign(header, { ...claims, aud: "someone-else" }, realKey);
    case "expired":
      return sign(header, { ...claims, exp: now - 3600, iat: now - 7200 }, realKey);
    case "issuer_mismatch":
      return sign(header, { ...claims, iss: `${issuer}/other` }, realKey);
    case "nonce_mismatch":
      return sign(header, { ...claims, nonce: "not-the-nonce-you-sent" }, realKey);
    case "bad_signature": // a key nobody published, posing as the real one
      return sign(header, claims, (await newSigningKey(header.kid)).privateKey);
    case "alg_none":
      return `${b64({ alg: "none", typ: "JWT" })}.${idToken.split(".")[1]}.`;
    case "hs256": // algorithm confusion: HMAC keyed with the client secret (known to the RP)
      return sign({ ...header, alg: "HS256" }, claims, Buffer.from(clients.get(clientId).secret));
    case "other_azp": // authorized for another client
      return sign(header, { ...claims, azp: "someone-else" }, realKey);
    case "minimal": { // only the required claims, as many providers do: the rest is at UserInfo
      const { email, email_verified, given_name, family_name, name, ...required } = claims;
      return sign(header, required, realKey);
    }
    case "retired_key": {
      const retired = retiredKeys.at(-1);
      if (!retired) throw new Error("no key has been retired");
      return sign({ ...header, kid: retired.kid }, claims, retired.privateKey);
    }
    case "unknown_kid": {
      const stranger = await newSigningKey();
      return sign({ ...header, kid: stranger.kid }, claims, stranger.privateKey);
    }
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
}

const TAMPER_MODES = new Set([
  "wrong_audience", "expired", "issuer_mismatch", "nonce_mismatch",
  "bad_signature", "alg_none", "hs256", "unknown_kid", "other_azp", "minimal", "retired_key",
]);

let provider = buildProvider();
let handle = provider.callback();

// Swaps in a provider built from the current clients and keys; in-flight requests finish
// on the old one, and the shared adapter keeps every session and code valid.
async function rebuild(checkClientId) {
  const next = buildProvider();
  // Static clients are validated lazily: look this one up now so bad metadata is a 400.
  if (checkClientId) await next.Client.find(checkClientId);
  provider = next;
  handle = next.callback();
}

async function control(method, path, body) {
  if (method === "GET" && path === "health") return [200, { ok: true }];
  const client = /^clients\/([^/]+)$/.exec(path);
  if (method === "PUT" && client) {
    const clientId = decodeURIComponent(client[1]);
    const {
      client_secret: secret,
      redirect_uris: uris,
      post_logout_redirect_uris: logoutUris = [],
      backchannel_logout_uri: backchannelLogoutUri,
    } = body ?? {};
    const previous = clients.get(clientId);
    if (!Array.isArray(uris) || (!secret && !previous)) {
      return [400, { error: "redirect_uris (array) and client_secret are required" }];
    }
    // Parallel tests each add their own Redirect URI: append, never replace.
    const next = {
      secret: secret ?? previous.secret,
      redirectUris: [...new Set([...(previous?.redirectUris ?? []), ...uris])],
      postLogoutRedirectUris: [...new Set([...(previous?.postLogoutRedirectUris ?? []), ...logoutUris])],
      backchannelLogoutUri: backchannelLogoutUri ?? previous?.backchannelLogoutUri,
    };
    clients.set(clientId, next);
    try {
      await rebuild(clientId);
    } catch (err) {
      if (previous) clients.set(clientId, previous); else clients.delete(clientId);
      return [400, { error: String(err.error_description ?? err.message ?? err) }];
    }
    return [200, { client_id: clientId, redirect_uris: next.redirectUris }];
  }
  if (method === "POST" && path === "rotate-keys") {
    const key = await newSigningKey();
    signingKeys.unshift(key);
    await rebuild();
    return [200, { kid: key.kid }];
  }
  if (method === "POST" && path === "retire-key") {
    if (signingKeys.length < 2) return [400, { error: "rotate first: the last key cannot be retired" }];
    const key = signingKeys.pop();
    retiredKeys.push(key);
    await rebuild();
    return [200, { kid: key.kid }];
  }
  if (method === "PUT" && path === "jwks-cache") {
    const { max_age: maxAge = null } = body ?? {};
    if (maxAge !== null && !(Number.isInteger(maxAge) && maxAge >= 0)) {
      return [400, { error: "max_age must be a whole number of seconds or null" }];
    }
    jwksMaxAge = maxAge;
    return [200, { max_age: jwksMaxAge }];
  }
  if (method === "GET" && path === "stats") return [200, { jwks_fetches: jwksFetches }];
  if (method === "PUT" && path === "tamper") {
    const { mode = null, once = true, client_id: clientId } = body ?? {};
    if (mode !== null && !TAMPER_MODES.has(mode)) return [400, { error: `unknown mode ${mode}` }];
    tamper = mode === null ? null : { mode, once: once !== false, clientId };
    return [200, { mode, once: once !== false }];
  }
  return [404, { error: `no control endpoint ${method} /__control/${path}` }];
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8").trim();
  return text ? JSON.parse(text) : null;
}

http
  .createServer(async (req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname === "/jwks") {
      jwksFetches += 1;
      if (jwksMaxAge !== null) res.setHeader("cache-control", `public, max-age=${jwksMaxAge}`);
    }
    if (!url.pathname.startsWith("/__control/")) return handle(req, res);
    let status, answer;
    try {
      [status, answer] = await control(req.method, url.pathname.slice("/__control/".length), await readJson(req));
    } catch (err) {
      [status, answer] = [err instanceof SyntaxError ? 400 : 500, { error: String(err.message ?? err) }];
    }
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(answer));
  })
  .listen(port, "127.0.0.1", () => console.log(`oidc-provider listening at ${issuer}`));

// A test harness that holds our stdin open (the Rust tests) stops us by closing
// it, so no provider outlives the test process that started it.
if (process.env.OIDC_PEER_EXIT_WITH_STDIN === "1") {
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}
