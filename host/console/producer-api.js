// The producer pages' one way to the server: fetch with the admin token (when signed in), JSON
// in and out, and the API's refusals turned into sentences a producer can act on. Also the small
// DOM helpers every view uses.

const TOKEN_KEY = "voice-studio.adminToken";

/** The admin token this tab signed in with (sessionStorage: gone when the tab closes). */
export function adminToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setAdminToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (private mode): the token lives only until the page reloads.
  }
  memoryToken = token || "";
}

let memoryToken = "";

function currentToken() {
  return adminToken() || memoryToken;
}

/** A request the server refused or could not answer; `message` is meant for the page. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/** Says in words why `status` came back, from the refusal's own message where it has one. */
function explain(status, body, path) {
  const said = body && typeof body === "object" ? body.error || body.message : "";
  const line = body && typeof body === "object" && body.line ? ` (line ${body.line})` : "";
  switch (status) {
    case 401:
      return "This needs the admin token: sign in with STUDIO_ADMIN_TOKEN above.";
    case 403:
      return said || "The server refused: admin actions are off on this server.";
    case 404:
      return said ? `Not found: ${said}` : `This server does not know ${path} (is it a newer feature?).`;
    case 409:
      return said || "That already exists.";
    case 413:
      return "That is too large for the server (1 MiB at most).";
    case 429:
      return said || "Too many attempts from this address; wait a moment and try again.";
    default:
      if (status >= 500) return `The server failed (${status})${said ? `: ${said}` : ""}.`;
      return `${said || `The request was refused (${status})`}${line}`;
  }
}

/**
 * Calls the API. `json` is sent as the JSON body; the answer is parsed JSON (or text when it is
 * not JSON). Throws ApiError with a readable message on a refusal or a network failure; a 401
 * also fires `studio:auth-needed` on window so the page can ask for the token.
 */
export async function api(path, { method = "GET", json, accept } = {}) {
  const headers = { Accept: accept || "application/json" };
  const token = currentToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `Cannot reach the server (${e.message}). Is it running?`, null);
  }
  const type = response.headers.get("content-type") || "";
  let body = null;
  try {
    body = type.includes("json") ? await response.json() : await response.text();
  } catch {
    body = null;
  }
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent("studio:auth-needed"));
    throw new ApiError(response.status, explain(response.status, body, path), body);
  }
  return body;
}

/** Fetches a file with the admin token and returns an object URL for it (audio, downloads). */
export async function fileUrl(path) {
  const token = currentToken();
  if (!token) return path;
  let response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  } catch (e) {
    throw new ApiError(0, `Cannot reach the server (${e.message}).`, null);
  }
  if (!response.ok) throw new ApiError(response.status, explain(response.status, null, path), null);
  return URL.createObjectURL(await response.blob());
}

/** Saves what `path` serves under `name`, through the admin token when there is one. */
export async function download(path, name) {
  const url = await fileUrl(path);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

// ---------------------------------------------------------------------------------------------
// DOM helpers.

/** `el("p", {class: "x"}, "text", child)`: an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Says `message` to screen readers (and shows it in the status line). */
export function announce(message) {
  const live = document.getElementById("announce");
  if (!live) return;
  live.textContent = "";
  // A fresh text node after a tick, so the same message twice is read twice.
  setTimeout(() => {
    live.textContent = message;
  }, 30);
}

/** A status box (role=status for results, role=alert for errors) that views write into. */
export function statusBox(id) {
  return el("div", { id, class: "status", role: "status", "aria-live": "polite" });
}

/** Shows an error (or clears it) in a status box, and moves focus there when asked. */
export function showError(box, error, focus = true) {
  box.className = "status error";
  box.setAttribute("role", "alert");
  box.textContent = error instanceof ApiError ? error.message : String(error && error.message ? error.message : error);
  if (focus) {
    box.tabIndex = -1;
    box.focus();
  }
}

export function showOk(box, message) {
  box.className = "status ok";
  box.setAttribute("role", "status");
  box.textContent = message;
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatDuration(ms) {
  if (!Number.isFinite(ms)) return "";
  const total = Math.round(ms / 1000);
  const m = Math.floor(total / 60);
  const s = String(total % 60).padStart(2, "0");
  return `${m}:${s}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** The speaker's display name. */
export function speakerName(id) {
  return { you: "You", claude: "Claude", guest: "Guest" }[id] || id;
}
