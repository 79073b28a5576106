// The assets list: display name, attributes and the device key's algorithm.

import { api, segment } from "../api.js";
import { details, h, loading, replace, timeElement } from "../dom.js";

export function displayName(asset) {
  const attributes = asset.attributes || {};
  return String(attributes.arc_display_name || attributes.name || asset.uuid);
}

export function attributeList(attributes) {
  const entries = Object.entries(attributes || {});
  if (!entries.length) return h("p", { class: "muted" }, "No attributes.");
  return details(
    entries.map(([name, value]) => [
      name,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
    "facts attributes",
  );
}

export function keyAlgorithm(asset) {
  return asset.device_key ? asset.device_key.alg : "none";
}

function assetCard(asset) {
  const name = displayName(asset);
  return h(
    "li",
    { class: "card asset-card" },
    h(
      "h3",
      {},
      h("a", { href: `#/assets/${encodeURIComponent(asset.uuid)}` }, name),
    ),
    h(
      "p",
      { class: "meta" },
      "Device key: ",
      h("span", { class: "pill" }, keyAlgorithm(asset)),
      asset.require_signature ? h("span", { class: "pill" }, "signature required") : null,
      " · created ",
      timeElement(asset.created_time),
    ),
    attributeList(asset.attributes),
    h("p", { class: "meta mono" }, asset.identity),
  );
}

export async function renderAssets(section) {
  section.append(h("h2", {}, "Assets"));
  const status = loading("assets");
  const list = h("ul", { class: "cards", "aria-label": "Assets" });
  section.append(status, list);
  let pageToken = null;
  let total = 0;
  const more = h("button", { type: "button", hidden: true }, "Load more assets");

  async function loadPage() {
    const query = new URLSearchParams({ page_size: "50" });
    if (pageToken) query.set("next_page_token", pageToken);
    const page = await api(`ledger/assets?${query}`);
    const assets = await Promise.all(
      (page.keys || []).map((uuid) => api(`ledger/assets/${segment(uuid)}`)),
    );
    for (const asset of assets) list.append(assetCard(asset));
    total += assets.length;
    pageToken = page.next_page_token;
    more.hidden = !pageToken;
    replace(status, total ? `${total} asset${total === 1 ? "" : "s"}` : "No assets yet.");
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      await loadPage();
    } finally {
      more.disabled = false;
    }
  });
  section.append(more);
  await loadPage();
}
