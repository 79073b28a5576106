// Sign in with a server token, or with a wallet (Sign-In with Ethereum, EIP-4361). The token
// goes to session storage (this tab only) and into request headers; never into the URL, the
// page's address or a log line.

import { ApiError, api, session } from "../api.js";
import { h } from "../dom.js";
import { toHex, utf8 } from "../encoding.js";

const STATEMENT = "Sign in to the trustee explorer.";

/** The EIP-4361 text the server's parser takes: this page's host and origin, version 1. */
export function siweMessage({ address, chainId, nonce, issuedAt }) {
  return [
    `${window.location.host} wants you to sign in with your Ethereum account:`,
    address,
    "",
    STATEMENT,
    "",
    `URI: ${window.location.origin}`,
    "Version: 1",
    `Chain ID: ${chainId}`,
    `Nonce: ${nonce}`,
    `Issued At: ${issuedAt}`,
  ].join("\n");
}

function refusal(error) {
  if (error instanceof ApiError) {
    return error.status === 403 || error.status === 400
      ? `The server refused this wallet: ${error.message}`
      : `Could not sign in: ${error.message}`;
  }
  // An EIP-1193 provider's error: { code, message }; 4001 is the user's refusal.
  if (error && error.code === 4001) return "The wallet did not sign: the request was rejected.";
  return `The wallet did not sign: ${(error && error.message) || String(error)}`;
}

/** Trade a signed message for a server token and keep it as the token sign-in does. */
async function walletLogin(role, message, signature) {
  const answer = await api("auth/trustee/siwe/login", {
    method: "POST",
    body: { role, message, signature },
    auth: false,
    whole: true,
  });
  const token = answer && answer.auth && answer.auth.client_token;
  if (!token) throw new ApiError(500, "the server answered no token");
  const info = await api("auth/token/lookup-self", { token });
  session.save(token, info.display_name);
}

function renderWallet({ onSignedIn }) {
  const provider = window.ethereum;
  const hasProvider = Boolean(provider && typeof provider.request === "function");
  const role = h("input", {
    id: "wallet-role",
    name: "role",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "wallet-help",
  });
  const address = h("input", {
    id: "wallet-address",
    name: "address",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "0x…",
  });
  const chain = h("input", {
    id: "wallet-chain",
    name: "chain",
    type: "number",
    min: "1",
    value: "1",
  });
  const messageBox = h("textarea", { id: "wallet-message", readonly: true, rows: "9" });
  const signature = h("input", {
    id: "wallet-signature",
    name: "signature",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "0x…",
  });
  const feedback = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "submit" }, "Sign in with a wallet");
  const submitSignature = h("button", { type: "button" }, "Submit the signature");
  const manual = h(
    "div",
    { hidden: true },
    h("label", { for: "wallet-message" }, "Message to sign"),
    messageBox,
    h("label", { for: "wallet-signature" }, "Signature (personal_sign)"),
    signature,
    submitSignature,
  );
  const noProvider = hasProvider
    ? []
    : [
        h("label", { for: "wallet-address" }, "Wallet address"),
        address,
        h("label", { for: "wallet-chain" }, "Chain ID"),
        chain,
      ];
  const form = h(
    "form",
    { class: "card narrow", method: "post", "aria-labelledby": "wallet-title", novalidate: true },
    h("h2", { id: "wallet-title" }, "Or with a wallet"),
    h("label", { for: "wallet-role" }, "Role"),
    role,
    h(
      "p",
      { id: "wallet-help", class: "hint" },
      hasProvider
        ? "Your browser's wallet signs a Sign-In with Ethereum message for this page; the " +
            "role must admit this site and your address."
        : "No wallet in this browser: enter your address, sign the message shown with your " +
            "wallet (personal_sign) and paste the signature.",
    ),
    ...noProvider,
    feedback,
    button,
    manual,
  );
  const fail = (text, focus = role) => {
    feedback.hidden = false;
    feedback.textContent = text;
    focus.focus();
  };
  let pending = null; // { role, message } awaiting a pasted signature

  async function finish(roleName, message, signed) {
    await walletLogin(roleName, message, signed);
    onSignedIn();
  }

  async function prepare(roleName, wanted, chainId) {
    const issued = await api("auth/trustee/siwe/nonce", {
      method: "POST",
      body: { role: roleName, address: wanted },
      auth: false,
    });
    const issuedAt = new Date().toISOString();
    return siweMessage({ address: issued.address, chainId, nonce: issued.nonce, issuedAt });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const roleName = role.value.trim();
    if (!roleName) return fail("Enter a role.");
    button.disabled = true;
    feedback.hidden = true;
    try {
      if (hasProvider) {
        const accounts = await provider.request({ method: "eth_requestAccounts" });
        if (!Array.isArray(accounts) || !accounts.length) throw new Error("no account");
        const chainId = BigInt(await provider.request({ method: "eth_chainId" })).toString();
        const message = await prepare(roleName, String(accounts[0]), chainId);
        const signed = await provider.request({
          method: "personal_sign",
          params: [`0x${toHex(utf8(message))}`, accounts[0]],
        });
        await finish(roleName, message, signed);
      } else {
        const wanted = address.value.trim();
        if (!/^0x[0-9a-fA-F]{40}$/.test(wanted)) {
          return fail("Enter your wallet's address: 0x and 40 hex digits.", address);
        }
        const chainId = chain.value.trim();
        if (!/^[1-9][0-9]*$/.test(chainId)) return fail("Enter a chain ID, e.g. 1.", chain);
        const message = await prepare(roleName, wanted, chainId);
        pending = { role: roleName, message };
        messageBox.value = message;
        signature.value = "";
        manual.hidden = false;
        signature.focus();
      }
    } catch (error) {
      fail(refusal(error));
    } finally {
      button.disabled = false;
    }
  });
  submitSignature.addEventListener("click", async () => {
    const signed = signature.value.trim();
    if (!pending) return;
    if (!signed) return fail("Paste the wallet's signature.", signature);
    submitSignature.disabled = true;
    feedback.hidden = true;
    try {
      await finish(pending.role, pending.message, signed);
      pending = null;
    } catch (error) {
      fail(refusal(error), signature);
    } finally {
      submitSignature.disabled = false;
    }
  });
  return form;
}

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
    renderWallet({ onSignedIn }),
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
