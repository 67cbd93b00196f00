// The producer's controls in the studio: the recording clock, End episode behind a
// confirmation, keyboard shortcuts, and a line typed to the AIs.

import { $, showProblem, studio } from "/console/studio-page.js";
import { setMuted } from "/console/studio-mic.js";

let emit = () => false;

/// `send(event, payload)` emits to the server and says whether it could.
export function initControls(send) {
  emit = send;
}

// ------------------------------------------------------------------------------------------
// The recording clock: from the first moment the studio records (the first microphone audio,
// a typed line or autopilot opens it) to the end of the episode.

let clock = null;

function formatElapsed(ms) {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${m}:${s}` : `${m}:${s}`;
}

function tick() {
  studio.elapsedMs = Date.now() - studio.recordingSince;
  const time = formatElapsed(studio.elapsedMs);
  $("rec-time").textContent = time;
  $("rec-time").setAttribute("datetime", `PT${Math.floor(studio.elapsedMs / 1000)}S`);
}

export function recordingStarted() {
  if (studio.recordingSince !== null || studio.ended) return;
  studio.recordingSince = Date.now();
  const indicator = $("rec");
  indicator.dataset.state = "recording";
  $("rec-label").textContent = "Recording";
  tick();
  clock = setInterval(tick, 250);
}

/// The studio clock read `clockMs` (a caption's time) now: the recording began at least that long
/// ago. A page that joins or reloads mid-show learns the elapsed time from the captions this way.
export function recordingSeen(clockMs) {
  if (typeof clockMs !== "number" || !(clockMs >= 0) || studio.ended) return;
  const since = Date.now() - clockMs;
  if (studio.recordingSince === null) {
    recordingStarted();
  }
  if (since < studio.recordingSince) {
    studio.recordingSince = since;
    tick();
  }
}

export function recordingStopped() {
  clearInterval(clock);
  clock = null;
  const indicator = $("rec");
  indicator.dataset.state = "stopped";
  $("rec-label").textContent = studio.recordingSince === null ? "Not recorded" : "Recorded";
}

// ------------------------------------------------------------------------------------------
// End episode: a dialog first; the safe choice has the focus, Escape keeps recording.

const dialog = $("end-dialog");

export function askToEnd() {
  if (studio.ended || studio.role === "viewer" || $("end-episode").disabled) return;
  if (dialog.open) return;
  studio.endAsked += 1;
  dialog.showModal();
  $("end-cancel").focus();
}

dialog.addEventListener("close", () => {
  if (dialog.returnValue !== "end") return;
  // The next opening starts from "keep": Escape leaves returnValue as it was.
  dialog.returnValue = "";
  if (!emit("client.end-session")) {
    showProblem("Not connected to the studio: the episode was not ended. Try again once connected.");
    return;
  }
  studio.endConfirmed += 1;
  // Nothing more goes to a studio that is ending: audio sent now would reach it after it stopped
  // taking events, and the page would be told it is in no studio instead of hearing it end.
  studio.ending = true;
  $("say-send").disabled = true;
  $("end-episode").disabled = true;
  $("recording").hidden = false;
  $("recording-status").textContent = "Ending the episode and finishing the recording…";
});

$("end-episode").addEventListener("click", askToEnd);

// ------------------------------------------------------------------------------------------
// Autopilot.

export function setAutopilot(on) {
  $("autopilot").checked = on;
  emit("client.toggle-autopilot", on);
}

$("autopilot").addEventListener("change", (e) => emit("client.toggle-autopilot", e.target.checked));

// ------------------------------------------------------------------------------------------
// Keyboard shortcuts, listed on the page. None fires while typing in a field, nor with Ctrl,
// Alt or Meta held (the browser's own shortcuts); Space also leaves a focused button alone.

let talking = false;

// Inputs whose keys are not text (a checkbox, a slider) leave the letter shortcuts on.
const KEYED_INPUTS = ["checkbox", "radio", "range", "button", "submit", "reset", "color", "file"];

function typingIn(target) {
  if (!target || !target.closest) return false;
  const field = target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']");
  if (!field) return false;
  return !(field.tagName === "INPUT" && KEYED_INPUTS.includes(field.type));
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.altKey || e.metaKey || typingIn(e.target) || dialog.open) return;
  if (studio.role === "viewer" || studio.ended) return;
  const key = e.key.toLowerCase();
  if (key === " " || e.code === "Space") {
    // Space presses a focused button or ticks a focused checkbox: that, not push-to-talk.
    if (e.target.closest && e.target.closest("button, a, summary, input")) return;
    e.preventDefault();
    // Push to talk: while held, a muted microphone is live.
    if (!e.repeat && studio.muted && !talking) {
      talking = true;
      studio.shortcuts.push("push-to-talk");
      setMuted(false);
      $("ptt").hidden = false;
    }
    return;
  }
  if (e.repeat) return;
  if (key === "m") {
    studio.shortcuts.push("mute");
    setMuted(!studio.muted);
  } else if (key === "a") {
    studio.shortcuts.push("autopilot");
    setAutopilot(!$("autopilot").checked);
  } else if (key === "e") {
    studio.shortcuts.push("end");
    e.preventDefault();
    askToEnd();
  } else if (key === "t") {
    studio.shortcuts.push("type");
    e.preventDefault();
    $("say-text").focus();
  }
});

document.addEventListener("keyup", (e) => {
  if ((e.key === " " || e.code === "Space") && talking) {
    talking = false;
    setMuted(true);
    $("ptt").hidden = true;
  }
});

// A window that loses focus mid push-to-talk would never see the key come up.
window.addEventListener("blur", () => {
  if (!talking) return;
  talking = false;
  setMuted(true);
  $("ptt").hidden = true;
});

// ------------------------------------------------------------------------------------------
// A typed line: the server takes it as the human's final line and an AI answers it.

const MAX_SAY_CHARS = 1000;

$("say-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const field = $("say-text");
  const text = field.value.trim();
  const status = $("say-status");
  if (!text) {
    status.textContent = "Type something to say first.";
    field.focus();
    return;
  }
  if (text.length > MAX_SAY_CHARS) {
    status.textContent = `That is ${text.length} characters; say at most ${MAX_SAY_CHARS} at a time.`;
    return;
  }
  const to = $("say-to").value;
  const payload = to ? { text, to } : { text };
  if (!emit("text.say", payload)) {
    status.textContent = "Not connected: the line was not sent.";
    return;
  }
  studio.said.push(payload);
  recordingStarted();
  field.value = "";
  status.textContent = to ? `Said to ${to}.` : "Said.";
});

$("say-text").addEventListener("keydown", (e) => {
  // Enter says the line; Shift+Enter is a new line in the box.
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("say-form").requestSubmit();
  }
});
