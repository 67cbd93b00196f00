// The producer's pages: one shell (navigation, sign-in) and a view module per page, chosen by
// the address's fragment: #/ home, #/briefings[/<id>|/new], #/library[/<id>], #/settings,
// #/admin. A host or viewer link (/#token=…) is a studio link: it is handed on to the studio page.

import { adminToken, announce, api, ApiError, el, setAdminToken } from "/console/producer-api.js";
import * as home from "/console/view-home.js";
import * as briefings from "/console/view-briefings.js";
import * as library from "/console/view-library.js";
import * as settings from "/console/view-settings.js";
import * as admin from "/console/view-admin.js";

// A studio link lands here because its token sits in the fragment, which the server never sees.
function handOnStudioLink() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = fragment.get("token");
  if (!token) return false;
  let episode = null;
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof claims.ep === "string" && /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(claims.ep)) {
      episode = claims.ep;
    }
  } catch {
    // Not a token we can read: the studio page says what is wrong with it.
  }
  const target = episode ? `/?episode=${encodeURIComponent(episode)}` : "/console/index.html";
  location.replace(`${target}${location.hash}`);
  return true;
}

const views = { home, briefings, library, settings, admin };

/** The current route: the view's name and the rest of the path. */
function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const name = views[parts[0]] ? parts[0] : "home";
  return { name, rest: parts.slice(1) };
}

const producer = {
  // For tests and the curious: the view shown, and the last error a view reported.
  view: null,
  ready: false,
};
window.studioProducer = producer;

let generation = 0;

async function show() {
  const { name, rest } = route();
  const mine = ++generation;
  const main = document.getElementById("view");
  producer.ready = false;
  producer.view = name;
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren(el("p", { class: "loading" }, "Loading…"));
  try {
    const content = await views[name].render({ rest, api, navigate });
    if (mine !== generation) return;
    main.replaceChildren(content);
  } catch (error) {
    if (mine !== generation) return;
    const message = error instanceof ApiError ? error.message : `This page failed: ${error.message}`;
    const locked = error instanceof ApiError && error.status === 401;
    main.replaceChildren(
      el("h1", {}, locked ? "Sign in to continue" : "Something went wrong"),
      el("p", { class: locked ? "hint" : "status error", role: locked ? null : "alert" }, message),
    );
  }
  const heading = main.querySelector("h1");
  document.title = `${heading ? heading.textContent : "voice-studio"} – voice-studio`;
  // Focus moves to the new page's heading, so a screen reader starts reading there (unless the
  // page is asking for the token: then the token field keeps it).
  const signingIn = !document.getElementById("signin").hidden;
  if (heading && !signingIn) {
    heading.tabIndex = -1;
    heading.focus();
  }
  producer.ready = true;
}

function navigate(hash) {
  if (location.hash === hash) show();
  else location.hash = hash;
}

function showSignedIn() {
  const signedIn = Boolean(adminToken());
  document.getElementById("signed-in").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
}

function askForToken() {
  const box = document.getElementById("signin");
  box.hidden = false;
  document.getElementById("admin-token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = document.getElementById("admin-token");
  const error = document.getElementById("signin-error");
  const token = input.value.trim();
  error.textContent = "";
  const previous = adminToken();
  setAdminToken(token);
  try {
    // A route behind the admin door, to learn at once whether the token is right.
    await api("/api/plugins");
  } catch (e) {
    setAdminToken(previous);
    error.textContent = e.status === 401 ? "That is not this server's admin token." : e.message;
    input.focus();
    return;
  }
  input.value = "";
  document.getElementById("signin").hidden = true;
  showSignedIn();
  announce("Signed in.");
  show();
}

if (!handOnStudioLink()) {
  document.getElementById("signin-form").addEventListener("submit", signIn);
  document.getElementById("sign-out").addEventListener("click", () => {
    setAdminToken("");
    showSignedIn();
    announce("Signed out.");
    show();
  });
  window.addEventListener("studio:auth-needed", askForToken);
  window.addEventListener("hashchange", () => {
    if (!handOnStudioLink()) show();
  });
  showSignedIn();
  show();
}
