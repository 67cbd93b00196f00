// The studio console: one page that is the microphone, the speakers and the view of a studio.
// Protocol: docs/PROTOCOL.md (Socket.IO namespace "/"). Standard browser APIs and ES modules,
// no build step: studio-page.js (shared state), studio-voices.js (the AIs' audio and meters),
// studio-mic.js (the microphone), studio-captions.js, studio-controls.js (clock, End,
// shortcuts, typed lines); this file joins the studio and dispatches the server's events.

import { $, AI_SPEAKERS, ERROR_WORDS, SPEAKERS, setConnection, showProblem, studio } from "/console/studio-page.js";
import { playAudioOut, stopVoice } from "/console/studio-voices.js";
import { micRate, startMicrophone, stopMicrophone } from "/console/studio-mic.js";
import { showCaption } from "/console/studio-captions.js";
import {
  initControls,
  recordingSeen,
  recordingStarted,
  recordingStopped,
} from "/console/studio-controls.js";

const ORB_STATES = ["idle", "listening", "thinking", "speaking", "muted", "error"];

window.studioConsole = studio;
// The live socket, for debugging (e.g. dropping the connection to watch the page rejoin); not
// enumerable, so the counters stay plain JSON.
let socket = null;
Object.defineProperty(studio, "socket", { get: () => socket, enumerable: false });

// -------------------------------------------------------------------------------------------
// Access: a host or viewer link (minted by POST /api/episodes) carries a signed token in its
// fragment (#token=…, never sent to a server by the browser) or its query (?token=…). The token
// names the episode and the role; the server checks it, the page only reads it to show them.

function readToken() {
  const url = new URL(window.location.href);
  const fromFragment = new URLSearchParams(url.hash.replace(/^#/, "")).get("token");
  return fromFragment || url.searchParams.get("token") || null;
}

// The token's claims, unverified (the server verifies): {role, ep, exp}.
function tokenClaims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload));
    return claims && typeof claims === "object" ? claims : {};
  } catch {
    return {};
  }
}

const token = readToken();
const claims = token ? tokenClaims(token) : {};
if (token) studio.access = "token";
if (claims.role === "viewer") studio.role = "viewer";

// -------------------------------------------------------------------------------------------
// Episode: the id comes from ?episode=…; without one the page makes one and writes it into the
// address, so a reload and every automatic reconnect say hello to the same studio. A link's
// token names its episode instead.

function chooseEpisodeId() {
  if (token) return typeof claims.ep === "string" ? claims.ep : null;
  const url = new URL(window.location.href);
  const given = url.searchParams.get("episode");
  if (given && /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(given)) return given;
  const made = `episode-${Date.now()}`;
  url.searchParams.set("episode", made);
  window.history.replaceState(null, "", url);
  return made;
}
studio.episodeId = chooseEpisodeId();
$("episode-id").textContent = studio.episodeId || "–";

function showTitle(snapshot) {
  const title =
    (snapshot.briefing && snapshot.briefing.title) || snapshot.briefingTitle || snapshot.title;
  const episode = snapshot.episodeId || studio.episodeId;
  $("episode-title").textContent = title || episode;
  document.title = `${title || episode} – voice-studio`;
}
showTitle({});

// What the page says when the server refuses its link, in the connection line.
const REFUSALS = {
  unauthorized: token
    ? "This link is not valid on this server: ask the producer for a new link."
    : "No access token: ask the producer for a link to this studio.",
  "token-expired": "This link has expired: ask the producer for a new link.",
  forbidden: "This link is for another episode: ask the producer for a link to this one.",
};

// A viewer sees and hears; the microphone and the controls are the host's.
function showRole() {
  if (studio.role !== "viewer") return;
  for (const id of ["mic-controls", "say-box", "shortcuts-box", "end-episode"]) $(id).hidden = true;
  $("level-you").closest("label").hidden = true;
  $("autopilot").closest("label").hidden = true;
  studio.micState = "off";
  $("mic-status").textContent =
    "Viewer link: you see and hear the studio; the host has the microphone and the controls.";
}
showRole();

// -------------------------------------------------------------------------------------------
// Orbs and the thinking countdown.

function setOrb(speaker, state) {
  if (!SPEAKERS.includes(speaker) || !ORB_STATES.includes(state)) return;
  studio.orbs[speaker] = state;
  const history = studio.orbHistory[speaker];
  if (history[history.length - 1] !== state) history.push(state);
  $(`orb-${speaker}`).dataset.state = state;
  $(`orb-label-${speaker}`).textContent = state;
  // Something happens in the studio: it records (a viewer learns it this way).
  if (state !== "idle") recordingStarted();
}

let thinkingTimer = null;

