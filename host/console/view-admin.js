// Admin: the live studios (GET /api/studios: episode, clients, who speaks, autopilot, since
// when) and every plugin's health (GET /api/plugins: roles, version, hash, calls, errors, traps
// and the last error). Refreshed on request, so a screen reader is not interrupted by a timer.

import { adminToken, announce, el, formatDate, speakerName } from "/console/producer-api.js";

export async function render({ api, navigate }) {
  const [studios, plugins] = await Promise.all([api("/api/studios"), api("/api/plugins")]);

  const live = studios.studios || [];
  const studioRows = live.map((s) =>
    el(
      "tr",
      { "data-episode": s.episodeId },
      // On an open server anyone may join a studio by its id; with tokens only its links open it.
      el("th", { scope: "row" }, adminToken() ? s.episodeId : el("a", { href: `/?episode=${encodeURIComponent(s.episodeId)}` }, s.episodeId)),
      el("td", {}, s.clients && s.clients.length ? s.clients.join(", ") : "nobody"),
      el(
        "td",
        {},
        s.speaking
          ? ["you", "claude", "guest"].map((who) => `${speakerName(who)} ${s.speaking[who]}`).join(", ")
          : "not answering",
      ),
      el("td", {}, s.autopilot ? "on" : "off"),
      el("td", {}, s.recording ? "recording" : "waiting"),
      el("td", {}, formatDate(s.startedAt)),
    ),
  );

  const pluginRows = (plugins.plugins || []).map((p) => {
    const h = p.health || {};
    const trouble = h.errors > 0 || h.traps > 0 || p.loadError;
    return el(
      "tr",
      { "data-plugin": p.name, class: trouble ? "trouble" : "" },
      el("th", { scope: "row" }, p.name),
      el("td", {}, p.roles && p.roles.length ? p.roles.join(", ") : "standby"),
      el("td", {}, p.version || "not loaded"),
      el("td", {}, el("code", { title: p.sha256 }, (p.sha256 || "").slice(0, 12))),
      el("td", { class: "num" }, String(h.calls ?? 0)),
      el("td", { class: "num" }, String(h.errors ?? 0)),
      el("td", { class: "num" }, String(h.traps ?? 0)),
      el(
        "td",
        {},
        p.loadError ? `Load: ${p.loadError}` : h.lastError ? `${h.lastError} (${formatDate(h.lastErrorAt)})` : "none",
      ),
    );
  });

  const table = (caption, headings, rows, id) =>
    el(
      "table",
      { class: "list", id },
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows),
    );

  const refresh = el("button", { type: "button", id: "refresh-admin" }, "Refresh");
  refresh.addEventListener("click", () => {
    announce("Refreshing.");
    navigate("#/admin");
  });

  return el(
    "div",
    { class: "view admin" },
    el("h1", {}, "Studios and plugins"),
    el("p", {}, refresh),
    el(
      "section",
      { "aria-labelledby": "studios-heading" },
      el("h2", { id: "studios-heading" }, `Live studios (${live.length})`),
      live.length
        ? table("Running studios", ["Episode", "Clients", "Speakers", "Autopilot", "Floor", "Started"], studioRows, "studios")
        : el("p", { id: "studios" }, "No studio is running."),
    ),
    el(
      "section",
      { "aria-labelledby": "plugins-heading" },
      el("h2", { id: "plugins-heading" }, "Plugins"),
      el("p", {}, plugins.ready ? "Every role has a plugin: the server is ready." : "Some role has no loaded plugin: the server is not ready."),
      table(
        "Plugins and their health since the server started",
        ["Plugin", "Roles", "Version", "Hash", "Calls", "Errors", "Traps", "Last error"],
        pluginRows,
        "plugins",
      ),
    ),
  );
}
