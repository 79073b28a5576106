// The transparency log: the current signed checkpoint, and any leaf's inclusion proof.

import { code, details, h, loading, replace } from "../dom.js";
import { loadCheckpoint } from "../note.js";
import { renderInclusion, signatureCheckText } from "./proof.js";

function checkpointCard(result) {
  const cp = result.checkpoint;
  const status = h(
    "p",
    {
      class: `verdict ${result.ok ? "verdict-ok" : "verdict-bad"}`,
      role: "status",
      dataset: { verified: String(result.ok), where: result.where },
    },
    signatureCheckText(result),
  );
  return [
    status,
    cp
      ? details([
          ["Origin", cp.origin],
          ["Size", `${cp.size} entr${cp.size === 1 ? "y" : "ies"}`],
          ["Root hash", code(cp.rootHex, { class: "wrap", id: "checkpoint-root" })],
        ])
      : null,
    h("h4", {}, "Signed note"),
    h("pre", { class: "note" }, result.note),
  ];
}

export async function renderLog(section) {
  section.append(h("h2", {}, "Transparency log"));
  const card = h("section", { class: "card", "aria-labelledby": "checkpoint-title" });
  const body = h("div", {}, loading("the checkpoint"));
  const keyInput = h("input", {
    id: "log-key",
    name: "log-key",
    type: "text",
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": "log-key-help",
  });
  const keyForm = h(
    "form",
    { class: "inline-form", novalidate: true },
    h("label", { for: "log-key" }, "Log verifier key"),
    keyInput,
    h(
      "p",
      { id: "log-key-help", class: "hint" },
      "Filled in with the key this server serves. Paste the key your operator published to " +
        "check the log against it rather than against the server's word.",
    ),
    h("button", { type: "submit" }, "Verify the checkpoint"),
  );
  card.append(h("h3", { id: "checkpoint-title" }, "Current checkpoint"), keyForm, body);

  const indexInput = h("input", {
    id: "leaf-index",
    name: "leaf-index",
    type: "number",
    min: "0",
    step: "1",
    inputmode: "numeric",
    required: true,
  });
  const proofArea = h("div", { class: "proof-area" });
  const proofError = h("p", { class: "error", role: "alert", hidden: true });
  const proofForm = h(
    "form",
    { class: "inline-form", novalidate: true },
    h("label", { for: "leaf-index" }, "Leaf index"),
    indexInput,
    h("button", { type: "submit" }, "Check inclusion"),
    proofError,
  );
  const proofCard = h(
    "section",
    { class: "card", "aria-labelledby": "inclusion-title" },
    h("h3", { id: "inclusion-title" }, "Inclusion proof"),
    h(
      "p",
      { class: "hint" },
      "Every accepted event is a leaf. Its timeline entry has a button for its own proof.",
    ),
    proofForm,
    proofArea,
  );
  section.append(card, proofCard);

  let size = 0;
  async function refresh() {
    const result = await loadCheckpoint(keyInput.value.trim() || null);
    if (!keyInput.value) keyInput.value = result.key || "";
    size = result.checkpoint ? result.checkpoint.size : 0;
    indexInput.max = String(Math.max(size - 1, 0));
    replace(body, checkpointCard(result));
  }
  keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(body, loading("the checkpoint"));
    try {
      await refresh();
    } catch (error) {
      replace(body, h("p", { class: "error", role: "alert" }, error.message));
    }
  });
  proofForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = indexInput.value.trim();
    const index = Number(text);
    proofError.hidden = true;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(index) || index >= size) {
      proofError.hidden = false;
      proofError.textContent = size
        ? `Enter a whole number from 0 to ${size - 1}.`
        : "The log is empty: there is nothing to prove yet.";
      indexInput.focus();
      return;
    }
    try {
      await renderInclusion(proofArea, { index, keyText: keyInput.value.trim() || null });
    } catch (error) {
      replace(proofArea, h("p", { class: "error", role: "alert" }, error.message));
    }
  });
  await refresh();
}
