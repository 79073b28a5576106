// node-vault 0.12, a Vault client other than hvac: generic read/write/list/delete, Vault's
// older policy API (sys/policy), token creation and lookup-self.

import assert from "node:assert/strict";

import nodeVault from "node-vault";

import { ADDR, check, fresh, TOKEN } from "../lib.mjs";

function client(token = TOKEN, options = {}) {
  return nodeVault({ apiVersion: "v1", endpoint: ADDR, token, ...options });
}

async function statusOf(promise) {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error?.response?.statusCode === undefined) throw error;
    return error.response.statusCode;
  }
}

check("node-vault: write, read, list (LIST and ?list=1), claim, delete", async () => {
  const vault = client();
  const name = fresh("nv");
  const created = await vault.write(`trustee/trustees/${name}`, { metadata: { team: "js" } });
  const address = created.data.address;
  const read = await vault.read(`trustee/trustees/${name}`);
  assert.deepEqual([read.data.address, read.data.metadata], [address, { team: "js" }]);
  assert.ok((await vault.list("trustee/trustees")).data.keys.includes(name));
  const plain = client(TOKEN, { noCustomHTTPVerbs: true });
  assert.ok((await plain.list("trustee/trustees")).data.keys.includes(name));
  const claimed = await vault.write(`trustee/trustees/${name}/claim`, { audience: "nv" });
  assert.equal(claimed.data.claims.iss, address);
  await vault.delete(`trustee/trustees/${name}`);
  assert.equal(await statusOf(vault.read(`trustee/trustees/${name}`)), 404);
});

check("node-vault: addPolicy, getPolicy, policies, removePolicy (sys/policy)", async () => {
  const vault = client();
  const name = fresh("nv-policy");
  const rules = `path "trustee/trustees/${name}-only" {\n  capabilities = ["read"]\n}\n`;
  await vault.addPolicy({ name, rules });
  const read = await vault.getPolicy({ name });
  assert.equal(read.data?.rules ?? read.rules, rules);
  assert.equal(read.rules, rules); // Vault's older sys/ shape: the fields at the top too
  const listed = await vault.policies();
  assert.ok(listed.policies.includes(name) && listed.data.keys.includes(name));
  // the same policy through the newer API
  const acl = await vault.read(`sys/policies/acl/${name}`);
  assert.equal(acl.data.policy, rules);
  await vault.removePolicy({ name });
  assert.equal(await statusOf(vault.getPolicy({ name })), 404);
  assert.ok(!(await vault.policies()).policies.includes(name));
});

check("node-vault: a token with a policy from addPolicy gets exactly that", async () => {
  const vault = client();
  const name = fresh("nv-reader");
  await vault.write(`trustee/trustees/${name}`, {});
  await vault.addPolicy({
    name,
    rules: JSON.stringify({ path: { [`trustee/trustees/${name}`]: { capabilities: ["read"] } } }),
  });
  // node-vault's tokenCreate switches the client to the new token: make it on its own client
  const created = await client().tokenCreate({ policies: [name], ttl: "10m", display_name: "nv" });
  const limited = client(created.auth.client_token);
  assert.equal((await limited.read(`trustee/trustees/${name}`)).data.name, name);
  assert.equal(await statusOf(limited.list("trustee/trustees")), 403);
  assert.equal(await statusOf(limited.write(`trustee/trustees/${name}/claim`, {})), 403);
  assert.equal(await statusOf(limited.addPolicy({ name: `${name}-x`, rules: "{}" })), 403);
  const self = await limited.tokenLookupSelf();
  assert.equal(self.data.id, created.auth.client_token);
  assert.equal(self.data.accessor, created.auth.accessor);
  assert.deepEqual(self.data.policies, [name, "default"].sort());
  assert.equal(self.data.path, "auth/token/create");
  assert.equal(self.data.display_name, "nv");
  assert.equal(self.data.orphan, false);
  assert.equal(self.data.creation_ttl, 600);
  assert.ok(self.data.ttl > 590 && self.data.ttl <= 600);
  assert.ok(!Number.isNaN(Date.parse(self.data.expire_time)));
  await vault.removePolicy({ name });
});

check("node-vault: tokenLookupSelf on the root token", async () => {
  const self = await client().tokenLookupSelf();
  assert.equal(self.data.id, TOKEN);
  assert.deepEqual(self.data.policies, ["root"]);
  assert.equal(self.data.path, "auth/token/root");
  assert.equal(self.data.expire_time, null);
  assert.equal(self.data.ttl, 0);
  assert.equal(self.data.num_uses, 0);
  assert.equal(self.data.type, "service");
});
