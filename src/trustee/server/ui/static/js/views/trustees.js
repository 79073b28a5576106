// Trustees and their addresses, and a form to claim a token from one of them.

import { ApiError, api, segment } from "../api.js";
import { code, copyButton, h, loading, replace, timeElement } from "../dom.js";
import { checkLater } from "./token.js";

function trusteeRow(info) {
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, info.name),
    h(
      "td",
      {},
      h(
        "span",
        { class: "address" },
        code(info.address, { class: "wrap" }),
        copyButton(info.address, `Copy the address of ${info.name}`),
      ),
    ),
    h("td", {}, timeElement(info.created_time)),
  );
}

function textInput(id, name) {
  return h("input", { id, name, type: "text", autocomplete: "off", spellcheck: "false" });
}

function claimForm(names) {
  const select = h(
    "select",
    { id: "claim-trustee", name: "trustee", required: true },
    names.map((name) => h("option", { value: name }, name)),
  );
  const audience = textInput("claim-audience", "audience");
  const subject = textInput("claim-subject", "subject");
  const ttl = h("input", {
    id: "claim-ttl",
    name: "ttl",
    type: "text",
    value: "1h",
    autocomplete: "off",
    "aria-describedby": "ttl-help",
  });
  const claims = h("textarea", {
    id: "claim-claims",
    name: "claims",
    rows: "3",
    spellcheck: "false",
    placeholder: '{"usage": ["knight_rider"]}',
    "aria-describedby": "claims-help",
  });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const output = h("div", { class: "claim-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Claim a token");
  const form = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "claim-title" },
    h("h3", { id: "claim-title" }, "Claim a token"),
    h(
      "p",
      { class: "hint" },
      "The trustee signs a JWT whose iss is its address. Your token needs the update " +
        "capability on trustee/trustees/<name>/claim; the server says so if it does not.",
    ),
    h("div", { class: "grid-2" },
      h("div", {}, h("label", { for: "claim-trustee" }, "Trustee"), select),
      h("div", {}, h("label", { for: "claim-audience" }, "Audience (optional)"), audience),
      h("div", {}, h("label", { for: "claim-subject" }, "Subject (optional)"), subject),
      h(
        "div",
        {},
        h("label", { for: "claim-ttl" }, "Lifetime"),
        ttl,
        h("p", { id: "ttl-help", class: "hint" }, 'For example "1h", "90s" or seconds.'),
      ),
    ),
    h("label", { for: "claim-claims" }, "Extra claims (optional JSON object)"),
    claims,
    h("p", { id: "claims-help", class: "hint" }, "The server sets iss, iat, nbf, exp and jti."),
    error,
    button,
    output,
  );
  const fail = (message, field) => {
    error.hidden = false;
    error.textContent = message;
    if (field) field.focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = {};
    const ttlText = ttl.value.trim();
    if (ttlText) body.ttl = /^\d+$/.test(ttlText) ? Number(ttlText) : ttlText;
    if (audience.value.trim()) body.audience = audience.value.trim();
    if (subject.value.trim()) body.subject = subject.value.trim();
    if (claims.value.trim()) {
      let parsed;
      try {
        parsed = JSON.parse(claims.value);
      } catch (problem) {
        return fail(`Extra claims are not valid JSON: ${problem.message}`, claims);
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return fail("Extra claims must be a JSON object, like {\"role\": \"driver\"}.", claims);
      }
      body.claims = parsed;
    }
    button.disabled = true;
    try {
      const answer = await api(`trustee/trustees/${segment(select.value)}/claim`, {
        method: "POST",
        body,
      });
      const jwtBox = h("textarea", {
        id: "claimed-jwt",
        readonly: true,
        rows: "4",
        spellcheck: "false",
      });
      jwtBox.value = answer.jwt;
      const check = h(
        "button",
        { type: "button", class: "secondary" },
        "Open in the token checker",
      );
      check.addEventListener("click", () => {
        checkLater(answer.jwt);
        window.location.hash = "#/token";
      });
      replace(
        output,
        h("label", { for: "claimed-jwt" }, `Token signed by ${select.value}`),
        jwtBox,
        h("div", { class: "actions" }, copyButton(answer.jwt, "Copy the token"), check),
        h("p", { class: "hint" }, "Expires ", timeElement(answer.claims.exp), "."),
      );
    } catch (problem) {
      const text =
        problem instanceof ApiError && problem.status === 403
          ? `Not allowed: ${problem.message}`
          : `The server refused: ${problem.message}`;
      fail(text);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export async function renderTrustees(section) {
  section.append(h("h2", {}, "Trustees"));
  const status = loading("trustees");
  section.append(status);
  let names;
  try {
    names = (await api("trustee/trustees?list=true")).keys || [];
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      replace(status, `Your token may not list trustees: ${error.message}`);
      return;
    }
    if (error instanceof ApiError && error.status === 404) names = [];
    else throw error;
  }
  if (!names.length) {
    replace(status, "No trustees yet.");
    return;
  }
  const infos = await Promise.all(names.map((name) => api(`trustee/trustees/${segment(name)}`)));
  status.remove();
  section.append(
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "trustees" },
        h("caption", { class: "visually-hidden" }, "Trustees and their addresses"),
        h(
          "thead",
          {},
          h("tr", {}, ["Name", "Address", "Created"].map((t) => h("th", { scope: "col" }, t))),
        ),
        h("tbody", {}, infos.map(trusteeRow)),
      ),
    ),
    claimForm(names),
  );
}
