// Sign-In with Ethereum login (auth/trustee/siwe/*) with the real siwe 3 and ethers 6: a
// message from SiweMessage.prepareMessage(), signed by Wallet.signMessage(), logs in; replays,
// other domains and chains, expired messages, wrong signers and other roles' nonces do not.

import assert from "node:assert/strict";

import { Wallet } from "ethers";
import { SiweMessage } from "siwe";

import { api, check, data, fresh } from "../lib.mjs";

const DOMAIN = "agency.example";

async function wallRole(wallet) {
  const role = fresh("wallets");
  await data("POST", `auth/trustee/role/${role}`, {
    bound_issuers: [wallet.address],
    bound_domains: [DOMAIN],
    bound_uris: [`https://${DOMAIN}/*`],
    bound_chain_ids: [1],
    token_policies: ["renter"],
    token_ttl: "1h",
  });
  return role;
}

async function nonceFor(role) {
  return (await data("POST", "auth/trustee/siwe/nonce", { role }, { token: null })).nonce;
}

function prepare(address, nonce, fields = {}) {
  return new SiweMessage({
    domain: DOMAIN,
    address,
    statement: "Sign in to the rental agency.",
    uri: `https://${DOMAIN}/login`,
    version: "1",
    chainId: 1,
    nonce,
    issuedAt: new Date().toISOString(),
    expirationTime: new Date(Date.now() + 5 * 60_000).toISOString(),
    ...fields,
  }).prepareMessage();
}

async function login(role, message, signature) {
  return api("POST", "auth/trustee/siwe/login", { role, message, signature }, { token: null });
}

function refused(answer, reason) {
  assert.ok(answer.status === 400 || answer.status === 403, JSON.stringify(answer));
  assert.match(answer.json.errors[0], new RegExp(`login refused: ${reason}\\b`));
}

check("siwe 3 + ethers 6: prepareMessage + signMessage log in to auth/trustee/siwe/login", async () => {
  const wallet = Wallet.createRandom();
  const role = await wallRole(wallet);
  const message = prepare(wallet.address, await nonceFor(role));
  const answer = await login(role, message, await wallet.signMessage(message));
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  const auth = answer.json.auth;
  assert.deepEqual(auth.policies, ["default", "renter"]);
  assert.equal(auth.lease_duration, 3600);
  assert.equal(auth.metadata.address, wallet.address);
  assert.equal(auth.metadata.domain, DOMAIN);
  assert.equal(auth.metadata.chain_id, "1");
  const me = await data("GET", "auth/token/lookup-self", undefined, { token: auth.client_token });
  assert.equal(me.meta.address, wallet.address);
  // The same message again is a replay.
  refused(await login(role, message, await wallet.signMessage(message)), "replayed");
});

check("siwe 3 + ethers 6: other domain, other chain, expired, wrong signer, other role's nonce refused", async () => {
  const wallet = Wallet.createRandom();
  const role = await wallRole(wallet);
  const other = await wallRole(wallet);
  const cases = [
    ["domain_mismatch", async () => prepare(wallet.address, await nonceFor(role), { domain: "phishing.example" })],
    ["chain_mismatch", async () => prepare(wallet.address, await nonceFor(role), { chainId: 5 })],
    [
      "expired",
      async () =>
        prepare(wallet.address, await nonceFor(role), {
          issuedAt: new Date(Date.now() - 20 * 60_000).toISOString(),
          expirationTime: new Date(Date.now() - 10 * 60_000).toISOString(),
        }),
    ],
    ["nonce_role_mismatch", async () => prepare(wallet.address, await nonceFor(other))],
  ];
  for (const [reason, make] of cases) {
    const message = await make();
    refused(await login(role, message, await wallet.signMessage(message)), reason);
  }
  // Signed by another wallet: the signature is not the message's address's.
  const message = prepare(wallet.address, await nonceFor(role));
  refused(await login(role, message, await Wallet.createRandom().signMessage(message)), "signer_mismatch");
  // Nothing above spent the nonce: the right signature still logs in.
  assert.equal((await login(role, message, await wallet.signMessage(message))).status, 200);
});
