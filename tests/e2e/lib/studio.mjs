// Shared parts of the live-studio end-to-end suites: a recording Socket.IO client, a real-time
// microphone that streams 20 ms PCM frames, and spoken clips made with espeak-ng and sox.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";

/// 20 ms of 48 kHz mono s16le: what the studio expects per frame.
export const FRAME_BYTES = 1920;
export const FRAME_MS = 20;
/// The format the host announces for PCM audio.out.
export const PCM_FORMAT = "pcm_s16le;rate=48000;channels=1";

/// A guard against hanging forever when an expected event never comes; not a timing assertion.
export const EVENT_DEADLINE_MS = 20_000;

/// Speaks `text` with espeak-ng and returns it as 48 kHz mono s16le PCM (a Buffer).
export function spokenClip(text) {
  const dir = mkdtempSync(join(tmpdir(), "studio-speech-"));
  try {
    const wav = join(dir, "clip.wav");
    const raw = join(dir, "clip.raw");
    execFileSync("espeak-ng", ["-s", "190", "-w", wav, text]);
    execFileSync("sox", [wav, "-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", raw]);
    const pcm = readFileSync(raw);
    // Whole 20 ms frames, so every chunk is one frame.
    return pcm.subarray(0, pcm.length - (pcm.length % FRAME_BYTES));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/// A client that records every event with its arrival time, so a test can wait for the next
/// event of a kind (in arrival order) without racing the listener registration, and look back
/// at everything it got.
export function studioClient(url, open = [], options = {}) {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, ...options });
  open.push(socket);
  const received = [];
  const waiters = new Set();
  socket.onAny((event, ...args) => {
    received.push({ event, args, at: performance.now(), taken: false });
    for (const w of [...waiters]) w();
  });

  /// The next not yet taken `event` whose arguments satisfy `matches`.
  function next(event, matches = () => true, deadlineMs = EVENT_DEADLINE_MS) {
    return new Promise((resolve, reject) => {
      const look = () => {
        const hit = received.find((r) => !r.taken && r.event === event && matches(...r.args));
        if (!hit) return false;
        hit.taken = true;
        waiters.delete(look);
        clearTimeout(timer);
        resolve(hit.args);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(look);
        const got = summary();
        reject(new Error(`no matching ${event} event arrived (received: ${got})`));
      }, deadlineMs);
      waiters.add(look);
      look();
    });
  }

  /// Marks everything received so far as taken (start of a new step).
  function skipAll() {
    for (const r of received) r.taken = true;
  }

  /// Every `event` received so far (taken or not), with arrival times.
  function all(event) {
    return received.filter((r) => r.event === event);
  }

  function summary() {
    const counts = new Map();
    for (const r of received) {
      const key = r.event === "orb.state" ? `orb.state(${r.args[0]}:${r.args[1]})` : r.event;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([k, n]) => `${k} x${n}`).join(", ");
  }

  return { socket, next, skipAll, all, summary, received };
}

/// A client that has joined `episodeId` (hello acknowledged, snapshot received).
export async function joinedClient(url, episodeId, participantName, open, options = {}) {
  const c = studioClient(url, open, options);
  await c.next("server.ack", (m) => m === "connected");
  c.socket.emit("hello", { episodeId, participantName });
  await c.next("server.ack", (m) => m === `hello ${participantName}`);
  await c.next("state.snapshot", (s) => s && s.orbStates);
  return c;
}

/// A microphone on a client: sends one 20 ms frame every 20 ms of wall clock (catching up when a
/// timer fires late, like a browser's audio worklet), silence unless a clip is being spoken.
export class Microphone {
  constructor(socket) {
    this.socket = socket;
    this.queue = [];
    this.sent = 0;
    this.timer = null;
    this.speechSentAt = [];
  }

  start() {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.#tick(), 10);
    return this;
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /// Queues `pcm` to be spoken in real time; resolves with the wall time its last frame was sent
  /// (the end of speech as the client knows it). `onStart` is called with the wall time of its
  /// first frame.
  say(pcm, onStart = () => {}) {
    return new Promise((resolve) => {
      this.queue.push({ pcm, offset: 0, resolve, onStart });
    });
  }

  #tick() {
    const due = Math.floor((performance.now() - this.startedAt) / FRAME_MS);
    while (this.sent < due) {
      this.sent += 1;
      const clip = this.queue[0];
      if (!clip) {
        this.socket.emit("audio.chunk", Buffer.alloc(FRAME_BYTES));
        continue;
      }
      if (clip.offset === 0) clip.onStart(performance.now());
      const frame = clip.pcm.subarray(clip.offset, clip.offset + FRAME_BYTES);
      clip.offset += FRAME_BYTES;
      this.socket.emit("audio.chunk", frame);
      if (clip.offset >= clip.pcm.length) {
        this.queue.shift();
        clip.resolve(performance.now());
      }
    }
  }
}

/// Resolves after `ms` (to let real-time audio play on; never used to assert timing).
export function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/// Checks an `audio.out` payload as the protocol defines it; returns its byte length.
export function payloadBytes(out) {
  const p = out.payload;
  if (p instanceof ArrayBuffer) return p.byteLength;
  if (ArrayBuffer.isView(p)) return p.byteLength;
  throw new Error(`audio.out payload is not binary: ${typeof p}`);
}
