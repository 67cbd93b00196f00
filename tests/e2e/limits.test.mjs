// Per-client limits end to end (docs/SECURITY.md, "Limits: clients"): the hello and control-event
// token buckets, studios per address, and the microphone's real-time budget, against the real
// server with its default limits except MAX_STUDIOS_PER_IP=4.
//
// Needs a server started for it: `cargo test -p voice-studio --test it server::rate_limits` runs this file with
// STUDIO_LIMITS_REPORT (a file this suite writes what it sent to, so the Rust side can hold the
// studios' audio counters in the server log against it). Defines no test in the other suites of
// this folder. Each scenario speaks from its own loopback address (127.0.0.x; Linux routes all of
// 127/8 to lo), so the per-address limits of one do not touch another.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { FRAME_BYTES, FRAME_MS, Microphone, joinedClient, pause, studioClient } from "./lib/studio.mjs";

const URL = process.env.STUDIO_URL;
const REPORT = process.env.STUDIO_LIMITS_REPORT;
const ON = Boolean(URL && REPORT);

const open = [];
after(() => open.forEach((s) => s.close()));

const report = {};

let counter = 0;
function uniqueEpisode(what) {
  counter += 1;
  return `limits-${what}-${process.pid}-${counter}`;
}

/// Sends an event no bucket limits and waits for its error: the server handles a client's
/// events in order, so everything sent before it has been handled.
async function drained(c) {
  c.socket.emit("audio.chunk", "not binary");
  await c.next("error", (e) => e.code === "audio-not-binary" || e.code === "not-in-studio");
}

/// Waits until `count()` has stayed the same for 300 ms (at most 5 s).
async function settled(count) {
  const until = performance.now() + 5000;
  let last = count();
  let quietSince = performance.now();
  while (performance.now() < until && performance.now() - quietSince < 300) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const now = count();
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    }
  }
}

function errors(c, code) {
  return c.all("error").filter((r) => r.args[0]?.code === code).map((r) => r.args[0]);
}

/// At most one notice a second: how many a burst that took `ms` may have earned.
function noticesAllowed(ms) {
  return Math.floor(ms / 1000) + 1;
}

