// Microphone in: the device the producer picked (remembered), headphone mode (the browser's echo
// cancellation, noise suppression and gain control off), an AudioWorklet that cuts 20 ms PCM
// s16le mono frames at the context's own rate, and mute.

import { $, remembered, studio } from "/console/studio-page.js";
import { ensureAudioContext, levelOf, showLevel } from "/console/studio-voices.js";

// The PCM rates the host's decoder takes (host/src/audio/input.rs); it resamples them to 48 kHz.
const HOST_RATES = [8000, 16000, 22050, 24000, 32000, 44100, 48000];

let onFrame = () => {};
let stream = null;
let track = null;
let source = null;
let frames = null;

/// The rate the microphone is sent at: the context's own when the host takes it, else 48 kHz
/// (converted in the worklet).
export function micRate() {
  const rate = ensureAudioContext().sampleRate;
  return HOST_RATES.includes(rate) ? rate : 48000;
}

// What getUserMedia is asked for. Headphone mode turns the browser's processing off: nothing
// plays into the microphone to cancel, and noise suppression and gain control colour a voice
// that a studio microphone already captures cleanly.
export function constraintsFor(deviceId, headphones) {
  const processing = !headphones;
  const audio = {
    channelCount: 1,
    echoCancellation: processing,
    noiseSuppression: processing,
    autoGainControl: processing,
  };
  if (deviceId) audio.deviceId = { exact: deviceId };
  return { audio, video: false };
}

function micProblem(text) {
  studio.micState = "unavailable";
  const status = $("mic-status");
  status.textContent = text;
  status.dataset.problem = "";
  $("mute").disabled = true;
}

function describe() {
  if (studio.micState !== "live") return;
  const ctx = ensureAudioContext();
  const status = $("mic-status");
  delete status.dataset.problem;
  if (ctx.state !== "running") {
    // A suspended context (no autoplay permission yet) captures nothing: say what unblocks it.
    status.textContent = "Press “Turn on sound” to start the microphone and voices.";
  } else if (studio.muted) {
    status.textContent = "Microphone muted.";
  } else {
    const mode = studio.headphones ? "headphone mode" : "speaker mode";
    const rate = `${(studio.micRate / 1000).toFixed(1)} kHz`;
    status.textContent = `Microphone on: ${track.label || "default input"} (${mode}, ${rate}).`;
  }
}

async function listDevices() {
  if (!navigator.mediaDevices.enumerateDevices) return;
  const all = await navigator.mediaDevices.enumerateDevices();
  const inputs = all.filter((d) => d.kind === "audioinput");
  studio.micDevices = inputs.map((d, i) => ({
    deviceId: d.deviceId,
    label: d.label || `Microphone ${i + 1}`,
  }));
  const select = $("mic-device");
  select.replaceChildren(
    ...studio.micDevices.map((d) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label;
      return option;
    }),
  );
  const current = track && track.getSettings ? track.getSettings().deviceId : "";
  if (current && studio.micDevices.some((d) => d.deviceId === current)) select.value = current;
  select.disabled = studio.micDevices.length === 0;
}

// Opens (or reopens, after a new device or mode) the microphone and routes it to the worklet.
async function openMicrophone() {
  const ctx = ensureAudioContext();
  const wanted = constraintsFor(studio.micDeviceId, studio.headphones);
  let next;
  try {
    next = await navigator.mediaDevices.getUserMedia(wanted);
  } catch (e) {
    const name = e && e.name;
    if (studio.micDeviceId && (name === "OverconstrainedError" || name === "NotFoundError")) {
      // The remembered device is gone: the default one, and forget it.
      studio.micDeviceId = "";
      remembered.set("micDevice", "");
      return openMicrophone();
    }
    if (name === "NotAllowedError" || name === "SecurityError") {
      micProblem(
        "The browser denied the microphone. Allow it for this site (the icon in the address bar) and reload.",
      );
    } else if (name === "NotFoundError" || name === "OverconstrainedError") {
      micProblem("No microphone found. Connect one and reload the page.");
    } else if (name === "NotReadableError") {
      micProblem("The microphone is in use by another program or failed. Free it and reload.");
    } else {
      micProblem(`The microphone could not start: ${e && e.message ? e.message : e}`);
    }
    return false;
  }
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (source) source.disconnect();
  stream = next;
  track = stream.getAudioTracks()[0];
  track.enabled = !studio.muted;
  studio.micConstraints = wanted.audio;
  studio.micSettings = track.getSettings ? track.getSettings() : null;
  source = ctx.createMediaStreamSource(stream);
  source.connect(frames);
  track.addEventListener("ended", () => {
    if (studio.micState === "live") micProblem("The microphone was disconnected.");
  });
  studio.micState = "live";
  $("mute").disabled = false;
  describe();
  await listDevices();
  return true;
}

/// Starts the microphone; `sink({pcm, rms})` gets every 20 ms frame. `refused()` says whether
/// the page was refused meanwhile (the microphone is released at once then).
export async function startMicrophone(sink, refused) {
  onFrame = sink;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    micProblem("This page cannot use a microphone here: open it over https or on localhost.");
    return;
  }
  studio.micDeviceId = remembered.get("micDevice", "");
  studio.headphones = remembered.get("headphones", "false") === "true";
  $("headphones").checked = studio.headphones;
  const ctx = ensureAudioContext();
  studio.micRate = micRate();
  try {
    await ctx.audioWorklet.addModule("/console/mic-worklet.js");
  } catch (e) {
    micProblem(`The audio capture could not start: ${e.message}`);
    return;
  }
  frames = new AudioWorkletNode(ctx, "mic-frames", {
    numberOfInputs: 1,
    numberOfOutputs: 0,
    channelCount: 1,
    channelCountMode: "explicit",
    channelInterpretation: "speakers",
    processorOptions: { outRate: studio.micRate },
  });
  frames.port.onmessage = (event) => {
    const { rms } = event.data;
    showLevel("you", studio.muted ? 0 : levelOf(rms));
    onFrame(event.data);
  };
  if (!(await openMicrophone())) return;
  if (refused()) {
    stopMicrophone();
    return;
  }
  ctx.addEventListener("statechange", describe);
  navigator.mediaDevices.addEventListener("devicechange", () => listDevices().catch(() => {}));
}

export function stopMicrophone() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
}

export function setMuted(muted) {
  studio.muted = muted;
  // Disabling the track also silences the browser's own capture, not only our sending.
  if (track) track.enabled = !muted;
  const button = $("mute");
  button.setAttribute("aria-pressed", String(muted));
  button.textContent = muted ? "Unmute microphone" : "Mute microphone";
  describe();
}

$("mute").addEventListener("click", () => setMuted(!studio.muted));

$("mic-device").addEventListener("change", (e) => {
  studio.micDeviceId = e.target.value;
  remembered.set("micDevice", studio.micDeviceId);
  openMicrophone().catch((error) => micProblem(`The microphone could not start: ${error}`));
});

$("headphones").addEventListener("change", (e) => {
  studio.headphones = e.target.checked;
  remembered.set("headphones", String(studio.headphones));
  openMicrophone().catch((error) => micProblem(`The microphone could not start: ${error}`));
});
