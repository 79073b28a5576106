// Shared by the checks: the server under test, a small HTTP helper and the check registry.
//
// TRUSTEE_ADDR (e.g. http://127.0.0.1:8200) and TRUSTEE_TOKEN (a root token) name the server.

import { randomBytes } from "node:crypto";

export const ADDR = process.env.TRUSTEE_ADDR ?? "http://127.0.0.1:8200";
export const TOKEN = process.env.TRUSTEE_TOKEN ?? "root";

/** A name no other run uses, so checks never collide on one server. */
export function fresh(prefix) {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** One request to /v1/<path>; the parsed JSON body (or null) and the status. */
export async function api(method, path, body, { token = TOKEN } = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers["x-vault-token"] = token;
  const response = await fetch(`${ADDR}/v1/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** The ``data`` of a successful answer; throws with the server's errors otherwise. */
export async function data(method, path, body, options) {
  const { status, json } = await api(method, path, body, options);
  if (status >= 300) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json?.data ?? null;
}

/** A new trustee; its address. */
export async function createTrustee(prefix) {
  const name = fresh(prefix);
  const info = await data("POST", `trustee/trustees/${name}`, {});
  return { name, address: info.address };
}

/** ``trustee/verify``: the verdict object. */
export async function verifyToken(token, options = {}) {
  return data("POST", "trustee/verify", { token, ...options }, { token: null });
}

export const CHECKS = [];

/** Register a check: ``fn`` throws (an assertion) when the check fails. */
export function check(name, fn) {
  CHECKS.push({ name, fn });
}
