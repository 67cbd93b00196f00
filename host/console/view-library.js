// The episode library: every past episode (GET /api/episodes, newest first) and one episode's
// page: each track playable, the merged transcript (GET /api/episodes/{id}/transcript), its
// downloads as JSON, Markdown, SRT and VTT, the recorded files, and the stems and mixdown as WAV
// (POST /api/episodes/{id}/stems, made once and kept).
//
// Files are served under /recordings/<folder>/<file>. On an open development server the links
// work as they are; with an admin token the page fetches them with it (a link cannot carry it).

import {
  adminToken,
  announce,
  download,
  el,
  fileUrl,
  formatBytes,
  formatDate,
  formatDuration,
  showError,
  showOk,
  speakerName,
  statusBox,
} from "/console/producer-api.js";

const STATES = { live: "live now", ended: "ended", interrupted: "cut off (the server stopped)" };

export async function render(ctx) {
  const [id] = ctx.rest;
  return id ? episode(ctx, id) : list(ctx);
}

async function list({ api }) {
  const answer = await api("/api/episodes?limit=100");
  const episodes = Array.isArray(answer && answer.episodes) ? answer.episodes : [];
  const items = episodes.map((e) =>
    el(
      "li",
      { class: "card episode" },
      el("h2", {}, el("a", { href: `#/library/${encodeURIComponent(e.id)}` }, e.title || e.episodeId || e.id)),
      el(
        "p",
        { class: "meta" },
        [formatDate(e.startedAt), formatDuration(e.durationMs), STATES[e.state] || e.state, `${e.lines ?? 0} lines`]
          .filter(Boolean)
          .join(" · "),
      ),
      e.briefing ? el("p", { class: "hint" }, `Briefing ${e.briefing}`) : null,
    ),
  );
  return el(
    "div",
    { class: "view library" },
    el("h1", {}, "Episode library"),
    episodes.length
      ? el("ul", { class: "episodes", "aria-label": "Episodes, newest first" }, items)
      : el("p", {}, "No episodes recorded yet. Start one from the home page."),
  );
}

/** A link to a file: a plain link on an open server, a button that fetches it with the token. */
function fileLink(url, name, label) {
  if (!adminToken()) return el("a", { href: url, download: name }, label);
  return el(
    "button",
    {
      type: "button",
      class: "link",
      onclick: async (event) => {
        try {
          await download(url, name);
        } catch (error) {
          event.target.after(el("span", { class: "status error", role: "alert" }, ` ${error.message}`));
        }
      },
    },
    label,
  );
}

const isTrack = (name) => /^(you|claude|guest|mix)\.(webm|wav)$/.test(name);

/** An audio player for a track, labelled by its speaker. */
function player(file) {
  const stem = file.name.split(".")[0];
  const label = `${stem === "mix" ? "Mixdown" : speakerName(stem)} (${file.name.endsWith(".wav") ? "WAV" : "Opus"})`;
  const audio = el("audio", { controls: true, preload: "metadata", "aria-label": label, "data-file": file.name });
  const figure = el("figure", { class: "track" }, el("figcaption", {}, label), audio);
  if (!adminToken()) {
    audio.src = file.url;
  } else {
    const load = el("button", { type: "button" }, `Load ${label}`);
    load.addEventListener("click", async () => {
      load.disabled = true;
      try {
        audio.src = await fileUrl(file.url);
        load.remove();
        audio.focus();
      } catch (error) {
        load.disabled = false;
        load.after(el("span", { class: "status error", role: "alert" }, ` ${error.message}`));
      }
    });
    figure.append(load);
  }
  return figure;
}

async function episode({ api }, id) {
  const path = `/api/episodes/${encodeURIComponent(id)}`;
  const ep = await api(path);
  const files = Array.isArray(ep.files) ? ep.files : [];

  const tracks = el("div", { class: "tracks", id: "tracks" }, files.filter((f) => isTrack(f.name)).map(player));
  const fileList = el(
    "ul",
    { class: "files", id: "files" },
    files.map((f) => el("li", {}, fileLink(f.url, f.name, f.name), ` ${formatBytes(f.bytes)}`)),
  );

  // Stems: made on request, kept; a second request returns the kept files.
  const stemsResult = statusBox("stems-result");
  const stemsButton = el("button", { type: "button", id: "make-stems" }, "Make WAV stems and a mixdown");
  stemsButton.addEventListener("click", async () => {
    stemsButton.disabled = true;
    showOk(stemsResult, "Decoding the tracks…");
    try {
      const made = await api(`${path}/stems`, { method: "POST" });
      const made_files = Array.isArray(made.files) ? made.files : [];
      for (const f of made_files) {
        if (!files.some((known) => known.name === f.name)) {
          files.push(f);
          fileList.append(el("li", {}, fileLink(f.url, f.name, f.name), ` ${formatBytes(f.bytes)}`));
          tracks.append(player(f));
        }
      }
      showOk(stemsResult, `Ready: ${made_files.map((f) => f.name).join(", ")}.`);
      announce("Stems ready.");
    } catch (error) {
      showError(stemsResult, error);
    } finally {
      stemsButton.disabled = false;
    }
  });

  // The transcript, all speakers merged.
  const transcript = el("ol", { class: "transcript", id: "transcript" });
  const transcriptStatus = statusBox("transcript-status");
  try {
    const t = await api(`${path}/transcript?format=json`);
    const lines = Array.isArray(t && t.lines) ? t.lines : [];
    for (const line of lines) {
      transcript.append(
        el(
          "li",
          { "data-speaker": line.speaker },
          el("span", { class: "who" }, speakerName(line.speaker)),
          el("span", { class: "when" }, formatDuration(line.startMs)),
          el("span", { class: "text" }, line.text, line.interrupted ? el("span", { class: "cut" }, " (cut off)") : null),
        ),
      );
    }
    if (!lines.length) showOk(transcriptStatus, "No lines were said in this episode.");
  } catch (error) {
    showError(transcriptStatus, error, false);
  }
  const formats = ["md", "srt", "vtt", "json"].map((format) =>
    fileLink(`${path}/transcript?format=${format}`, `${ep.episodeId || id}.${format}`, format.toUpperCase()),
  );

  return el(
    "div",
    { class: "view episode-page" },
    el("p", { class: "crumbs" }, el("a", { href: "#/library" }, "Library"), " / ", id),
    el("h1", {}, ep.title || ep.episodeId || id),
    el(
      "p",
      { class: "meta" },
      [formatDate(ep.startedAt), formatDuration(ep.durationMs), STATES[ep.state] || ep.state].filter(Boolean).join(" · "),
    ),
    ep.briefing ? el("p", {}, "Briefing ", el("a", { href: `#/briefings/${encodeURIComponent(ep.briefing)}` }, ep.briefing)) : null,
    el("section", { "aria-labelledby": "tracks-heading" }, el("h2", { id: "tracks-heading" }, "Tracks"), tracks),
    el(
      "section",
      { "aria-labelledby": "transcript-heading" },
      el("h2", { id: "transcript-heading" }, "Transcript"),
      el("p", { class: "downloads" }, "Download: ", formats.flatMap((f, i) => (i ? [" · ", f] : [f]))),
      transcriptStatus,
      transcript,
    ),
    el(
      "section",
      { "aria-labelledby": "files-heading" },
      el("h2", { id: "files-heading" }, "Files"),
      fileList,
      el("p", {}, stemsButton),
      stemsResult,
    ),
  );
}
