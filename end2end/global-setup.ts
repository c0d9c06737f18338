import { execFileSync } from "node:child_process";
import { ACCOUNTS, ORG } from "./tests/fixtures";

const baseURL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";

/** Waits for the server, then creates the test organization with the real CLI. */
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
}

function latchkey(bin: string, args: string[], input?: string) {
  execFileSync(bin, args, { input, stdio: ["pipe", "inherit", "inherit"], env: process.env });
}

async function waitForReady(url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
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