describe("per-client limits", { skip: !ON && "run by cargo test -p voice-studio --test it server::rate_limits" }, () => {
  test("a hello storm is cut to the bucket with rate-limited errors and the client stays connected", async () => {
    const c = studioClient(URL, open, { localAddress: "127.0.0.2" });
    await c.next("server.ack", (m) => m === "connected");
    const episodeId = uniqueEpisode("hello");
    const started = performance.now();
    for (let i = 0; i < 30; i += 1) c.socket.emit("hello", { episodeId, participantName: "storm" });
    await drained(c);
    const ms = performance.now() - started;

    const acks = c.all("server.ack").filter((r) => r.args[0] === "hello storm").length;
    // The burst of 5, plus what 2 per second refilled while the storm was handled.
    assert.ok(acks >= 5 && acks <= 5 + Math.ceil((ms / 1000) * 2), `${acks} hellos answered in ${ms} ms`);
    const limited = errors(c, "rate-limited");
    assert.ok(limited.length >= 1 && limited.length <= noticesAllowed(ms), `${limited.length} notices in ${ms} ms`);
    assert.match(limited[0].message, /HELLO_RATE/);

    // Still connected, still in its studio, and its other events are not limited by hellos.
    assert.ok(c.socket.connected);
    c.skipAll();
    c.socket.emit("client.request-state");
    const [snapshot] = await c.next("state.snapshot");
    assert.ok(snapshot.orbStates);
  });

  test("forty request-state events in a burst: the bucket's worth answered, one rate-limited error a second", async () => {
    const c = await joinedClient(URL, uniqueEpisode("control"), "spammer", open, { localAddress: "127.0.0.3" });
    const before = c.all("state.snapshot").length;
    const started = performance.now();
    for (let i = 0; i < 40; i += 1) c.socket.emit("client.request-state");
    await drained(c);
    const ms = performance.now() - started;
    // The gateway has admitted or dropped all forty by now; the studio answers the admitted ones
    // in its own time (on a busy machine after the drain's error): wait until it has gone quiet.
    await settled(() => c.all("state.snapshot").length);

    const answered = c.all("state.snapshot").length - before;
    assert.ok(answered >= 20, `only ${answered} answered: the burst is 20`);
    assert.ok(answered < 40, "some were dropped");
    assert.ok(answered <= 20 + Math.ceil((ms / 1000) * 10), `${answered} answered in ${ms} ms`);
    const limited = errors(c, "rate-limited");
    assert.ok(limited.length >= 1 && limited.length <= noticesAllowed(ms), `${limited.length} notices in ${ms} ms`);
    if (ms < 1000) assert.equal(limited.length, 1, "one notice for the whole burst");
    assert.match(limited[0].message, /CONTROL_EVENT_RATE/);
    assert.ok(c.socket.connected);
  });

  test("a fifth studio from one address is refused with too-many-studios; joining a running one still works", async () => {
    const address = { localAddress: "127.0.0.4" };
    const episodes = [];
    for (let i = 0; i < 4; i += 1) {
      const episodeId = uniqueEpisode("studio");
      episodes.push(episodeId);
      await joinedClient(URL, episodeId, `host${i}`, open, address);
    }
    const fifth = studioClient(URL, open, address);
    await fifth.next("server.ack", (m) => m === "connected");
    fifth.socket.emit("hello", { episodeId: uniqueEpisode("studio"), participantName: "fifth" });
    const [refusal] = await fifth.next("error", (e) => e.code === "too-many-studios");
    assert.match(refusal.message, /MAX_STUDIOS_PER_IP/);
    assert.match(refusal.message, /\b4\b/);

    fifth.skipAll();
    fifth.socket.emit("hello", { episodeId: episodes[0], participantName: "fifth" });
    await fifth.next("server.ack", (m) => m === "hello fifth");
    await fifth.next("state.snapshot", (s) => s && s.orbStates);
    await drained(fifth);
    assert.equal(errors(fifth, "too-many-studios").length, 1, "joining opened nothing and was not refused");

    // Another address has a quota of its own.
    await joinedClient(URL, uniqueEpisode("studio"), "neighbour", open, { localAddress: "127.0.0.5" });
  });

  test("audio at ten times real time reaches the studio at the factor and is told once", async () => {
    const episodeId = uniqueEpisode("fast");
    const c = await joinedClient(URL, episodeId, "fast", open, { localAddress: "127.0.0.6" });
    c.skipAll();
    // 2 s at 10x: a 20 ms chunk every 2 ms of wall time, 1000 chunks (20 s of audio).
    const chunks = 1000;
    const frame = Buffer.alloc(FRAME_BYTES);
    const started = performance.now();
    let sent = 0;
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(chunks, Math.floor((performance.now() - started) / 2));
        while (sent < due) {
          c.socket.emit("audio.chunk", frame);
          sent += 1;
        }
        if (sent >= chunks) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    await drained(c);
    const ms = performance.now() - started;

    const told = errors(c, "audio-too-fast");
    assert.equal(told.length, 1, "told once");
    assert.match(told[0].message, /1\.25x/);
    assert.match(told[0].message, /MIC_REALTIME_FACTOR/);
    c.socket.emit("client.end-session");
    await c.next("session.end");
    report.fast = { episodeId, sentChunks: sent, elapsedMs: ms };
  });

  test("real-time audio passes untouched and is never told too fast", async () => {
    const episodeId = uniqueEpisode("realtime");
    const c = await joinedClient(URL, episodeId, "speaker", open, { localAddress: "127.0.0.7" });
    c.skipAll();
    const mic = new Microphone(c.socket).start();
    while (mic.sent < 100) await pause(FRAME_MS);
    mic.stop();
    await drained(c);
    assert.deepEqual(errors(c, "audio-too-fast"), []);
    c.socket.emit("client.end-session");
    await c.next("session.end");
    report.realtime = { episodeId, sentChunks: mic.sent };
    writeFileSync(REPORT, JSON.stringify(report));
  });
});
