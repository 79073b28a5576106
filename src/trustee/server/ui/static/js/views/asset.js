// One asset: attributes, device key history and the event timeline with a verdict per event.

import { api, segment } from "../api.js";
import { code, details, h, loading, replace, timeElement } from "../dom.js";
import { shortHex } from "../encoding.js";
import { attributeList, displayName } from "./assets.js";
import { renderInclusion } from "./proof.js";

const STATUS_CLASS = { GOOD: "good", BAD: "bad", UNSIGNED: "unsigned", NO_KEY: "nokey" };

const REASONS = {
  ok: "The device's signature over the evidence verifies with the key in force when the " +
    "event was accepted.",
  signature_wrong_length: "The signature has the wrong length for the device key: it was " +
    "truncated or padded on its way here.",
  signature_mismatch: "The signature does not match this evidence under the device key: " +
    "the evidence was altered, or another key signed it.",
  recovery_id_mismatch: "The signature's r and s verify under the device key, but its " +
    "recovery byte v names another key: a 65-byte ES256K signature must carry the v that " +
    "recovers the device key.",
  signature_not_base64url: "The signature is not base64url text (with its exact \"=\" padding or none).",
  evidence_not_text: "The evidence is not text, so there are no bytes to check.",
  evidence_missing: "There is a signature but no arc_evidence to check it against.",
  entry_not_in_log: "The stored event differs from its leaf in the transparency log.",
  device_key_unusable: "The asset's device key in force for this event cannot be used.",
};

export function explainVerdict(verdict) {
  return REASONS[verdict.reason] || verdict.reason;
}

export function badge(verdict) {
  const status = verdict ? verdict.status : "UNKNOWN";
  const reason = verdict ? verdict.reason : "no verdict from the server";
  return h(
    "span",
    {
      class: `badge badge-${STATUS_CLASS[status] || "unknown"}`,
      title: `${status}: ${reason}`,
      dataset: { status },
    },
    h("span", { class: "visually-hidden" }, "Verdict: "),
    status,
  );
}

