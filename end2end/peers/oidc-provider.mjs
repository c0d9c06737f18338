// A real OpenID Provider for the browser tests: the OpenID-certified npm package
// `oidc-provider`, on loopback, with a static confidential client and PKCE required.
// Usage: node peers/oidc-provider.mjs <port>
import Provider from "oidc-provider";

const port = Number(process.argv[2] ?? 3300);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "latchkey-e2e",
      client_secret: "latchkey-e2e-secret-value",
      redirect_uris: [`${issuer}/unused-callback`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: { email: ["email", "email_verified"], profile: ["given_name", "family_name", "name"] },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      email: id.includes("@") ? id : `${id}@initech.test`,
      email_verified: true,
      given_name: "Peter",
      family_name: "Gibbons",
    }),
  }),
});

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening at ${issuer}`);
});
