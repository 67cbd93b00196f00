// Briefings: the list (GET /api/briefings) and an editor like a podcast prep page: title, topic,
// tone, what to cover and avoid, the target length, the background and each AI's position. It
// saves through PUT /api/briefings/{id} (or POST /api/briefings for a new one) with the parsed
// fields; the server writes the Markdown file, which stays the source of truth. A file that does
// not parse opens as its Markdown, with the loader's message and line.

import { announce, el, formatDate, showError, showOk, statusBox } from "/console/producer-api.js";

const ID_PATTERN = "[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}";

export async function render(ctx) {
  const [id] = ctx.rest;
  if (id === "new") return editor(ctx, null);
  if (id) return editor(ctx, id);
  return list(ctx);
}

async function list({ api }) {
  const answer = await api("/api/briefings");
  const briefings = Array.isArray(answer && answer.briefings) ? answer.briefings : [];
  const rows = briefings.map((b) =>
    el(
      "tr",
      {},
      el("th", { scope: "row" }, el("a", { href: `#/briefings/${encodeURIComponent(b.id)}` }, b.title || b.id)),
      el("td", {}, b.topic || ""),
      el("td", {}, el("code", {}, b.id)),
      el("td", {}, formatDate(b.updatedAt)),
    ),
  );
  return el(
    "div",
    { class: "view briefings" },
    el("h1", {}, "Briefings"),
    el("p", { class: "lead" }, "Each briefing is a Markdown file in the server's briefings folder; an episode started from it gives both AIs its topic, tone and positions."),
    el("p", {}, el("a", { href: "#/briefings/new", class: "button primary", id: "new-briefing" }, "New briefing")),
    briefings.length
      ? el(
          "table",
          { class: "list" },
          el("caption", { class: "visually-hidden" }, "Briefings"),
          el("thead", {}, el("tr", {}, ["Title", "Topic", "File", "Changed"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, rows),
        )
      : el("p", {}, "No briefings yet."),
  );
}

/** A labelled field; `input` is the control, `hint` an optional description. */
function field(id, label, input, hint) {
  input.id = id;
  const parts = [el("label", { for: id }, label)];
  if (hint) {
    const hintId = `${id}-hint`;
    input.setAttribute("aria-describedby", hintId);
    parts.push(el("p", { class: "hint", id: hintId }, hint));
  }
  parts.push(input);
  return el("div", { class: "field" }, parts);
}

const lines = (text) =>
  text
    .split("\n")
    .map((l) => l.replace(/^\s*[-*]\s+/, "").trim())
    .filter(Boolean);

async function editor({ api, navigate }, id) {
  let doc = null;
  if (id) doc = await api(`/api/briefings/${encodeURIComponent(id)}`);
  const fields = (doc && doc.briefing) || {};
  const stances = fields.stances || {};
  const result = statusBox("briefing-result");

  const idInput = el("input", { type: "text", required: true, pattern: ID_PATTERN, autocomplete: "off", spellcheck: "false" });
  const title = el("input", { type: "text", value: fields.title || "" });
  const topic = el("input", { type: "text", required: true, value: fields.topic || "" });
  const tone = el("input", { type: "text", value: fields.tone || "" });
  const minutes = el("input", {
    type: "number",
    min: "1",
    max: "600",
    step: "1",
    value: fields.targetDuration ? Math.round(fields.targetDuration / 60) : "",
  });
  const mustCover = el("textarea", { rows: "5" });
  mustCover.value = (fields.mustCover || []).join("\n");
  const avoid = el("textarea", { rows: "3" });
  avoid.value = (fields.avoidTopics || fields.avoid || []).join("\n");
  const intro = el("textarea", { rows: "4" });
  intro.value = fields.intro || "";
  const claude = el("textarea", { rows: "6" });
  claude.value = stances.claude || "";
  const guest = el("textarea", { rows: "6" });
  guest.value = stances.guest || "";

  // A file that does not parse can only be mended as text.
  const broken = doc && !doc.briefing;
  const markdown = el("textarea", { rows: "20", class: "code", spellcheck: "false" });
  markdown.value = (doc && doc.markdown) || "";

  const form = el("form", { id: "briefing-form", class: "card", novalidate: true });
  if (!id) {
    form.append(field("briefing-id", "File name (id)", idInput, "Letters, digits, '.', '_' or '-'; the file becomes <id>.md."));
  }
  if (broken) {
    const problem = doc.problem || {};
    form.append(
      el("p", { class: "status error", role: "alert" }, `This file does not parse: ${problem.message || "unknown problem"}. Mend it below.`),
      field("briefing-markdown", "Markdown", markdown),
    );
  } else {
    form.append(
      field("briefing-title", "Title", title),
      field("briefing-topic", "Topic (required)", topic, "What the episode is about, in one line."),
      field("briefing-tone", "Tone", tone, "How the conversation should feel, e.g. lively but fair."),
      field("briefing-minutes", "Target length (minutes)", minutes),
      field("briefing-must-cover", "Must cover", mustCover, "One point per line."),
      field("briefing-avoid", "Avoid", avoid, "One subject per line."),
      field("briefing-intro", "Background for both AIs", intro),
      el(
        "fieldset",
        { class: "stances" },
        el("legend", {}, "Positions"),
        field("briefing-claude", "Claude's position (the co-host)", claude),
        field("briefing-guest", "Guest's position", guest),
      ),
    );
  }
  form.append(el("button", { type: "submit", class: "primary", id: "save-briefing" }, id ? "Save briefing" : "Create briefing"));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!id && !idInput.checkValidity()) {
      showError(result, "Give the briefing a file name: letters, digits, '.', '_' or '-'.");
      idInput.focus();
      return;
    }
    if (!broken && !topic.value.trim()) {
      showError(result, "The topic is required.");
      topic.focus();
      return;
    }
    let body;
    if (broken) {
      body = { markdown: markdown.value };
    } else {
      const briefing = {
        ...fields,
        topic: topic.value.trim(),
        mustCover: lines(mustCover.value),
        avoidTopics: lines(avoid.value),
        intro: intro.value.trim(),
        stances: {
          ...(claude.value.trim() ? { claude: claude.value.trim() } : {}),
          ...(guest.value.trim() ? { guest: guest.value.trim() } : {}),
        },
        sections: fields.sections || [],
      };
      delete briefing.avoid;
      for (const [key, input] of [["title", title], ["tone", tone]]) {
        if (input.value.trim()) briefing[key] = input.value.trim();
        else delete briefing[key];
      }
      const m = Number.parseInt(minutes.value, 10);
      if (m > 0) briefing.targetDuration = m * 60;
      else delete briefing.targetDuration;
      body = { briefing };
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      if (id) {
        await api(`/api/briefings/${encodeURIComponent(id)}`, { method: "PUT", json: body });
        showOk(result, `Saved ${id}.md.`);
        announce(`Briefing ${id} saved.`);
        if (broken) navigate(`#/briefings/${encodeURIComponent(id)}`);
      } else {
        const newId = idInput.value.trim();
        await api("/api/briefings", { method: "POST", json: { id: newId, ...body } });
        announce(`Briefing ${newId} created.`);
        navigate(`#/briefings/${encodeURIComponent(newId)}`);
      }
    } catch (error) {
      if (error.status === 409) {
        showError(result, `A briefing named ${idInput.value.trim()} exists already: pick another file name, or open it from the list to edit it.`);
        return;
      }
      const at = error.body && error.body.field ? ` (field ${error.body.field})` : "";
      showError(result, `${error.message}${at}`);
    } finally {
      button.disabled = false;
    }
  });

  return el(
    "div",
    { class: "view briefing-editor" },
    el("p", { class: "crumbs" }, el("a", { href: "#/briefings" }, "Briefings"), " / ", id || "new"),
    el("h1", {}, id ? `Briefing: ${fields.title || id}` : "New briefing"),
    doc && doc.updatedAt ? el("p", { class: "hint" }, `File ${id}.md, changed ${formatDate(doc.updatedAt)}.`) : null,
    form,
    result,
  );
}