function who(event) {
  const accepted = event.principal_accepted || {};
  const declared = event.principal_declared;
  const parts = [
    "Accepted from ",
    h("strong", {}, accepted.display_name || "unknown"),
    accepted.accessor ? [" (token accessor ", code(accepted.accessor), ")"] : null,
  ];
  if (declared && Object.keys(declared).length) {
    const text = Object.entries(declared)
      .map(([k, v]) => `${k} ${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(", ");
    parts.push("; declared: ", text);
  }
  return parts;
}

function what(event) {
  const attributes = event.event_attributes || {};
  const label = attributes.arc_description || attributes.arc_display_name;
  return [
    h("strong", {}, `${event.operation} · ${event.behaviour}`),
    label ? [" — ", String(label)] : null,
  ];
}

function eventItem(event, verdict) {
  const attributes = event.event_attributes || {};
  const others = Object.fromEntries(
    Object.entries(attributes).filter(
      ([k]) => !["arc_evidence", "arc_evidence_signature", "arc_description"].includes(k),
    ),
  );
  const proofArea = h("div", { class: "proof-area" });
  const proofButton = h(
    "button",
    { type: "button", class: "secondary" },
    `Check inclusion in the log (leaf ${event.log_index})`,
  );
  proofButton.addEventListener("click", async () => {
    proofButton.disabled = true;
    try {
      await renderInclusion(proofArea, { index: event.log_index, identity: event.identity });
    } finally {
      proofButton.disabled = false;
    }
  });
  const status = verdict ? verdict.status : "UNKNOWN";
  return h(
    "li",
    { class: `event event-${STATUS_CLASS[status] || "unknown"}`, dataset: { status } },
    h(
      "div",
      { class: "event-head" },
      badge(verdict),
      h("span", { class: "event-what" }, what(event)),
      h("span", { class: "event-when" }, timeElement(event.timestamp_accepted)),
    ),
    h("p", { class: "event-who" }, who(event)),
    h(
      "details",
      { class: "event-details" },
      h("summary", {}, verdict && verdict.status !== "GOOD" ? "Why, and details" : "Details"),
      details([
        ["Verdict", [h("strong", {}, status), " — ", verdict ? explainVerdict(verdict) : ""]],
        ["Reason code", code(verdict ? verdict.reason : "–")],
        [
          "Evidence",
          "arc_evidence" in attributes ? h("pre", {}, String(attributes.arc_evidence)) : "none",
        ],
        [
          "Device signature",
          "arc_evidence_signature" in attributes
            ? code(String(attributes.arc_evidence_signature), { class: "wrap" })
            : "none",
        ],
        Object.keys(others).length
          ? ["Other attributes", h("pre", {}, JSON.stringify(others, null, 2))]
          : null,
        ["Accepted", timeElement(event.timestamp_accepted)],
        event.timestamp_declared ? ["Declared time", String(event.timestamp_declared)] : null,
        ["Log index", String(event.log_index)],
        ["Identity", code(event.identity, { class: "wrap" })],
      ]),
      proofButton,
      proofArea,
    ),
  );
}

function keyText(key) {
  return typeof key === "string" ? key : JSON.stringify(key);
}

function keyHistory(asset) {
  const history = asset.key_history || [];
  if (!history.length) return h("p", { class: "muted" }, "No device key: events cannot verify.");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, "Key history"),
      h(
        "thead",
        {},
        h("tr", {}, ["#", "Algorithm", "Public key", "From log index", "Since"].map((t) =>
          h("th", { scope: "col" }, t))),
      ),
      h(
        "tbody",
        {},
        history.map((k) =>
          h(
            "tr",
            {},
            h("td", {}, String(k.seq)),
            h("td", {}, k.alg),
            h("td", {}, code(shortHex(keyText(k.public_key)), { title: keyText(k.public_key) })),
            h("td", {}, String(k.valid_from_index)),
            h("td", {}, timeElement(k.valid_from)),
          )),
      ),
    ),
  );
}

export async function renderAsset(section, uuid) {
  section.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/assets" }, "← All assets")),
  );
  const asset = await api(`ledger/assets/${segment(uuid)}`);
  const counts = h("p", { class: "counts", role: "status" }, "Checking signatures…");
  const timeline = h("ol", { class: "timeline", "aria-label": "Events, oldest first" });
  section.append(
    h("h2", {}, displayName(asset)),
    h("p", { class: "meta mono" }, asset.identity),
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "card" }, h("h3", {}, "Attributes"), attributeList(asset.attributes)),
      h(
        "section",
        { class: "card" },
        h("h3", {}, "Device key"),
        details([
          ["Algorithm", h("span", { class: "pill" }, asset.device_key?.alg ?? "none")],
          asset.device_key
            ? ["Public key", code(keyText(asset.device_key.public_key), { class: "wrap" })]
            : null,
          ["Signature required", asset.require_signature ? "yes" : "no"],
          ["Created", timeElement(asset.created_time)],
        ]),
        keyHistory(asset),
      ),
    ),
    h("h3", { id: "events-title" }, "Events"),
    counts,
    timeline,
  );
  timeline.setAttribute("aria-labelledby", "events-title");
  timeline.removeAttribute("aria-label");
  const status = loading("events");
  section.append(status);

  const events = [];
  let pageToken = null;
  do {
    const query = new URLSearchParams({ page_size: "100" });
    if (pageToken) query.set("next_page_token", pageToken);
    const page = await api(`ledger/assets/${segment(uuid)}/events?${query}`);
    events.push(...(page.events || []));
    pageToken = page.next_page_token;
  } while (pageToken && events.length < 1000);
  const verdicts = await api(`ledger/assets/${segment(uuid)}/verify`);
  const byIdentity = new Map((verdicts.events || []).map((v) => [v.identity, v]));
  for (const event of events) timeline.append(eventItem(event, byIdentity.get(event.identity)));
  status.remove();
  const c = verdicts.counts || {};
  replace(
    counts,
    events.length
      ? `${events.length} event${events.length === 1 ? "" : "s"}: ${c.GOOD || 0} GOOD, ` +
          `${c.BAD || 0} BAD, ${c.UNSIGNED || 0} UNSIGNED` +
          (c.NO_KEY ? `, ${c.NO_KEY} NO_KEY` : "") +
          (pageToken ? " (the first 1000 are shown)" : "")
      : "No events yet.",
  );
}
