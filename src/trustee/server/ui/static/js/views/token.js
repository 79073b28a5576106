// The token checker: paste a JWT, see what it says and whether it holds. The verdict comes from
// `POST /v1/trustee/verify` (no server token needed); the header and, for tokens that fail,
// the unverified payload are decoded here so people can see what they pasted.

import { api } from "../api.js";
import { code, details, h, replace, timeElement } from "../dom.js";
import { fromBase64url, fromUtf8 } from "../encoding.js";

const REASONS = {
  malformed: "The text is not a compact JWS (three base64url parts of JSON), or a claim has " +
    "the wrong type.",
  unsupported_algorithm: "The header names an algorithm this verifier refuses (only ES256K, " +
    "ES256K-R and legacy trustee tokens are accepted).",
  bad_signature: "The signature does not verify: the token was altered after signing, or " +
    "was not signed by a secp256k1 key at all.",
  issuer_mismatch: "The signature is sound, but the key that made it is not the one whose " +
    "address is in iss.",
  expired: "The token's exp has passed.",
  not_yet_valid: "The token's nbf is still in the future.",
  audience_mismatch: "The token's aud does not name the audience you gave (or names one and " +
    "you gave none).",
  untrusted_issuer: "The token is genuine, but its issuer is not in the trusted addresses.",
  replayed: "This token id (jti) was already used.",
  too_large: "The token is larger than the verifier accepts.",
};

let pending = "";

/** Hand a token to the checker (e.g. one just claimed) without putting it in the URL. */
export function checkLater(token) {
  pending = token;
}

function decodePart(part) {
  try {
    const value = JSON.parse(fromUtf8(fromBase64url(part)));
    return { value };
  } catch (error) {
    return { error: error instanceof SyntaxError ? "not JSON" : error.message };
  }
}

export function decodeToken(text) {
  const parts = text.split(".");
  if (parts.length !== 3) return { error: `expected 3 dot-separated parts, found ${parts.length}` };
  return { header: decodePart(parts[0]), payload: decodePart(parts[1]) };
}

function relative(seconds) {
  const abs = Math.abs(seconds);
  const units = [
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
    [1, "second"],
  ];
  for (const [size, unit] of units) {
    if (abs >= size || size === 1) {
      const n = Math.round(abs / size);
      return `${n} ${unit}${n === 1 ? "" : "s"}`;
    }
  }
  return "";
}

function numeric(value) {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return null;
}

/** Time facts from claims, as of now on this computer's clock. */
export function timeValidity(claims, now = Date.now() / 1000) {
  const iat = numeric(claims.iat);
  const nbf = numeric(claims.nbf);
  const exp = numeric(claims.exp);
  const rows = [];
  if (iat !== null) rows.push(["Issued", [timeElement(iat), ` (${relative(now - iat)} ago)`]]);
  if (nbf !== null) {
    rows.push([
      "Not before",
      [timeElement(nbf), nbf > now ? ` (in ${relative(nbf - now)})` : " (passed)"],
    ]);
  }
  if (exp !== null) {
    rows.push([
      "Expires",
      [
        timeElement(exp),
        exp > now ? ` (in ${relative(exp - now)})` : ` (${relative(now - exp)} ago)`,
      ],
    ]);
  }
  let summary;
  if (nbf !== null && nbf > now) summary = "Not yet valid by this computer's clock.";
  else if (exp !== null && exp <= now) summary = "Expired by this computer's clock.";
  else if (exp === null) summary = "No expiry: valid for ever unless refused otherwise.";
  else summary = "Within its validity window by this computer's clock.";
  return { rows, summary };
}

function textInput(id, name) {
  return h("input", { id, name, type: "text", autocomplete: "off", spellcheck: "false" });
}

function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

