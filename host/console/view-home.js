// Home: start an episode from a briefing. Lists the briefings (GET /api/briefings), mints an
// episode bound to the one picked (POST /api/episodes {briefing}) and offers its studio link for
// the host and its viewer link to share.

import { announce, el, showError, showOk, statusBox } from "/console/producer-api.js";

export async function render({ api }) {
  const result = statusBox("start-result");
  const list = el("div", { class: "choices" });
  const form = el(
    "form",
    { id: "start-form", class: "card" },
    el("fieldset", {}, el("legend", {}, "Briefing"), list),
    el("button", { type: "submit", id: "start-episode", class: "primary" }, "Start episode"),
  );
  const links = el("div", { id: "episode-links" });

  let briefings = [];
  try {
    const answer = await api("/api/briefings");
    briefings = Array.isArray(answer && answer.briefings) ? answer.briefings : [];
  } catch (error) {
    // Without the list the default briefing still starts an episode.
    list.append(el("p", { class: "status error", role: "alert" }, error.message));
  }
  const choice = (value, title, detail, checked) => {
    const id = `briefing-${value || "default"}`;
    return el(
      "div",
      { class: "choice" },
      el("input", { type: "radio", name: "briefing", id, value, checked }),
      el("label", { for: id }, el("span", { class: "title" }, title), detail ? el("span", { class: "detail" }, detail) : null),
    );
  };
  briefings.forEach((b, i) => {
    list.append(choice(b.id, b.title || b.id, [b.topic, b.id].filter(Boolean).join(" · "), i === 0));
  });
  list.append(choice("", "No briefing", "the server's default briefing", briefings.length === 0));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = form.querySelector("input[name=briefing]:checked");
    const briefing = picked ? picked.value : "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    links.replaceChildren();
    try {
      const minted = await api("/api/episodes", {
        method: "POST",
        json: briefing ? { briefing } : {},
      });
      showOk(result, `Episode ${minted.episodeId} is ready${briefing ? ` with the briefing ${briefing}` : ""}.`);
      const viewer = el("input", {
        id: "viewer-link",
        type: "text",
        readonly: true,
        value: minted.viewer && minted.viewer.url,
      });
      const open = el("a", { href: minted.host.url, id: "open-studio", class: "button primary" }, "Open the studio");
      links.append(
        el("h2", {}, "Your episode"),
        el("p", {}, open),
        el("p", {}, el("label", { for: "viewer-link" }, "Viewer link (to share; watches and listens only)"), viewer),
        el("p", { class: "hint" }, `The links last until ${new Date(minted.expiresAt).toLocaleString()}.`),
      );
      announce(`Episode ${minted.episodeId} is ready. Open the studio.`);
      open.focus();
    } catch (error) {
      showError(result, error);
    } finally {
      button.disabled = false;
    }
  });

  return el(
    "div",
    { class: "view home" },
    el("h1", {}, "Start an episode"),
    el("p", { class: "lead" }, "Pick a briefing, start the episode, then open its studio. The briefing sets the topic, the tone and each AI's position."),
    form,
    result,
    links,
    el(
      "p",
      { class: "hint" },
      "Prepare a show under ",
      el("a", { href: "#/briefings" }, "Briefings"),
      "; find past episodes in the ",
      el("a", { href: "#/library" }, "Library"),
      ".",
    ),
  );
}
