// Tokens both ways: trustee's ES256K JWTs verified by did-jwt and jose 5, and tokens made by
// did-jwt (ES256K and ES256K-R) and jose 5 verified by trustee's trustee/verify.

import assert from "node:assert/strict";

import { createJWT, decodeJWT, ES256KSigner, verifyJWS, verifyJWT } from "did-jwt";
import { Resolver } from "did-resolver";
import { getBytes, SigningKey, Wallet } from "ethers";
import { base64url, createRemoteJWKSet, importJWK, jwtVerify, SignJWT } from "jose";

import { ADDR, check, createTrustee, data, verifyToken } from "../lib.mjs";

const AUDIENCE = "js-peers";

/** did:ethr's DID document for an address, as ethr-did-resolver answers it for an identity
 * with no registry changes: one recovery method bound to the address. Offline: no RPC. */
function ethrDocument(did, address, chainId) {
  const controller = `${did}#controller`;
  return {
    "@context": [
      "https://www.w3.org/ns/did/v1",
      "https://w3id.org/security/suites/secp256k1recovery-2020/v2",
    ],
    id: did,
    verificationMethod: [
      {
        id: controller,
        type: "EcdsaSecp256k1RecoveryMethod2020",
        controller: did,
        blockchainAccountId: `eip155:${chainId}:${address}`,
      },
    ],
    authentication: [controller],
    assertionMethod: [controller],
  };
}

const CHAINS = { mainnet: 1, sepolia: 11155111 };

export const offlineEthrResolver = new Resolver({
  ethr: async (did, parsed) => {
    const match = /^(?:([a-z0-9]+):)?(0x[0-9a-fA-F]{40})$/.exec(parsed.id);
    const chainId = match ? CHAINS[match[1] ?? "mainnet"] : undefined;
    if (!match || chainId === undefined) {
      return { didDocument: null, didDocumentMetadata: {}, didResolutionMetadata: { error: "notFound" } };
    }
    return {
      didDocument: ethrDocument(did, match[2], chainId),
      didDocumentMetadata: {},
      didResolutionMetadata: { contentType: "application/did+ld+json" },
    };
  },
});

async function claim(name, body) {
  return data("POST", `trustee/trustees/${name}/claim`, { audience: AUDIENCE, ...body });
}

function recoveryMethod(address) {
  return {
    id: `did:ethr:${address}#controller`,
    type: "EcdsaSecp256k1RecoveryMethod2020",
    controller: `did:ethr:${address}`,
    blockchainAccountId: `eip155:1:${address}`,
  };
}

check("did-jwt verifyJWT: a trustee token with issuer_format did:ethr", async () => {
  const alice = await createTrustee("djwt");
  const issued = await claim(alice.name, { issuer_format: "did:ethr", claims: { usage: ["x"] } });
  assert.equal(issued.claims.iss, `did:ethr:${alice.address}`);
  const verified = await verifyJWT(issued.jwt, { resolver: offlineEthrResolver, audience: AUDIENCE });
  assert.equal(verified.issuer, `did:ethr:${alice.address}`);
  assert.deepEqual(verified.payload.usage, ["x"]);
  assert.equal(verified.signer.blockchainAccountId, `eip155:1:${alice.address}`);
  // and trustee itself verifies the same token by address
  const verdict = await verifyToken(issued.jwt, { audience: AUDIENCE, trusted: [alice.address] });
  assert.equal(verdict.valid, true);
  assert.equal(verdict.address, alice.address);
});

check("did-jwt verifyJWT: refuses a did:ethr token signed by another trustee", async () => {
  const alice = await createTrustee("djwt-a");
  const mallory = await createTrustee("djwt-m");
  const issued = await claim(mallory.name, { issuer_format: "did:ethr" });
  const [header, , signature] = issued.jwt.split(".");
  const forged = { ...issued.claims, iss: `did:ethr:${alice.address}` };
  const token = `${header}.${base64url.encode(JSON.stringify(forged))}.${signature}`;
  await assert.rejects(
    verifyJWT(token, { resolver: offlineEthrResolver, audience: AUDIENCE }),
    /invalid_signature/,
  );
  const verdict = await verifyToken(token, { audience: AUDIENCE });
  assert.equal(verdict.valid, false);
});

check("did-jwt verifyJWS and didAuthenticator: a trustee token with a bare-address iss", async () => {
  const alice = await createTrustee("djws");
  const issued = await claim(alice.name, {});
  assert.equal(issued.claims.iss, alice.address);
  const signer = verifyJWS(issued.jwt, [recoveryMethod(alice.address)]);
  assert.equal(signer.blockchainAccountId, `eip155:1:${alice.address}`);
  const didDocument = ethrDocument(`did:ethr:${alice.address}`, alice.address, 1);
  const verified = await verifyJWT(issued.jwt, {
    audience: AUDIENCE,
    resolver: offlineEthrResolver, // did-jwt 8 wants one even when given the authenticator
    didAuthenticator: {
      authenticators: didDocument.verificationMethod,
      issuer: didDocument.id, // must parse as a DID; the bare-address iss is not read
      didResolutionResult: { didDocument, didDocumentMetadata: {}, didResolutionMetadata: {} },
    },
  });
  assert.equal(verified.payload.iss, alice.address);
  // without the authenticator, verifyJWT cannot resolve a bare address: what did:ethr is for
  await assert.rejects(verifyJWT(issued.jwt, { resolver: offlineEthrResolver, audience: AUDIENCE }));
});