function renderResult(output, text, answer) {
  const decoded = decodeToken(text);
  const verdict = h(
    "p",
    {
      class: `verdict ${answer.valid ? "verdict-ok" : "verdict-bad"}`,
      role: "status",
      dataset: { valid: String(answer.valid), reason: answer.reason || "" },
    },
    answer.valid
      ? "VALID"
      : ["INVALID: ", h("code", { class: "reason" }, answer.reason || "unknown")],
  );
  const explanation = answer.valid
    ? "The signature verifies, the issuer's address matches the key, and the time, audience " +
      "and trust checks you asked for pass."
    : REASONS[answer.reason] || "";
  const verifiedClaims = answer.claims;
  const shownClaims = verifiedClaims || (decoded.payload && decoded.payload.value) || null;
  const validity =
    shownClaims && typeof shownClaims === "object" ? timeValidity(shownClaims) : null;
  replace(
    output,
    h("h3", { id: "verdict-title" }, "Verdict"),
    verdict,
    explanation ? h("p", { class: "explanation" }, explanation) : null,
    details([
      [
        "Recovered address",
        answer.address
          ? code(answer.address, { class: "wrap" })
          : "none (no key was recovered)",
      ],
      ["Algorithm", answer.algorithm || "–"],
      [
        "Trusted",
        answer.trusted === null || answer.trusted === undefined
          ? "not asked (no trusted addresses given)"
          : answer.trusted
            ? "yes"
            : "no",
      ],
    ]),
    h("h3", {}, "Time validity"),
    validity
      ? [
          h("p", { class: "time-summary" }, validity.summary),
          validity.rows.length ? details(validity.rows) : null,
        ]
      : h("p", { class: "muted" }, "No readable claims."),
    h("div", { class: "grid-2" },
      h(
        "section",
        {},
        h("h3", {}, "Header"),
        decoded.error
          ? h("p", { class: "muted" }, `Cannot decode: ${decoded.error}.`)
          : decoded.header.error
            ? h("p", { class: "muted" }, `Cannot decode the header: ${decoded.header.error}.`)
            : json(decoded.header.value),
      ),
      h(
        "section",
        {},
        h("h3", {}, verifiedClaims ? "Claims (signature verified)" : "Claims (NOT verified)"),
        verifiedClaims
          ? json(verifiedClaims)
          : shownClaims
            ? [
                h(
                  "p",
                  { class: "warning" },
                  "The server returned no claims because the signature did not verify. This " +
                    "is what the token says, decoded here; do not rely on it.",
                ),
                json(shownClaims),
              ]
            : h("p", { class: "muted" }, "Cannot decode the payload."),
      ),
    ),
  );
}

export async function renderToken(section) {
  const tokenInput = h("textarea", {
    id: "jwt-input",
    name: "jwt",
    rows: "5",
    spellcheck: "false",
    autocomplete: "off",
    required: true,
    "aria-describedby": "jwt-help",
  });
  const audienceInput = textInput("jwt-audience", "audience");
  const trustedInput = h("textarea", {
    id: "jwt-trusted",
    name: "trusted",
    rows: "2",
    spellcheck: "false",
    "aria-describedby": "trusted-help",
  });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const output = h("div", { class: "token-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Check token");
  const form = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "checker-title" },
    h("label", { for: "jwt-input" }, "JWT"),
    tokenInput,
    h(
      "p",
      { id: "jwt-help", class: "hint" },
      "The token is sent to this server's public verifier (POST /v1/trustee/verify), which " +
        "needs no sign-in. Nothing is stored.",
    ),
    h("div", { class: "grid-2" },
      h("div", {}, h("label", { for: "jwt-audience" }, "Your audience (optional)"), audienceInput),
      h(
        "div",
        {},
        h("label", { for: "jwt-trusted" }, "Trusted addresses (optional)"),
        trustedInput,
        h("p", { id: "trusted-help", class: "hint" }, "One 0x address a line, or comma-separated."),
      ),
    ),
    error,
    button,
  );
  section.append(
    h("h2", { id: "checker-title" }, "Token checker"),
    form,
    output,
  );
  if (pending) {
    tokenInput.value = pending;
    pending = "";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = tokenInput.value.replace(/\s+/g, "");
    error.hidden = true;
    if (!text) {
      error.hidden = false;
      error.textContent = "Paste a JWT first.";
      tokenInput.focus();
      return;
    }
    const body = { token: text };
    const audience = audienceInput.value.trim();
    if (audience) body.audience = audience;
    const trusted = trustedInput.value.split(/[\s,]+/).filter(Boolean);
    if (trusted.length) body.trusted = trusted;
    button.disabled = true;
    try {
      const answer = await api("trustee/verify", { method: "POST", body, auth: false });
      renderResult(output, text, answer);
    } catch (failure) {
      error.hidden = false;
      error.textContent = `The verifier refused the request: ${failure.message}`;
    } finally {
      button.disabled = false;
    }
  });
}
