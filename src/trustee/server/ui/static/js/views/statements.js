// Registered SCITT statements: who issued what, when; and each receipt checked in the page.
//
// The list comes from /v1/scitt/statements (the server's word). "Check receipt" trusts none
// of it: it fetches the transparent statement (/entries/<id>/statement, SCRAPI) and the
// service's keys (/.well-known/scitt-keys), then checks the receipt here (js/scitt.js).

import { ApiError, api } from "../api.js";
import { code, h, loading, replace, timeElement } from "../dom.js";
import { shortHex, toHex } from "../encoding.js";
import { checkTransparentStatement } from "../scitt.js";

const MAX_ANSWER = 4 * 1024 * 1024;

async function fetchBytes(path) {
  let response;
  try {
    response = await fetch(path, {
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      headers: { Accept: "application/cose, application/cbor" },
    });
  } catch {
    throw new ApiError(0, `${path}: the server could not be reached`);
  }
  if (!response.ok) throw new ApiError(response.status, `${path} answered HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > MAX_ANSWER) throw new ApiError(413, `${path}: the answer is too large`);
  return bytes;
}

function check(ok, text) {
  return h(
    "li",
    { class: ok ? "check-ok" : "check-bad" },
    h("span", { "aria-hidden": "true" }, ok ? "✓ " : "✗ "),
    text,
  );
}

/** The verdict on one listed statement: the page's own check of its receipt. */
export async function checkListedReceipt(item) {
  const path = `/entries/${encodeURIComponent(item.entry_id)}`;
  const [transparent, keySet] = await Promise.all([
    fetchBytes(`${path}/statement`),
    fetchBytes("/.well-known/scitt-keys"),
  ]);
  const result = await checkTransparentStatement(transparent, keySet);
  const [treeSize, logIndex] = item.entry_id.split(".").map(Number);
  const receipt = result.receipts[0];
  if (result.ok && (receipt.treeSize !== treeSize || receipt.leafIndex !== logIndex)) {
    return {
      ...result,
      ok: false,
      reason: `the receipt is for leaf ${receipt.leafIndex} at size ${receipt.treeSize}, ` +
        `not entry ${item.entry_id}`,
    };
  }
  return result;
}

function verdictBox(item, result) {
  const ok = result.ok;
  const receipt = result.receipts[0];
  const checks = [];
  if (result.entry) {
    checks.push(
      check(true, `Statement entry: ${result.entry.length} bytes (its unprotected header ` +
        "emptied), leaf hash " + (receipt && receipt.leafHash
        ? shortHex(toHex(receipt.leafHash)) : "–") + "."),
    );
  }
  if (receipt && receipt.root) {
    checks.push(
      check(true, `Inclusion: leaf ${receipt.leafIndex} of ${receipt.treeSize}, ` +
        `${receipt.pathLength} proof hash${receipt.pathLength === 1 ? "" : "es"} to root ` +
        `${shortHex(toHex(receipt.root))}.`),
    );
  }
  if (receipt && receipt.kid && receipt.step >= 3) {
    checks.push(check(receipt.step > 3, `Receipt key: kid ${shortHex(receipt.kid)} is in ` +
      "the service's key set (its RFC 9679 thumbprint recomputed here)."));
  }
  if (ok) checks.push(check(true, "ES256 signature over the root verified (WebCrypto P-256)."));
  else checks.push(check(false, result.reason));
  return h(
    "div",
    { class: "proof", role: "region", "aria-label": `Receipt of entry ${item.entry_id}` },
    h(
      "p",
      {
        class: `verdict ${ok ? "verdict-ok" : "verdict-bad"}`,
        role: "status",
        dataset: { verified: String(ok) },
      },
      h("span", { class: `badge ${ok ? "badge-good" : "badge-bad"}` }, ok ? "GOOD" : "BAD"),
      " ",
      ok
        ? `Receipt verified in this browser: entry ${item.entry_id} is in the log.`
        : `Receipt NOT verified: ${result.reason}.`,
    ),
    h("ul", { class: "checks" }, checks),
  );
}

function statementRow(item, columns) {
  const output = h("td", { colspan: String(columns) });
  const detail = h("tr", { class: "receipt-row", hidden: true }, output);
  const button = h(
    "button",
    {
      type: "button",
      class: "secondary",
      "aria-label": `Check the receipt of entry ${item.entry_id}`,
    },
    "Check receipt",
  );
  button.addEventListener("click", async () => {
    button.disabled = true;
    detail.hidden = false;
    replace(output, h("p", { role: "status" }, `Checking the receipt of ${item.entry_id}…`));
    try {
      replace(output, verdictBox(item, await checkListedReceipt(item)));
    } catch (error) {
      replace(output, h("p", { class: "error", role: "alert" }, error.message || String(error)));
    } finally {
      button.disabled = false;
    }
  });
  const row = h(
    "tr",
    { class: "statement-row", dataset: { entry: item.entry_id } },
    h("th", { scope: "row" }, code(item.entry_id)),
    h("td", { class: "wrap" }, item.issuer ?? "–"),
    h("td", { class: "wrap" }, item.subject ?? "–"),
    h("td", { class: "wrap" }, item.content_type ?? "–"),
    h("td", {}, timeElement(item.registered_time), h("br"), h("span", { class: "pill" },
      item.alg)),
    h("td", {}, button),
  );
  return [row, detail];
}

export async function renderStatements(section) {
  section.append(
    h("h2", {}, "Statements"),
    h(
      "p",
      { class: "hint" },
      "SCITT signed statements registered with this service, newest first. A receipt is " +
        "checked here, in this browser: its inclusion proof from the statement's own bytes, " +
        "and its signature under the key the service publishes.",
    ),
  );
  const status = loading("statements");
  const headings = ["Entry", "Issuer", "Subject", "Content type", "Registered", "Receipt"];
  const body = h("tbody", {});
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "statements" },
      h("caption", { class: "visually-hidden" }, "Registered statements"),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      body,
    ),
  );
  const more = h("button", { type: "button", hidden: true }, "Load more statements");
  section.append(status, table, more);
  let pageToken = null;
  let total = 0;

  async function loadPage() {
    const query = new URLSearchParams({ page_size: "50" });
    if (pageToken) query.set("next_page_token", pageToken);
    const page = await api(`scitt/statements?${query}`);
    for (const item of page.statements || []) body.append(...statementRow(item, headings.length));
    total += (page.statements || []).length;
    pageToken = page.next_page_token;
    more.hidden = !pageToken;
    table.hidden = total === 0;
    replace(status, total ? `${total} statement${total === 1 ? "" : "s"}` :
      "No statements registered yet.");
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      await loadPage();
    } finally {
      more.disabled = false;
    }
  });
  await loadPage();
}
