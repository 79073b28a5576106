// The explorer's shell: session, navigation and the router over the views.

import { ApiError, api, session } from "./api.js";
import { h, replace } from "./dom.js";
import { renderAsset } from "./views/asset.js";
import { renderAssets } from "./views/assets.js";
import { renderLog } from "./views/log.js";
import { renderSignIn } from "./views/signin.js";
import { renderStatements } from "./views/statements.js";
import { renderToken } from "./views/token.js";
import { renderTrustees } from "./views/trustees.js";

const ROUTES = [
  { pattern: /^#\/assets\/([0-9A-Za-z-]+)$/, view: renderAsset, auth: true, nav: "#/assets" },
  { pattern: /^#\/assets$/, view: renderAssets, auth: true, nav: "#/assets" },
  { pattern: /^#\/log$/, view: renderLog, auth: true, nav: "#/log" },
  { pattern: /^#\/statements$/, view: renderStatements, auth: true, nav: "#/statements" },
  { pattern: /^#\/token$/, view: renderToken, auth: false, nav: "#/token" },
  { pattern: /^#\/trustees$/, view: renderTrustees, auth: true, nav: "#/trustees" },
];

const main = document.getElementById("main");
let signOutMessage = "";

function updateSessionBar() {
  const signedIn = Boolean(session.token());
  document.getElementById("who").hidden = !signedIn;
  document.getElementById("who-name").textContent = signedIn
    ? `Signed in as ${session.displayName() || "a token"}`
    : "";
}

function markNavigation(target) {
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === target) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function focusHeading(section) {
  const heading = section.querySelector("h1, h2");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

async function route({ moveFocus = true } = {}) {
  const hash = window.location.hash;
  if (!hash.startsWith("#/")) {
    // "#main" from the skip link, or nothing: leave in-page anchors alone.
    if (!main.querySelector(".view")) window.location.replace("#/assets");
    return;
  }
  const match = ROUTES.map((r) => [r, hash.match(r.pattern)]).find(([, m]) => m);
  if (!match) {
    window.location.replace("#/assets");
    return;
  }
  const [spec, groups] = match;
  markNavigation(spec.nav);
  updateSessionBar();
  const section = h("section", { class: "view" });
  replace(main, section);
  if (spec.auth && !session.token()) {
    // The reason stays on every signed-out page until a sign-in succeeds, so a
    // click elsewhere in the meantime does not hide why the session ended.
    renderSignIn(section, {
      message: signOutMessage,
      onSignedIn: () => {
        signOutMessage = "";
        route();
      },
    });
    return;
  }
  try {
    await spec.view(section, ...groups.slice(1));
  } catch (error) {
    if (!(error instanceof ApiError)) console.error(error);
    section.append(h("p", { class: "error", role: "alert" }, error.message || String(error)));
  }
  if (moveFocus && main.contains(section)) focusHeading(section);
}

window.addEventListener("hashchange", () => route());
window.addEventListener("trustee:signed-out", (event) => {
  session.clear();
  signOutMessage = `Signed out: ${event.detail}. Sign in again.`;
  route();
});
document.getElementById("sign-out").addEventListener("click", () => {
  session.clear();
  signOutMessage = "Signed out. The token is forgotten by this tab (it was not revoked).";
  route();
});

// Keep the names of signed-in callers fresh if their token still works.
if (session.token()) {
  api("auth/token/lookup-self")
    .then((info) => session.save(session.token(), info.display_name))
    .then(updateSessionBar)
    .catch(() => {});
}
route({ moveFocus: false });
