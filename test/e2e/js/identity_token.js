// Gets a token from the openbatch dev issuer with the official
// @azure/identity ClientSecretCredential (no change to the library, the CA
// trusted through NODE_EXTRA_CA_CERTS) and lists pools with it. Prints
// {status, pools} on stdout for the Go test to assert.
//
// Configuration (environment): OB_ENDPOINT (https://127.0.0.1:PORT),
// OB_TENANT, OB_CLIENT, OB_SECRET.
"use strict";

const { ClientSecretCredential } = require("@azure/identity");

async function main() {
  const endpoint = process.env.OB_ENDPOINT;
  const cred = new ClientSecretCredential(process.env.OB_TENANT, process.env.OB_CLIENT, process.env.OB_SECRET,
    { authorityHost: endpoint + "/", disableInstanceDiscovery: true });
  const token = await cred.getToken("https://batch.core.windows.net//.default");
  const resp = await fetch(endpoint + "/pools?api-version=2024-07-01.20.0", { headers: { Authorization: "Bearer " + token.token } });
  const body = await resp.json();
  console.log(JSON.stringify({ status: resp.status, pools: (body.value || []).length }));
}

main().catch((e) => {
  console.error(String(e && e.message ? e.message : e));
  process.exit(1);
});