function showThinking(speaker, endsAt) {
  clearInterval(thinkingTimer);
  const line = $("thinking");
  const tick = () => {
    const left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
    line.textContent = `${speaker} is thinking: ${left} s left`;
  };
  tick();
  line.hidden = false;
  thinkingTimer = setInterval(tick, 250);
}

function hideThinking() {
  clearInterval(thinkingTimer);
  thinkingTimer = null;
  $("thinking").hidden = true;
}

function showSharedScreen(screen) {
  if (screen && screen.mode === "thinking" && screen.thinking) {
    showThinking(screen.thinking.speaker, screen.thinking.endsAt);
  } else {
    hideThinking();
  }
}

// -------------------------------------------------------------------------------------------
// Microphone frames to the studio.

function onMicFrame({ pcm }) {
  if (studio.muted || !studio.joined || studio.ended || studio.ending) return;
  if (!socket || !socket.connected) return;
  socket.emit("audio.chunk", pcm);
  studio.chunksSent += 1;
  // The studio's recording opens with the first audio it takes.
  recordingStarted();
}

// -------------------------------------------------------------------------------------------
// Connection.

function applySnapshot(snapshot) {
  if (!snapshot || !snapshot.orbStates) return;
  for (const speaker of SPEAKERS) setOrb(speaker, snapshot.orbStates[speaker]);
  // Newest first in the snapshot; the page lists oldest first.
  const captions = Array.isArray(snapshot.captions) ? [...snapshot.captions].reverse() : [];
  studio.snapshotCaptionIds = captions.map((c) => c.id);
  captions.forEach(showCaption);
  // The newest caption's time on the studio clock: how long the show has run at least.
  const newest = captions[captions.length - 1];
  if (newest) recordingSeen(newest.endMs ?? newest.startMs);
  studio.autopilot = Boolean(snapshot.autopilot);
  $("autopilot").checked = studio.autopilot;
  if (studio.autopilot) recordingStarted();
  showSharedScreen(snapshot.sharedScreen);
  if (studio.joined) showTitle(snapshot);
}

function hello() {
  studio.joined = false;
  studio.hellos += 1;
  const payload = {
    participantName: studio.role === "viewer" ? "console viewer" : "console",
    // The microphone at its own rate: the host resamples it (better than the page could).
    inputFormat: { encoding: "pcm_s16le", sampleRate: studio.micRate, channels: 1 },
  };
  // With a link the token picks the episode; it rides in hello as well as in the handshake.
  if (token) payload.token = token;
  else payload.episodeId = studio.episodeId;
  socket.emit("hello", payload);
}

// The server refused the link: say so plainly and stop asking (a reload tries again).
function refused(code) {
  studio.access = code;
  studio.joined = false;
  setConnection("refused", REFUSALS[code]);
  if (studio.micState !== "unavailable") studio.micState = "off";
  stopMicrophone();
  $("mic-status").textContent = "The microphone is off: this page is not in a studio.";
  for (const id of ["mute", "autopilot", "end-episode", "say-send"]) $(id).disabled = true;
}

function endedBy(end) {
  studio.ended = true;
  studio.joined = false;
  AI_SPEAKERS.forEach((speaker) => stopVoice(speaker, "session-end"));
  recordingStopped();
  const why = {
    ended: "it was ended",
    idle: "everyone left",
    shutdown: "the server is shutting down",
    "internal-error": "the studio failed",
  }[end && end.reason] || "it ended";
  setConnection("ended", `Episode ended (${why})`);
  $("say-send").disabled = true;
  $("recording").hidden = false;
  if (!studio.recordingFiles.length) {
    $("recording-status").textContent = "Waiting for the recording…";
  }
}

