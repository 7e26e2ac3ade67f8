// The HTTP API as the pages use it: the signed-in user's token on every call, JSON in and
// out, and problem+json errors thrown as ApiProblem.
import { token, signOut } from "ally/session";

export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "";
  }
}

/** Calls the API; `key` becomes the Idempotency-Key of a call that moves credits. */
export async function call(method, path, { body, key } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401) {
    signOut();
  }
  if (!response.ok) throw new ApiProblem(response.status, data || {});
  return data;
}

/** A fresh key for one intended operation (kept by the caller for its retries). */
export function newKey(prefix) {
  return `${prefix}-${crypto.randomUUID()}`;
}
