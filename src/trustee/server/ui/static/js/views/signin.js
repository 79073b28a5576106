// Sign in with a server token. The token goes to session storage (this tab only) and into
// request headers; never into the URL, the page's address or a log line.

import { ApiError, api, session } from "../api.js";
import { h } from "../dom.js";

export function renderSignIn(section, { message = "", onSignedIn }) {
  const input = h("input", {
    id: "token-input",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help",
  });
  const feedback = h("p", { class: "error", role: "alert", hidden: !message }, message);
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", method: "post", "aria-labelledby": "sign-in-title", novalidate: true },
    h("h2", { id: "sign-in-title" }, "Sign in"),
    h("label", { for: "token-input" }, "Server token"),
    input,
    h(
      "p",
      { id: "token-help", class: "hint" },
      "A token of this server (what X-Vault-Token carries). It is kept in this tab's session " +
        "storage only, and forgotten when the tab closes or you sign out.",
    ),
    feedback,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      feedback.hidden = false;
      feedback.textContent = "Enter a token.";
      input.focus();
      return;
    }
    button.disabled = true;
    feedback.hidden = true;
    try {
      const info = await api("auth/token/lookup-self", { token });
      session.save(token, info.display_name);
      input.value = "";
      onSignedIn();
    } catch (error) {
      const text =
        error instanceof ApiError && error.status === 403
          ? `The server refused this token: ${error.message}`
          : `Could not sign in: ${error.message}`;
      feedback.hidden = false;
      feedback.textContent = text;
      input.focus();
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  section.append(
    form,
    h(
      "p",
      { class: "hint centered" },
      "No token? The ",
      h("a", { href: "#/token" }, "token checker"),
      " works without one.",
    ),
  );
  window.setTimeout(() => input.focus(), 0);
}
