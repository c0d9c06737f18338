import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ACCOUNTS, ORG, PEERS } from "./tests/fixtures";
// @ts-expect-error: a plain ES module without type declarations.
import { startDnsPeer } from "./peers/dns.mjs";

const baseURL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";

/**
 * Waits for the server, creates the test organization with the real CLI, and
 * starts the test peers: a real OpenID Provider, a file server for IdP metadata and a
 * SAML IdP (pysaml2, peers/saml-idp.py), and a DNS server for domain verification
 * (peers/dns.mjs; the server under test asks it through LATCHKEY_DNS_SERVER).
 */
export default async function globalSetup() {
  await waitForReady(`${baseURL}/readyz`, 90_000);
  const bin = process.env.LATCHKEY_BIN;
  if (!bin) {
    throw new Error("LATCHKEY_BIN must name the latchkey binary (scripts/test sets it)");
  }
  latchkey(bin, ["create-org", "--slug", ORG.slug, "--name", ORG.name]);
  for (const account of Object.values(ACCOUNTS)) {
    latchkey(
      bin,
      [
        "create-user",
        "--org", ORG.slug,
        "--email", account.email,
        "--role", account.role,
        "--first-name", account.firstName,
        "--last-name", account.lastName,
        "--password-stdin",
      ],
      account.password + "\n",
    );
  }

  const metadata = serveMetadata();
  const provider = startOpenIdProvider();
  const samlIdp = startSamlIdp();
  const dns = startDnsPeer({ dnsPort: PEERS.dnsPort, controlPort: PEERS.dnsControlPort });
  try {
    await waitForReady(`${PEERS.oidcIssuer}/.well-known/openid-configuration`, 30_000);
    await waitForReady(`${SAML_IDP_URL}/health`, 30_000, samlIdp.failure);
  } catch (error) {
    metadata.close();
    provider.kill();
    samlIdp.child.kill();
    dns.close();
    throw error;
  }
  return async () => {
    metadata.close();
    provider.kill();
    samlIdp.child.kill();
    dns.close();
  };
}

function serveMetadata(): http.Server {
  const xml = readFileSync(path.join(__dirname, "fixtures", "okta-metadata.xml"));
  const server = http.createServer((req, res) => {
    if (req.url === "/okta/metadata") {
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(xml);
    } else {
      res.writeHead(404);
      res.end("not found");
    }
  });
  server.listen(PEERS.metadataPort, "127.0.0.1");
  return server;
}

function startOpenIdProvider(): ChildProcess {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, "peers", "oidc-provider.mjs"), String(PEERS.oidcPort)],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  return child;
}

/** The pysaml2 test IdP: port 3302 unless SAML_IDP_PORT says otherwise. */
const SAML_IDP_PORT = Number(process.env.SAML_IDP_PORT ?? 3302);
const SAML_IDP_URL = `http://127.0.0.1:${SAML_IDP_PORT}`;

/** Python of the venv that holds peers/requirements.txt (pysaml2, lxml). */
function samlIdpPython(): string {
  return (
    process.env.LATCHKEY_PYTHON ??
    path.join(os.homedir(), ".cache", "latchkey", "venv", "bin", "python")
  );
}

/** Starts the SAML IdP; failure() tells why it is gone, if it is. */
function startSamlIdp(): { child: ChildProcess; failure: () => string | undefined } {
  const child = spawn(
    samlIdpPython(),
    [path.join(__dirname, "peers", "saml-idp.py"), String(SAML_IDP_PORT)],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  let failure: string | undefined;
  child.on("error", (error) => (failure = `could not start: ${error.message}`));
  child.on("exit", (code, signal) => (failure ??= `exited with ${signal ?? code}`));
  return { child, failure: () => failure };
}

function latchkey(bin: string, args: string[], input?: string) {
  execFileSync(bin, args, { input, stdio: ["pipe", "inherit", "inherit"], env: process.env });
}

async function waitForReady(url: string, timeoutMs: number, failure?: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const why = failure?.();
    if (why) throw new Error(`${url}: the peer ${why}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not become ready within ${timeoutMs / 1000}s`);
}
