// Who is signed in. In AWS: Cognito's hosted UI, authorization code with PKCE. Locally: the
// dev server's sign-in, which mints a token for a typed user id (it exists only there).
// The token lives in sessionStorage: it goes with the tab.
import { config, $ } from "ally/ui";

const KEY = "ally.token";
/** Where an invite waits, in this tab, until its user has signed in and signed up. */
export const INVITE = "ally.invite";

export function token() {
  return sessionStorage.getItem(KEY) || "";
}

/** The token's claims, for display only: the API verifies the token itself. */
export function claims() {
  try {
    const payload = token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(INVITE);
  if (config.signIn.mode === "cognito") {
    // End the hosted UI's session too, or the next sign-in is silently the same user.
    const query = new URLSearchParams({ client_id: config.signIn.clientId, logout_uri: redirectUri() });
    location.assign(`${config.signIn.domain}/logout?${query}`);
  } else {
    location.assign(location.pathname);
  }
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

async function startCognito() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(48)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("ally.pkce", JSON.stringify({ verifier, state }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.signIn.clientId,
    redirect_uri: redirectUri(),
    scope: "openid email",
    code_challenge_method: "S256",
    code_challenge: challenge,
    state,
  });
  location.assign(`${config.signIn.domain}/oauth2/authorize?${query}`);
}

async function finishCognito(code, state) {
  const saved = JSON.parse(sessionStorage.getItem("ally.pkce") || "{}");
  sessionStorage.removeItem("ally.pkce");
  history.replaceState(null, "", location.pathname);
  if (!saved.verifier || saved.state !== state) throw new Error("The sign-in answer does not match this tab: sign in again.");
  const response = await fetch(`${config.signIn.domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.signIn.clientId,
      code,
      redirect_uri: redirectUri(),
      code_verifier: saved.verifier,
    }),
  });
  if (!response.ok) throw new Error("Cognito refused the sign-in: sign in again.");
  // The ID token: its audience is the app client, which the API's JWT authorizer checks.
  sessionStorage.setItem(KEY, (await response.json()).id_token);
}

/** What the page says of each error an OAuth 2.0 / OpenID Connect sign-in comes back with. */
const SIGN_IN_ERRORS = {
  access_denied: "Sign-in was cancelled or refused.",
  login_required: "Sign in to continue.",
  consent_required: "Sign-in needs your consent: sign in again.",
  interaction_required: "Sign-in needs you: sign in again.",
  invalid_request: "The sign-in request was not valid: sign in again.",
  invalid_scope: "The sign-in asked for access it may not have: ask your administrator.",
  unauthorized_client: "This page may not sign in this way: ask your administrator.",
  unsupported_response_type: "This page may not sign in this way: ask your administrator.",
  server_error: "The sign-in service failed: try again in a moment.",
  temporarily_unavailable: "The sign-in service is busy: try again in a moment.",
};

/**
 * The message for a sign-in that came back with `error`: a fixed text per known code, never
 * text from the URL (anyone can send a link to this page with an `error_description` of their
 * choosing; shown on this origin, it would read as ours).
 */
export function signInError(error) {
  return Object.hasOwn(SIGN_IN_ERRORS, error) ? SIGN_IN_ERRORS[error] : "Sign-in failed: sign in again.";
}

/** The signed-in user's claims, or null after showing the sign-in (the page stops there). */
export async function signedIn() {
  const params = new URLSearchParams(location.search);
  const message = $("#signin-message");
  // An invite to the dashboard outlives the sign-in's round trip (Cognito's redirect drops
  // the query); it goes with a sign-out.
  if (params.has("invited_by") && location.pathname === config.dashboard) {
    sessionStorage.setItem(INVITE, params.get("invited_by"));
  }
  if (config.signIn.mode === "cognito" && params.has("error")) {
    message.textContent = signInError(params.get("error"));
    history.replaceState(null, "", location.pathname);
  }
  if (config.signIn.mode === "cognito" && params.has("code")) {
    try {
      await finishCognito(params.get("code"), params.get("state"));
    } catch (error) {
      message.textContent = error.message;
    }
  }
  const current = claims();
  if (current && current.exp * 1000 > Date.now()) {
    $("#who").textContent = current.sub;
    $("#sign-out").hidden = false;
    $("#sign-out").addEventListener("click", signOut);
    return current;
  }
  sessionStorage.removeItem(KEY);
  $("#signin").hidden = false;
  $("#app").hidden = true;
  if (config.signIn.mode === "cognito") {
    $("#cognito-signin").hidden = false;
    $("#cognito-signin").addEventListener("click", startCognito);
  } else {
    const form = $("#local-signin");
    form.hidden = false;
    // The admin reports are for admins: their sign-in starts as one.
    form.admin.checked = location.pathname === config.reports;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await fetch("/_local/sign-in", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user_id: form.user.value.trim(), admin: form.admin.checked }),
      });
      const answer = await response.json();
      if (!response.ok) {
        message.textContent = answer.detail || "Sign-in refused";
        return;
      }
      sessionStorage.setItem(KEY, answer.token);
      location.assign(location.pathname + location.search);
    });
    form.user.focus();
  }
  return null;
}
