// The AIs' voices out: frames scheduled back to back on the AudioContext's clock, per speaker,
// each voice through an AnalyserNode that feeds its level meter.

import { $, AI_SPEAKERS, showProblem, studio } from "/console/studio-page.js";

// How far ahead of "now" the first frame of a stream is scheduled: enough to absorb network
// jitter between 20-100 ms frames, short enough that a reply still feels immediate.
const PLAYBACK_LEAD_S = 0.08;
// A frame that would start sooner than this is late: the stream restarts with a fresh lead
// instead of playing clipped or overlapping audio.
const LATE_MARGIN_S = 0.01;

let audioContext = null;
const voices = {};

export function ensureAudioContext() {
  if (audioContext) return audioContext;
  const Context = window.AudioContext || window.webkitAudioContext;
  // The device's own rate: Firefox refuses to connect a microphone to a context of another
  // rate. Frames at 48 kHz are resampled by the browser when played.
  audioContext = new Context({ latencyHint: "interactive" });
  for (const speaker of AI_SPEAKERS) {
    // source -> analyser (the meter hears the voice before the volume slider) -> gain -> out.
    const analyser = audioContext.createAnalyser();
    analyser.fftSize = 1024;
    const gain = audioContext.createGain();
    gain.gain.value = Number($(`volume-${speaker}`).value) / 100;
    analyser.connect(gain);
    gain.connect(audioContext.destination);
    voices[speaker] = {
      analyser,
      gain,
      samples: new Float32Array(analyser.fftSize),
      nextTime: 0,
      sources: new Set(),
      decoder: null,
      decoderFormat: "",
    };
  }
  if (audioContext.state !== "running") offerAudioStart();
  audioContext.addEventListener("statechange", () => {
    if (audioContext.state === "running") $("audio-start").hidden = true;
  });
  return audioContext;
}

// Browsers without an autoplay exemption keep a new context suspended until the user acts.
function offerAudioStart() {
  const button = $("audio-start");
  button.hidden = false;
  const resume = () => {
    audioContext.resume().catch(() => {});
  };
  button.addEventListener("click", resume);
  document.addEventListener("pointerdown", resume, { once: true });
  document.addEventListener("keydown", resume, { once: true });
}

for (const speaker of AI_SPEAKERS) {
  $(`volume-${speaker}`).addEventListener("input", (e) => {
    const voice = voices[speaker];
    if (voice) voice.gain.gain.value = Number(e.target.value) / 100;
  });
}

// A level 0..1 on a dB-like scale, so speech moves a meter visibly: -60 dBFS -> 0, 0 dBFS -> 1.
export function levelOf(rms) {
  const db = 20 * Math.log10(Math.max(rms, 1e-6));
  return Math.max(0, Math.min(1, (db + 60) / 60));
}

export function showLevel(speaker, level) {
  studio.levels[speaker] = level;
  if (level > studio.levelPeaks[speaker]) studio.levelPeaks[speaker] = level;
  $(`level-${speaker}`).value = level;
}

// The AIs' meters, read from what plays ten times a second (a timer, not animation frames, so
// a hidden tab keeps its meters honest too).
setInterval(() => {
  for (const speaker of AI_SPEAKERS) {
    const voice = voices[speaker];
    if (!voice) continue;
    voice.analyser.getFloatTimeDomainData(voice.samples);
    let sum = 0;
    for (const s of voice.samples) sum += s * s;
    showLevel(speaker, levelOf(Math.sqrt(sum / voice.samples.length)));
  }
}, 100);

function parseFormat(format) {
  const [encoding, ...params] = String(format || "").split(";");
  const out = { encoding: encoding.trim(), rate: 48000, channels: 1 };
  for (const p of params) {
    const [k, v] = p.split("=").map((s) => s.trim());
    if (k === "rate") out.rate = Number(v) || 48000;
    if (k === "channels") out.channels = Number(v) || 1;
  }
  return out;
}

