// EIP-191 and EIP-712 both ways with ethers 6, and a Sign-In-with-Ethereum message (siwe 3)
// signed by a trustee.

import assert from "node:assert/strict";

import { hashMessage, hexlify, TypedDataEncoder, verifyMessage, verifyTypedData, Wallet } from "ethers";
import { SiweMessage } from "siwe";

import { check, createTrustee, data } from "../lib.mjs";

const DOMAIN = {
  name: "Ether Mail",
  version: "1",
  chainId: 1,
  verifyingContract: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
};
const TYPES = {
  Person: [
    { name: "name", type: "string" },
    { name: "wallet", type: "address" },
  ],
  Mail: [
    { name: "from", type: "Person" },
    { name: "to", type: "Person" },
    { name: "contents", type: "string" },
    { name: "amount", type: "uint256" },
  ],
};
const MAIL = {
  from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
  to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
  contents: "Hello, Bob!",
  amount: 1000000000000000000n,
};

/** The full typed-data object (types with EIP712Domain, primaryType, domain, message) that
 * trustee's eip712 scheme takes, as ethers builds it for eth_signTypedData_v4. */
const TYPED_DATA = JSON.parse(JSON.stringify(TypedDataEncoder.getPayload(DOMAIN, TYPES, MAIL)));

async function verifyAt(address, body) {
  return data("POST", `trustee/addresses/${address}/verify`, body);
}

check("EIP-191: ethers signMessage → trustee verifies (utf8 and hex bytes)", async () => {
  const wallet = Wallet.createRandom();
  const text = "hello trustee, from ethers ✓";
  const signature = await wallet.signMessage(text);
  const ok = await verifyAt(wallet.address, { data: text, signature });
  assert.deepEqual([ok.verified, ok.recovered], [true, wallet.address]);
  const bytes = new Uint8Array([0, 1, 2, 254, 255]);
  const bytesSignature = await wallet.signMessage(bytes);
  const hex = await verifyAt(wallet.address, { data: hexlify(bytes), encoding: "hex", signature: bytesSignature });
  assert.equal(hex.verified, true);
  const altered = await verifyAt(wallet.address, { data: `${text}!`, signature });
  assert.equal(altered.verified, false);
});

check("EIP-191: trustee signs → ethers verifyMessage recovers its address", async () => {
  const alice = await createTrustee("e191");
  const text = "signed by a trustee";
  const signed = await data("POST", `trustee/trustees/${alice.name}/sign`, { data: text });
  assert.equal(verifyMessage(text, signed.signature), alice.address);
  assert.equal(signed.hash, hashMessage(text));
});

check("EIP-712: ethers signTypedData → trustee verifies", async () => {
  const wallet = Wallet.createRandom();
  const signature = await wallet.signTypedData(DOMAIN, TYPES, MAIL);
  const ok = await verifyAt(wallet.address, { data: TYPED_DATA, scheme: "eip712", signature });
  assert.deepEqual([ok.verified, ok.recovered], [true, wallet.address]);
  const changed = structuredClone(TYPED_DATA);
  changed.message.contents = "Hello, Eve!";
  const refused = await verifyAt(wallet.address, { data: changed, scheme: "eip712", signature });
  assert.equal(refused.verified, false);
});

check("EIP-712: trustee signs → ethers verifyTypedData recovers its address", async () => {
  const alice = await createTrustee("e712");
  const signed = await data("POST", `trustee/trustees/${alice.name}/sign`, { data: TYPED_DATA, scheme: "eip712" });
  assert.equal(signed.hash, TypedDataEncoder.hash(DOMAIN, TYPES, MAIL));
  assert.equal(verifyTypedData(DOMAIN, TYPES, MAIL, signed.signature), alice.address);
});

check("siwe 3: a Sign-In-with-Ethereum message signed by a trustee verifies", async () => {
  const alice = await createTrustee("siwe");
  const message = new SiweMessage({
    domain: "agency.example",
    address: alice.address,
    statement: "Sign in to the rental agency.",
    uri: "https://agency.example/login",
    version: "1",
    chainId: 1,
    nonce: "a1b2c3d4e5f6a7b8",
    issuedAt: new Date().toISOString(),
  });
  const text = message.prepareMessage();
  const signed = await data("POST", `trustee/trustees/${alice.name}/sign`, { data: text });
  const result = await new SiweMessage(text).verify({ signature: signed.signature, domain: "agency.example" });
  assert.equal(result.success, true);
  assert.equal(result.data.address, alice.address);
});
