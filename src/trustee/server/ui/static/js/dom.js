// A tiny element builder. Text always goes in as text nodes: server data is never parsed as HTML.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/** Say something to screen-reader users without moving focus. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** A definition list from [term, value] pairs; values may be nodes. */
export function details(pairs, className = "facts") {
  return h(
    "dl",
    { class: className },
    pairs.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

export function code(text, attributes = {}) {
  return h("code", attributes, text);
}

export function formatTime(value) {
  if (value === null || value === undefined || value === "") return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function timeElement(value) {
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  const valid = value !== null && value !== undefined && !Number.isNaN(date.getTime());
  return h("time", valid ? { datetime: date.toISOString() } : {}, formatTime(value));
}

export function errorBox(message) {
  return h("p", { class: "error", role: "alert" }, message);
}

export function loading(what) {
  return h("p", { class: "loading", role: "status" }, `Loading ${what}…`);
}

/** A copy-to-clipboard button that says whether it worked. */
export function copyButton(text, label) {
  const button = h("button", { type: "button", class: "copy", "aria-label": label }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
      announce("Copied to the clipboard");
    } catch {
      button.textContent = "Select and copy";
      announce("The browser refused clipboard access: select the text and copy it");
    }
    window.setTimeout(() => {
      button.textContent = "Copy";
    }, 2000);
  });
  return button;
}