async function payloadBytes(payload) {
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  if (ArrayBuffer.isView(payload)) {
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  if (payload instanceof Blob) return new Uint8Array(await payload.arrayBuffer());
  return null;
}

function schedule(speaker, planar, rate) {
  const ctx = ensureAudioContext();
  const voice = voices[speaker];
  const length = planar[0].length;
  if (length === 0) return;
  const buffer = ctx.createBuffer(planar.length, length, rate);
  planar.forEach((data, ch) => buffer.copyToChannel(data, ch));
  const source = ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(voice.analyser);
  if (voice.nextTime < ctx.currentTime + LATE_MARGIN_S) {
    voice.nextTime = ctx.currentTime + PLAYBACK_LEAD_S;
  }
  source.start(voice.nextTime);
  voice.nextTime += buffer.duration;
  voice.sources.add(source);
  source.onended = () => voice.sources.delete(source);
  studio.framesScheduled[speaker] += 1;
}

function decodePcm(bytes, channels) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames = Math.floor(bytes.byteLength / (2 * channels));
  const planar = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) {
    for (let ch = 0; ch < channels; ch++) {
      planar[ch][i] = view.getInt16((i * channels + ch) * 2, true) / 32768;
    }
  }
  return planar;
}

// Opus frames go through WebCodecs where the browser has it; one decoder per speaker keeps
// each voice's packet order.
function opusDecoder(speaker, fmt) {
  const voice = voices[speaker];
  const key = `${fmt.rate}/${fmt.channels}`;
  if (voice.decoder && voice.decoderFormat === key && voice.decoder.state === "configured") {
    return voice.decoder;
  }
  if (typeof window.AudioDecoder !== "function") return null;
  const decoder = new window.AudioDecoder({
    output: (data) => {
      const planar = [];
      for (let ch = 0; ch < data.numberOfChannels; ch++) {
        const plane = new Float32Array(data.numberOfFrames);
        data.copyTo(plane, { planeIndex: ch, format: "f32-planar" });
        planar.push(plane);
      }
      const rate = data.sampleRate;
      data.close();
      schedule(speaker, planar, rate);
    },
    error: (e) => showProblem(`Could not decode ${speaker}'s audio: ${e.message}`),
  });
  decoder.configure({ codec: "opus", sampleRate: fmt.rate, numberOfChannels: fmt.channels });
  voice.decoder = decoder;
  voice.decoderFormat = key;
  voice.opusTimestamp = 0;
  return decoder;
}

export async function playAudioOut(message) {
  const speaker = message && message.speaker;
  if (!AI_SPEAKERS.includes(speaker)) return;
  studio.framesReceived[speaker] += 1;
  ensureAudioContext();
  const bytes = await payloadBytes(message.payload);
  const fmt = parseFormat(message.format);
  if (!bytes || bytes.byteLength === 0) {
    studio.framesDropped[speaker] += 1;
    return;
  }
  if (fmt.encoding === "pcm_s16le") {
    schedule(speaker, decodePcm(bytes, fmt.channels), fmt.rate);
  } else if (fmt.encoding === "opus") {
    const decoder = opusDecoder(speaker, fmt);
    if (!decoder) {
      studio.framesDropped[speaker] += 1;
      showProblem("This browser cannot decode Opus audio (no WebCodecs).");
      return;
    }
    const voice = voices[speaker];
    decoder.decode(
      new window.EncodedAudioChunk({ type: "key", timestamp: voice.opusTimestamp, data: bytes }),
    );
    voice.opusTimestamp += 20000;
  } else {
    studio.framesDropped[speaker] += 1;
    showProblem(`Unknown audio format from ${speaker}: ${message.format}`);
  }
}

// Barge-in: everything of that voice that is playing or scheduled stops now.
export function stopVoice(speaker, reason) {
  const voice = voices[speaker];
  studio.stops[speaker] = (studio.stops[speaker] || 0) + 1;
  studio.lastStop = { speaker, reason, playing: voice ? voice.sources.size : 0 };
  studio.stopHistory.push(studio.lastStop);
  if (!voice) return;
  for (const source of voice.sources) {
    try {
      source.stop();
    } catch {
      // Already stopped.
    }
  }
  voice.sources.clear();
  voice.nextTime = 0;
  if (voice.decoder && voice.decoder.state === "configured") voice.decoder.reset();
  voice.decoder = null;
}
