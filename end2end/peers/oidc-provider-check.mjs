// Self-check for peers/oidc-provider.mjs: starts it on a free port and drives real
// authorization code flows with PKCE through plain fetch, then exercises the control API.
// Usage: node peers/oidc-provider-check.mjs          (exits non-zero on any failure)
//
// The login flow, as a Rust test with reqwest (cookie store on, redirects off) replays it:
//   1. GET  <issuer>/auth?client_id=..&redirect_uri=..&response_type=code
//           &scope=openid email profile&state=..&nonce=..&code_challenge=..&code_challenge_method=S256
//      -> 303 Location: /interaction/<uid>     (cookies _interaction, _interaction_resume)
//   2. GET  <issuer>/interaction/<uid>        -> 200 HTML <form action="<issuer>/interaction/<uid>">
//   3. POST <issuer>/interaction/<uid>  form (urlencoded): prompt=login (hidden field),
//           login=<login name>, password=<anything>
//      -> 303 Location: <issuer>/auth/<uid>
//   4. GET  <issuer>/auth/<uid>               -> 303 Location: <redirect_uri>?code=..&state=..&iss=<issuer>
//                                               (cookie _session; no consent screen)
//   5. POST <issuer>/token  Authorization: Basic base64(client_id:client_secret),
//           form: grant_type=authorization_code, code, redirect_uri, code_verifier
//      -> 200 { access_token, id_token, token_type: "Bearer", expires_in, scope }
// Cookies are path-scoped (_interaction to /interaction/<uid>, _interaction_resume to
// /auth/<uid>), so the jar below honours Path like a browser does.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";

const failures = [];
function check(what, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok || !detail ? "" : `: ${detail}`}`);
  if (!ok) failures.push(what);
}

const port = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, "127.0.0.1", () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const issuer = `http://127.0.0.1:${port}`;
const peer = spawn(process.execPath, [new URL("./oidc-provider.mjs", import.meta.url).pathname, String(port)], {
  stdio: ["ignore", "ignore", "inherit"],
});

async function control(method, path, body) {
  const response = await fetch(`${issuer}/__control/${path}`, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`control ${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** One browser: a cookie jar that honours Path and expiry, redirects followed by hand. */
function browser() {
  const jar = new Map(); // name -> { value, path }
  return async function request(url, init = {}) {
    const { pathname } = new URL(url);
    const cookie = [...jar].filter(([, c]) => pathname.startsWith(c.path)).map(([n, c]) => `${n}=${c.value}`);
    const response = await fetch(url, {
      ...init, redirect: "manual", headers: { ...init.headers, ...(cookie.length && { cookie: cookie.join("; ") }) },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((s) => s.trim());
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      const attr = Object.fromEntries(attributes.map((a) => [a.split("=")[0].toLowerCase(), a.split("=")[1]]));
      const expired = attr["max-age"] === "0" || (attr.expires && Date.parse(attr.expires) < Date.now());
      if (expired) jar.delete(name);
      else jar.set(name, { value, path: attr.path ?? "/" });
    }
    return response;
  };
}

const attribute = (tag, name) => new RegExp(`${name}="([^"]*)"`).exec(tag)?.[1];