function connect() {
  if (typeof window.io !== "function") {
    setConnection("disconnected", "Could not load the Socket.IO client.");
    return;
  }
  // The episode rides in the connection's URL too: a host of a cluster finds the episode's host
  // by it before any event is read (docs/SCALING.md).
  socket = window.io({
    transports: ["websocket"],
    auth: token ? { token } : {},
    query: studio.episodeId ? { episodeId: studio.episodeId } : {},
  });

  socket.on("connect", () => {
    studio.connected = true;
    setConnection("connected", "Connected");
    // Every (re)connection says hello with the same episode id, so the page finds its studio.
    if (!studio.ended && !studio.ending && !REFUSALS[studio.access]) hello();
  });
  socket.on("disconnect", (reason) => {
    studio.connected = false;
    studio.joined = false;
    setConnection("reconnecting", `Disconnected (${reason}); reconnecting…`);
  });
  socket.io.on("reconnect_attempt", (attempt) => {
    studio.reconnects = attempt;
    setConnection("reconnecting", `Reconnecting (attempt ${attempt})…`);
  });
  socket.on("connect_error", (e) => {
    setConnection("reconnecting", `Cannot reach the server (${e.message}); retrying…`);
  });

  socket.on("server.ack", (text) => {
    if (typeof text === "string" && text.startsWith("hello ")) studio.joined = true;
  });
  socket.on("state.snapshot", applySnapshot);
  socket.on("orb.state", setOrb);
  socket.on("caption", (caption) => {
    showCaption(caption);
    if (caption) recordingSeen(caption.endMs ?? caption.startMs);
  });
  socket.on("mode.thinking", (m) => showThinking(m.speaker, m.startedAt + m.durationMs));
  socket.on("mode.normal", hideThinking);
  socket.on("shared-screen.state", showSharedScreen);
  socket.on("audio.out", (m) => {
    playAudioOut(m).catch((e) => showProblem(`Could not play audio: ${e.message}`));
  });
  socket.on("audio.stop", (m) => {
    if (m && AI_SPEAKERS.includes(m.speaker)) stopVoice(m.speaker, m.reason);
  });
  socket.on("error", (e) => {
    // A refused hello (no token, an expired or foreign one, another episode's) ends the page's
    // attempts; a forbidden action in a studio is only a problem to show.
    if (e && REFUSALS[e.code] && !studio.joined) {
      refused(e.code);
      return;
    }
    const words = (e && ERROR_WORDS[e.code]) || "The server reported a problem.";
    showProblem(e && e.message ? `${words} (${e.message})` : words);
    if (e && e.code === "text-too-long") $("say-status").textContent = words;
    // Rejoin a studio the page lost, but never one it is ending: that would open a new one.
    const rejoin = !studio.ended && !studio.ending && !REFUSALS[studio.access];
    if (e && e.code === "not-in-studio" && rejoin) hello();
  });
  socket.on("recording.ready", showRecording);
  socket.on("session.end", endedBy);
}

// Emits when connected and in the studio; says whether it could.
function send(event, payload) {
  if (!socket || !socket.connected || studio.ended || studio.ending) return false;
  if (payload === undefined) socket.emit(event);
  else socket.emit(event, payload);
  return true;
}

// -------------------------------------------------------------------------------------------
// The transcript from the episode store (every final line of the three speakers, merged), by
// the recording's folder: the episode id until recording.ready names the folder of this take.

function transcriptHref(folder, format) {
  const query = new URLSearchParams({ format });
  if (token) query.set("token", token);
  return `/api/episodes/${encodeURIComponent(folder)}/transcript?${query}`;
}

function showTranscriptLinks(folder) {
  if (!folder) return;
  studio.transcriptFolder = folder;
  $("full-transcript").href = transcriptHref(folder, "md");
  for (const format of ["md", "srt", "vtt"]) {
    $(`transcript-${format}`).href = transcriptHref(folder, format);
  }
}
showTranscriptLinks(studio.episodeId);

// -------------------------------------------------------------------------------------------
// The recording's files.

// The host serves recordings only through the signed, expiring links of recording.ready
// (`details[].url`); a file without one gets a plain path, which answers 404.
function recordingHref(episodeId, file, details) {
  const name = file.split("/").pop();
  const signed = details.find((d) => d && d.name === name && typeof d.url === "string");
  if (signed && signed.url.startsWith("/recordings/")) return signed.url;
  const path = file.includes("/") ? file : `${episodeId}/${file}`;
  return `/recordings/${path.split("/").map(encodeURIComponent).join("/")}`;
}

function showRecording(ready) {
  if (!ready || !Array.isArray(ready.files)) return;
  const episode = ready.episodeId || studio.episodeId;
  const details = Array.isArray(ready.details) ? ready.details : [];
  studio.recordingFiles = ready.files.map((f) => recordingHref(episode, f, details));
  $("recording").hidden = false;
  $("recording-status").textContent =
    `The recording of ${episode} is ready: ${ready.files.length} files.`;
  showTranscriptLinks(ready.folder || episode);
  const list = $("recording-files");
  list.replaceChildren();
  ready.files.forEach((file, i) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = studio.recordingFiles[i];
    link.download = file.split("/").pop();
    link.textContent = file;
    item.append(link);
    list.append(item);
  });
  $("end-episode").disabled = true;
}

initControls(send);
if (studio.role !== "viewer") {
  // The rate goes into hello, so it is known before connecting: the context's own.
  studio.micRate = micRate();
}
connect();
if (studio.role !== "viewer") {
  startMicrophone(onMicFrame, () => Boolean(REFUSALS[studio.access])).catch((e) =>
    showProblem(`The microphone could not start: ${e.message}`),
  );
}
