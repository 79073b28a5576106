// V3 keystores both ways: ethers' Wallet.encrypt imported into trustee, and trustee's export
// decrypted by ethers' Wallet.fromEncryptedJson.

import assert from "node:assert/strict";

import { Wallet } from "ethers";

import { check, data, fresh } from "../lib.mjs";

const PASSPHRASE = "correct horse battery staple";

check("keystore: ethers Wallet.encrypt → trustee/import; the same signatures", async () => {
  const wallet = Wallet.createRandom();
  const keystore = await wallet.encrypt(PASSPHRASE); // ethers' defaults: scrypt, N = 2^17
  const name = fresh("ks-in");
  const imported = await data("POST", `trustee/import/${name}`, { keystore, passphrase: PASSPHRASE });
  assert.equal(imported.address, wallet.address);
  const signed = await data("POST", `trustee/trustees/${name}/sign`, { data: "same key" });
  assert.equal(signed.signature, await wallet.signMessage("same key")); // RFC 6979: deterministic
  const wrong = await fetchStatus(`trustee/import/${fresh("ks-bad")}`, { keystore, passphrase: "wrong" });
  assert.equal(wrong, 400);
});

check("keystore: trustee export → ethers Wallet.fromEncryptedJson", async () => {
  const name = fresh("ks-out");
  const created = await data("POST", `trustee/trustees/${name}`, {});
  const { keystore } = await data("POST", `trustee/trustees/${name}/export`, { passphrase: PASSPHRASE });
  const wallet = await Wallet.fromEncryptedJson(JSON.stringify(keystore), PASSPHRASE);
  assert.equal(wallet.address, created.address);
  const signed = await data("POST", `trustee/trustees/${name}/sign`, { data: "same key" });
  assert.equal(signed.signature, await wallet.signMessage("same key"));
});

async function fetchStatus(path, body) {
  const { api } = await import("../lib.mjs");
  return (await api("POST", path, body)).status;
}
