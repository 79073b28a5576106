// An event's inclusion proof, checked in the page and drawn as the path up the tree.
//
// 1. fetch the checkpoint and verify its signature (browser Ed25519, else the server);
// 2. fetch the leaf's exact bytes, hash them (RFC 9162: SHA-256(0x00 ‖ entry)) and check the
//    entry is the event we expect;
// 3. fetch the proof for the checkpoint's size and walk it to a root;
// 4. compare that root with the signed checkpoint's root.

import { api } from "../api.js";
import { fromBase64, fromHex, fromUtf8, shortHex, toHex } from "../encoding.js";
import { h, replace } from "../dom.js";
import { leafHash, walkInclusion } from "../merkle.js";
import { loadCheckpoint } from "../note.js";

export function signatureCheckText(result) {
  if (!result.ok) return `Checkpoint signature NOT verified: ${result.error}`;
  return result.where === "browser"
    ? "Checkpoint signature verified in this browser (WebCrypto Ed25519)."
    : "Checkpoint signature verified by the server: " +
        `${result.reasonForServer}, so this page could not check it itself.`;
}

const ARROW = "▲ SHA-256(0x01 ‖ left ‖ right)";

function hashBox(label, hex, kind) {
  return h(
    "div",
    { class: `node node-${kind}`, title: `${label}: ${hex}` },
    h("span", { class: "node-label" }, label),
    h("code", { class: "node-hash", "aria-label": `${label} ${hex}` }, shortHex(hex)),
  );
}

function drawPath(index, leafHex, steps, rootHex, rootMatches) {
  const rows = [];
  rows.push(
    h(
      "li",
      { class: "level level-root" },
      h("span", { class: "level-name" }, "root"),
      h(
        "div",
        { class: "pair" },
        hashBox(rootMatches ? "root = signed root ✓" : "computed root ✗", rootHex,
          rootMatches ? "root" : "wrong"),
      ),
    ),
  );
  for (let k = steps.length - 1; k >= 0; k -= 1) {
    const step = steps[k];
    const pathLabel = k === 0 ? `leaf ${index}` : `path node (height ${steps[k - 1].level})`;
    const path = hashBox(pathLabel, toHex(step.node), k === 0 ? "leaf" : "path");
    const sibling = hashBox(`proof hash ${step.position}`, toHex(step.sibling), "sibling");
    rows.push(
      h(
        "li",
        { class: "level" },
        h(
          "span",
          { class: "level-name" },
          `height ${step.level - 1}`,
          step.promoted
            ? ` (the path node rose ${step.promoted} level${step.promoted > 1 ? "s" : ""}: ` +
                "no sibling below)"
            : "",
        ),
        h("span", { class: "arrow", "aria-hidden": "true" }, ARROW),
        h("div", { class: "pair" }, step.siblingOnLeft ? [sibling, path] : [path, sibling]),
      ),
    );
  }
  if (!steps.length) {
    rows.push(
      h(
        "li",
        { class: "level" },
        h("span", { class: "level-name" }, "leaf"),
        h("div", { class: "pair" }, hashBox(`leaf ${index}`, leafHex, "leaf")),
      ),
    );
  }
  return h("ol", { class: "tree-path", "aria-label": "The path from the root down to the leaf" },
    rows);
}

function check(ok, text) {
  return h("li", { class: ok ? "check-ok" : "check-bad" }, h("span", { "aria-hidden": "true" },
    ok ? "✓ " : "✗ "), text);
}

/** Render the proof of leaf `index` into `area`; `identity` is the event we expect there. */
export async function renderInclusion(area, { index, identity = null, keyText = null }) {
  replace(area, h("p", { role: "status" }, `Checking the inclusion of leaf ${index}…`));
  const result = await loadCheckpoint(keyText);
  const checks = [check(result.ok, signatureCheckText(result))];
  const box = h("div", {
    class: "proof",
    role: "region",
    "aria-label": `Inclusion proof of leaf ${index}`,
  });
  const verdict = h("p", { class: "verdict", role: "status" });
  box.append(verdict, h("ul", { class: "checks" }, checks));
  const finish = (ok, text, drawing = null) => {
    verdict.className = `verdict ${ok ? "verdict-ok" : "verdict-bad"}`;
    verdict.dataset.verified = String(ok);
    verdict.textContent = text;
    if (drawing) box.append(drawing);
    replace(area, box);
  };
  if (!result.ok) return finish(false, "Not verified: the checkpoint could not be trusted.");
  const { size, root, rootHex } = result.checkpoint;
  if (index >= size) {
    return finish(false, `Not verified: leaf ${index} is not in the checkpoint (size ${size}).`);
  }

  const [entries, proof] = await Promise.all([
    api(`ledger/log/entries?start=${index}&end=${index + 1}`),
    api(`ledger/log/proof/inclusion?index=${index}&size=${size}`),
  ]);
  let entry;
  let hashes;
  try {
    entry = fromBase64(entries.entries[0]);
    hashes = proof.hashes.map(fromHex);
  } catch (error) {
    return finish(false, `Not verified: the server's answer is malformed (${error.message}).`);
  }
  const leaf = await leafHash(entry);
  let recorded = null;
  try {
    recorded = JSON.parse(fromUtf8(entry));
  } catch {
    recorded = null;
  }
  const sameEvent =
    identity === null || (recorded !== null && recorded.identity === identity);
  checks.push(
    check(
      sameEvent,
      identity === null
        ? `Leaf ${index}: ${entry.length} bytes, leaf hash ${shortHex(toHex(leaf))}.`
        : sameEvent
          ? `Leaf ${index} is this event (${entry.length} bytes of canonical JSON), leaf hash ` +
            `${shortHex(toHex(leaf))}.`
          : `Leaf ${index} holds a different record than this event.`,
    ),
  );
  const walk = await walkInclusion(index, size, leaf, hashes, root);
  checks.push(
    check(
      walk.ok,
      walk.ok
        ? `Root computed from ${hashes.length} proof hash${hashes.length === 1 ? "" : "es"} ` +
          `equals the signed checkpoint's root ${shortHex(rootHex)}.`
        : `Proof does not verify: ${walk.error}.`,
    ),
  );
  box.querySelector(".checks").replaceChildren(...checks);
  const drawing =
    walk.root !== null
      ? drawPath(index, toHex(leaf), walk.steps, toHex(walk.root), walk.ok)
      : null;
  const ok = walk.ok && sameEvent;
  const where = result.where === "browser" ? "in this browser" : "in this page";
  return finish(
    ok,
    ok
      ? `Verified ${where}: leaf ${index} is in the log of ${size} entries under its signed ` +
          "checkpoint."
      : `NOT verified: leaf ${index} could not be shown to be in the signed log.`,
    drawing,
  );
}