check("jose 5 jwtVerify: trustee tokens with the remote JWK set, either iss form", async () => {
  const alice = await createTrustee("jose");
  const keys = createRemoteJWKSet(new URL(`${ADDR}/v1/trustee/jwks`));
  for (const format of ["address", "did:ethr"]) {
    const issued = await claim(alice.name, { issuer_format: format, claims: { n: 1 } });
    const { payload, protectedHeader } = await jwtVerify(issued.jwt, keys, {
      algorithms: ["ES256K"],
      audience: AUDIENCE,
      issuer: issued.claims.iss,
    });
    assert.equal(protectedHeader.kid, alice.address);
    assert.equal(payload.n, 1);
  }
  const wellKnown = createRemoteJWKSet(new URL(`${ADDR}/.well-known/jwks.json`));
  const issued = await claim(alice.name, {});
  await jwtVerify(issued.jwt, wellKnown, { algorithms: ["ES256K"], audience: AUDIENCE });
});

check("jose 5 jwtVerify: the JWK of trustee/addresses/:address; a wrong key refuses", async () => {
  const alice = await createTrustee("jose-jwk");
  const bob = await createTrustee("jose-jwk-b");
  const jwkOf = async (who) => (await data("GET", `trustee/addresses/${who.address}`)).jwk;
  const issued = await claim(alice.name, {});
  const key = await importJWK(await jwkOf(alice), "ES256K");
  const { payload } = await jwtVerify(issued.jwt, key, { algorithms: ["ES256K"], audience: AUDIENCE });
  assert.equal(payload.iss, alice.address);
  const wrong = await importJWK(await jwkOf(bob), "ES256K");
  await assert.rejects(jwtVerify(issued.jwt, wrong, { algorithms: ["ES256K"] }), /signature/);
});

for (const recoverable of [false, true]) {
  const alg = recoverable ? "ES256K-R" : "ES256K";
  check(`did-jwt createJWT ${alg} → trustee/verify`, async () => {
    const wallet = Wallet.createRandom();
    const did = `did:ethr:${wallet.address}`;
    const jwt = await createJWT(
      { aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600, role: "peer" },
      { issuer: did, signer: ES256KSigner(getBytes(wallet.privateKey), recoverable), alg },
    );
    assert.equal(decodeJWT(jwt).header.alg, alg);
    // did-jwt verifies its own token with the same offline resolver
    await verifyJWT(jwt, { resolver: offlineEthrResolver, audience: AUDIENCE });
    const verdict = await verifyToken(jwt, { audience: AUDIENCE, trusted: [wallet.address] });
    assert.deepEqual(
      [verdict.valid, verdict.address, verdict.algorithm, verdict.trusted, verdict.claims.role],
      [true, wallet.address, alg, true, "peer"],
    );
    // signed by one key, naming another: refused
    const other = Wallet.createRandom();
    const lying = await createJWT(
      { aud: AUDIENCE },
      { issuer: `did:ethr:${other.address}`, signer: ES256KSigner(getBytes(wallet.privateKey), recoverable), alg },
    );
    const refused = await verifyToken(lying, { audience: AUDIENCE });
    assert.equal(refused.valid, false);
    assert.match(refused.reason, /bad_signature|issuer_mismatch/);
  });
}

check("jose 5 SignJWT ES256K (bare-address iss, kid) → trustee/verify", async () => {
  const wallet = Wallet.createRandom();
  const point = getBytes(new SigningKey(wallet.privateKey).publicKey); // 0x04 ‖ x ‖ y
  const jwk = {
    kty: "EC",
    crv: "secp256k1",
    x: base64url.encode(point.slice(1, 33)),
    y: base64url.encode(point.slice(33)),
    d: base64url.encode(getBytes(wallet.privateKey)),
  };
  const key = await importJWK(jwk, "ES256K");
  const jwt = await new SignJWT({ scope: "read" })
    .setProtectedHeader({ alg: "ES256K", kid: wallet.address })
    .setIssuer(wallet.address)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
  const verdict = await verifyToken(jwt, { audience: AUDIENCE, trusted: [wallet.address] });
  assert.equal(verdict.valid, true, JSON.stringify(verdict));
  assert.equal(verdict.address, wallet.address);
  assert.equal(verdict.claims.scope, "read");
  const wrongAudience = await verifyToken(jwt, { audience: "someone-else" });
  assert.equal(wrongAudience.reason, "audience_mismatch");
});
