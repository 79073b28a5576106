// Runs every check against the live server and prints one JSON object per line:
// {"check": name, "ok": true|false, "ms": elapsed, "error": message?}. Exit status 1 when any
// check fails. `node run.mjs --list` prints the names only; `node run.mjs NAME...` runs those.

import { CHECKS } from "./lib.mjs";
import "./checks/tokens.mjs";
import "./checks/signatures.mjs";
import "./checks/vault.mjs";
import "./checks/keystore.mjs";
import "./checks/siwe_login.mjs";

const args = process.argv.slice(2);
if (args[0] === "--list") {
  for (const { name } of CHECKS) console.log(name);
  process.exit(0);
}
const names = new Set(CHECKS.map((c) => c.name));
if (names.size !== CHECKS.length) throw new Error("two checks share a name");
const unknown = args.filter((name) => !names.has(name));
if (unknown.length) throw new Error(`no such check: ${unknown.join(", ")}`);
const selected = args.length ? CHECKS.filter((c) => args.includes(c.name)) : CHECKS;

let failed = 0;
for (const { name, fn } of selected) {
  const started = performance.now();
  const line = { check: name, ok: true };
  try {
    await fn();
  } catch (error) {
    failed += 1;
    line.ok = false;
    line.error = error?.stack ?? String(error);
  }
  line.ms = Math.round(performance.now() - started);
  console.log(JSON.stringify(line));
}
process.exit(failed ? 1 : 0);