/** Runs the whole flow for `login`; returns the token response and the decoded ID token. */
async function signIn(login, { clientId, secret, redirectUri, auth = "basic", midway }) {
  const request = browser();
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(8).toString("hex");
  const nonce = randomBytes(8).toString("hex");
  const authorize = new URL(`${issuer}/auth`);
  Object.entries({
    client_id: clientId, redirect_uri: redirectUri, response_type: "code", scope: "openid email profile",
    state, nonce, code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).forEach(([k, v]) => authorize.searchParams.set(k, v));

  let next = authorize.href;
  let form = null;
  for (let hops = 0; hops < 10 && !next.startsWith(redirectUri); hops++) {
    const response = await request(next, form ? {
      method: "POST", body: new URLSearchParams(form),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    } : {});
    form = null;
    const location = response.headers.get("location");
    if (location) { next = new URL(location, next).href; continue; }
    const html = await response.text();
    const tag = /<form[^>]*>/.exec(html)?.[0];
    if (!tag) throw new Error(`no login form at ${next} (${response.status}): ${html.slice(0, 500)}`);
    form = { login, password: "any password" };
    for (const input of html.match(/<input[^>]*>/g) ?? []) {
      if (attribute(input, "type") === "hidden") form[attribute(input, "name")] = attribute(input, "value");
    }
    next = new URL(attribute(tag, "action").replaceAll("&amp;", "&"), next).href;
    await midway?.();
  }
  const back = new URL(next);
  if (!next.startsWith(redirectUri)) throw new Error(`never sent back to ${redirectUri}`);
  if (back.searchParams.get("state") !== state) throw new Error(`state not echoed: ${next}`);
  const callback = Object.fromEntries(back.searchParams);

  const body = new URLSearchParams({
    grant_type: "authorization_code", code: callback.code, redirect_uri: redirectUri, code_verifier: verifier,
  });
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  if (auth === "basic") {
    // RFC 6749 2.3.1: the id and secret are form-urlencoded before base64, and the provider decodes them.
    const enc = (s) => encodeURIComponent(s).replace(/%20/g, "+");
    headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString("base64")}`;
  } else {
    body.set("client_id", clientId);
    body.set("client_secret", secret);
  }
  const response = await fetch(`${issuer}/token`, { method: "POST", headers, body });
  const tokens = await response.json();
  if (!response.ok) throw new Error(`token endpoint ${response.status}: ${JSON.stringify(tokens)}`);
  return {
    callback, nonce, tokens,
    header: decodeProtectedHeader(tokens.id_token), claims: decodeJwt(tokens.id_token),
  };
}

const jwks = async () => (await fetch(`${issuer}/jwks`)).json();
const userinfo = async (accessToken) =>
  (await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
/** Whether the token's signature verifies against the published keys (claims not judged). */
const signedByProvider = async (token) =>
  compactVerify(token, createLocalJWKSet(await jwks())).then(() => true, () => false);

try {
  for (let i = 0; ; i++) {
    if ((await fetch(`${issuer}/__control/health`).catch(() => null))?.ok) break;
    if (i > 100) throw new Error("the peer did not start");
    await new Promise((r) => setTimeout(r, 50));
  }

  const client = { clientId: "latchkey-e2e", secret: "rotated-secret", redirectUri: "http://127.0.0.1:9/cb" };
  await control("PUT", `clients/${client.clientId}`, { client_secret: client.secret, redirect_uris: [client.redirectUri] });
  const added = await control("PUT", `clients/${client.clientId}`, {
    client_secret: client.secret, redirect_uris: ["http://127.0.0.1:9/other"],
  });
  check("redirect_uris are appended", added.redirect_uris.includes(client.redirectUri)
    && added.redirect_uris.includes("http://127.0.0.1:9/other"), JSON.stringify(added));

  const first = await signIn("milton", client);
  console.log("callback:", first.callback);
  console.log("id_token header:", first.header);
  console.log("id_token claims:", first.claims);
  check("callback carries iss", first.callback.iss === issuer);
  const verified = await jwtVerify(first.tokens.id_token, createLocalJWKSet(await jwks()), {
    issuer, audience: client.clientId,
  }).then(() => true, (e) => e.message);
  check("ID token verifies", verified === true, verified);
  check("nonce echoed", first.claims.nonce === first.nonce);
  check("claims in ID token", first.claims.email === "milton@initech.test" && first.claims.email_verified === true
    && first.claims.given_name === "Peter" && first.claims.family_name === "Gibbons", JSON.stringify(first.claims));
  check("email login kept as is", (await signIn("bob@example.test", client)).claims.email === "bob@example.test");
  check("client_secret_post accepted", (await signIn("milton", { ...client, auth: "post" })).claims.sub === "milton");

  const noemail = await signIn("noemail-lumbergh", client);
  const noemailInfo = await userinfo(noemail.tokens.access_token);
  check("noemail: no email claims in ID token", !("email" in noemail.claims) && !("email_verified" in noemail.claims),
    JSON.stringify(noemail.claims));
  check("noemail: no email claims from UserInfo", noemailInfo.sub === "noemail-lumbergh"
    && !("email" in noemailInfo) && !("email_verified" in noemailInfo), JSON.stringify(noemailInfo));
  const unverified = await signIn("unverified-samir", client);
  check("unverified: email_verified false", unverified.claims.email_verified === false
    && unverified.claims.email === "unverified-samir@initech.test", JSON.stringify(unverified.claims));
  check("unverified: UserInfo agrees", (await userinfo(unverified.tokens.access_token)).email_verified === false);

  const published = (await jwks()).keys.map((k) => k.kid);
  const tampered = async (mode) => {
    await control("PUT", "tamper", { mode, once: true });
    const result = await signIn("milton", client);
    return { ...result, token: result.tokens.id_token };
  };
  let t = await tampered("wrong_audience");
  check("wrong_audience", t.claims.aud === "someone-else" && await signedByProvider(t.token));
  t = await tampered("expired");
  const now = Date.now() / 1000;
  check("expired", t.claims.exp < now - 3500 && t.claims.iat < now - 7100 && await signedByProvider(t.token));
  t = await tampered("issuer_mismatch");
  check("issuer_mismatch", t.claims.iss === `${issuer}/other` && await signedByProvider(t.token));
  t = await tampered("nonce_mismatch");
  check("nonce_mismatch", t.claims.nonce === "not-the-nonce-you-sent" && await signedByProvider(t.token));
  t = await tampered("bad_signature");
  check("bad_signature", t.header.kid === first.header.kid && t.claims.nonce === t.nonce
    && !(await signedByProvider(t.token)));
  t = await tampered("alg_none");
  check("alg_none", t.header.alg === "none" && t.token.endsWith(".") && t.claims.nonce === t.nonce);
  t = await tampered("hs256");
  const hmac = await compactVerify(t.token, Buffer.from(client.secret), { algorithms: ["HS256"] })
    .then(() => true, () => false);
  check("hs256", t.header.alg === "HS256" && t.header.kid === first.header.kid && hmac);
  t = await tampered("unknown_kid");
  check("unknown_kid", !published.includes(t.header.kid) && t.claims.nonce === t.nonce);
  const after = await signIn("milton", client);
  check("once: the next token is untouched", await signedByProvider(after.tokens.id_token)
    && after.claims.aud === client.clientId);

  await control("PUT", "tamper", { mode: "issuer_mismatch", once: false });
  const sticky = [await signIn("milton", client), await signIn("milton", client)];
  await control("PUT", "tamper", { mode: null });
  const cleared = await signIn("milton", client);
  check("once false: every token until cleared", sticky.every((s) => s.claims.iss === `${issuer}/other`)
    && cleared.claims.iss === issuer);

  // Control calls rebuild the provider; a sign-in already under way must survive that.
  let kid;
  const rotated = await signIn("milton", {
    ...client,
    midway: async () => {
      ({ kid } = await control("POST", "rotate-keys"));
      await control("PUT", "clients/another", { client_secret: "x", redirect_uris: ["http://127.0.0.1:9/x"] });
    },
  });
  const keys = (await jwks()).keys.map((k) => k.kid);
  check("rotate-keys: next token uses the new kid", rotated.header.kid === kid && kid !== first.header.kid
    && await signedByProvider(rotated.tokens.id_token));
  check("rotate-keys: JWKS lists new then old", keys.length === 2 && keys[0] === kid && keys[1] === first.header.kid,
    JSON.stringify(keys));
  t = await tampered("wrong_audience");
  check("tampering re-signs with the new key", t.header.kid === kid && await signedByProvider(t.token));
} catch (err) {
  check("flow completes", false, err.stack);
} finally {
  peer.kill();
}

console.log(failures.length ? `${failures.length} check(s) failed` : "all checks passed");
process.exitCode = failures.length ? 1 : 0;
