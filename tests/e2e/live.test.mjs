// The live studio end to end: spoken audio in, captions, orbs, AI speech out, thinking mode,
// autopilot, barge-in, a shared episode and the recording, against the real server running the
// mock plugins (the plugins.toml of host/tests/it/studio/e2e.rs, whose mock-stt script is below).
//
// Run: `cargo test -p voice-studio --test it studio::e2e` (starts the server, sets STUDIO_URL and STUDIO_LIVE=1).

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FRAME_BYTES,
  PCM_FORMAT,
  Microphone,
  joinedClient,
  pause,
  payloadBytes,
  spokenClip,
} from "./lib/studio.mjs";

const URL = process.env.STUDIO_URL;
// The suite needs the mock-plugin server; the protocol suite's server (frame-counter plugins)
// cannot answer speech, so there it is skipped.
const LIVE = Boolean(process.env.STUDIO_LIVE && URL);

// The mock-stt script the server runs with (host/tests/it/studio/e2e.rs passes it as JSON): the
// n-th utterance of a studio reads as SCRIPT[n % SCRIPT.length] whatever the audio says, so the
// clips say the same lines. Expected: a question to claude, one to the guest, a 5 s thinking
// request to claude.
const SCRIPT = LIVE ? JSON.parse(process.env.STUDIO_SCRIPT ?? "[]") : [];

const RECORDING_FILES = [
  "you.webm",
  "claude.webm",
  "guest.webm",
  "you.vtt",
  "claude.vtt",
  "guest.vtt",
  "events.jsonl",
  "session.yml",
];

const open = [];
after(() => open.forEach((s) => s.close()));

let counter = 0;
function uniqueEpisode(what) {
  counter += 1;
  return `live-${what}-${process.pid}-${Date.now()}-${counter}`;
}

const finalCaption = (speaker) => (c) => c.speaker === speaker && c.final !== false;
const orb = (speaker, state) => (s, st) => s === speaker && st === state;
const framesOf = (client, speaker) =>
  client.all("audio.out").filter((r) => r.args[0] && r.args[0].speaker === speaker);

describe("live studio", { skip: !LIVE && "set STUDIO_LIVE=1 (cargo test -p voice-studio --test it studio::e2e)" }, () => {
  const clips = [];
  before(() => {
    assert.equal(SCRIPT.length, 3, "STUDIO_SCRIPT holds the three lines of the mock-stt script");
    for (const line of SCRIPT) clips.push(spokenClip(line));
  });

  describe("one episode from the first question to its recording", () => {
    const episodeId = uniqueEpisode("episode");
    let host;
    let mic;
    let ready;

    before(async () => {
      host = await joinedClient(URL, episodeId, "Basil", open);
      mic = new Microphone(host.socket).start();
    });
    after(() => mic?.stop());

    test("spoken question: final caption for you, claude thinks, then speaks with audio and captions", async () => {
      await mic.say(clips[0]);
      const [you] = await host.next("caption", finalCaption("you"));
      assert.equal(you.text, SCRIPT[0]);
      assert.equal(typeof you.id, "string");
      assert.equal(typeof you.timestamp, "number");
      await host.next("orb.state", orb("claude", "thinking"));
      await host.next("orb.state", orb("claude", "speaking"));
      const [first] = await host.next("audio.out", (o) => o.speaker === "claude");
      assert.equal(first.format, PCM_FORMAT);
      const [line] = await host.next("caption", finalCaption("claude"));
      assert.ok(line.text.length > 0, "claude's caption has text");
      // The whole line plays out; the orb leaves speaking at its end.
      await host.next("orb.state", (s, st) => s === "claude" && st !== "speaking", 60_000);
      const frames = framesOf(host, "claude").map((r) => r.args[0]);
      assert.ok(frames.length > 10, `only ${frames.length} claude frames`);
      for (const f of frames) {
        assert.equal(f.format, PCM_FORMAT);
        assert.equal(payloadBytes(f), FRAME_BYTES, "every frame is 20 ms of 48 kHz mono s16");
      }
      for (let i = 1; i < frames.length; i += 1) {
        assert.ok(frames[i].seq > frames[i - 1].seq, `seq ${frames[i].seq} after ${frames[i - 1].seq}`);
      }
      assert.equal(framesOf(host, "guest").length, 0, "guest was not asked");
    });

    test("a line addressed to the guest is answered by the guest", async () => {
      host.skipAll();
      await mic.say(clips[1]);
      const [you] = await host.next("caption", finalCaption("you"));
      assert.equal(you.text, SCRIPT[1]);
      await host.next("orb.state", orb("guest", "speaking"));
      const [out] = await host.next("audio.out", (o) => o.speaker === "guest");
      assert.equal(payloadBytes(out), FRAME_BYTES);
      await host.next("caption", finalCaption("guest"));
      await host.next("orb.state", (s, st) => s === "guest" && st !== "speaking", 60_000);
      const askedAt = host.all("caption").find((r) => r.args[0].text === SCRIPT[1]).at;
      const afterQuestion = host.received.filter((r) => r.at >= askedAt);
      assert.ok(framesOf(host, "guest").length > 10);
      assert.equal(
        afterQuestion.filter((r) => r.event === "audio.out" && r.args[0].speaker === "claude").length,
        0,
        "claude stays quiet when the guest is addressed",
      );
    });

    test("thinking mode: countdown on the shared screen, then the prepared answer", async () => {
      host.skipAll();
      await mic.say(clips[2]);
      const [thinking] = await host.next("mode.thinking");
      assert.equal(thinking.speaker, "claude");
      assert.equal(thinking.durationMs, 5000);
      assert.equal(typeof thinking.startedAt, "number");
      const [screen] = await host.next("shared-screen.state", (s) => s.mode === "thinking");
      assert.equal(screen.thinking.speaker, "claude");
      assert.equal(screen.thinking.durationMs, 5000);
      assert.equal(screen.thinking.endsAt - screen.thinking.startedAt, 5000);
      const [normal] = await host.next("mode.normal");
      assert.equal(normal.speaker, "claude");
      await host.next("shared-screen.state", (s) => s.mode === "conversation");
      const thinkingAt = host.all("mode.thinking").at(-1).at;
      const normalAt = host.all("mode.normal").at(-1).at;
      assert.equal(
        host.all("audio.out").filter((r) => r.at > thinkingAt && r.at < normalAt).length,
        0,
        "nobody speaks while claude thinks",
      );
      await host.next("audio.out", (o) => o.speaker === "claude");
      await host.next("orb.state", (s, st) => s === "claude" && st !== "speaking", 60_000);
    });

    test("barge-in within the episode: the human cuts off the AI that speaks", async () => {
      host.skipAll();
      // Whichever AI answers (the mock STT's script moves on per utterance it hears), let it
      // speak a moment, then talk over it.
      await mic.say(clips[0]);
      const [first] = await host.next("audio.out", (o) => o.speaker !== "you", 60_000);
      const speaker = first.speaker;
      await pause(300);
      await mic.say(clips[1]);
      const [stop] = await host.next("audio.stop", (s) => s.speaker === speaker, 60_000);
      assert.equal(stop.reason, "barge-in");
      // Let the floor settle before autopilot.
      await host.next("turn.end", (e) => e.interrupted !== true, 60_000);
    });

    test("autopilot within the episode: claude and guest talk on their own", async () => {
      host.skipAll();
      host.socket.emit("client.toggle-autopilot", true);
      await host.next("server.ack", (m) => m === "autopilot enabled");
      const speakers = [];
      while (speakers.length < 2) {
        const [line] = await host.next("caption", (c) => c.speaker !== "you" && c.final !== false, 60_000);
        if (speakers.at(-1) !== line.speaker) speakers.push(line.speaker);
      }
      host.socket.emit("client.toggle-autopilot", false);
      await host.next("server.ack", (m) => m === "autopilot disabled");
      assert.equal(new Set(speakers).size, 2, `both AIs spoke: ${speakers}`);
    });

    test("client.end-session: recording.ready names the eight files", async () => {
      host.skipAll();
      mic.stop();
      host.socket.emit("client.end-session");
      [ready] = await host.next("recording.ready", () => true, 30_000);
      assert.equal(ready.episodeId, episodeId);
      const names = ready.files.map((f) => f.split("/").at(-1)).sort();
      assert.deepEqual(names, [...RECORDING_FILES].sort());
    });

    test("the recording downloads and holds aligned tracks, captions and events", async (t) => {
      assert.ok(ready, "recording.ready arrived");
      const dir = mkdtempSync(join(tmpdir(), "studio-recording-"));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const body = {};
      // This server is an open development server on loopback, which holds the admin scope: it
      // reads every recording (the producer's library plays them). A server with access tokens
      // serves them only through the signed links recording.ready carries (the Rust tests
      // server::library_door and server::doors refuse the bare link there).
      const bare = await fetch(`${URL}/recordings/${ready.files[0]}`);
      assert.equal(bare.status, 200, "an open loopback server's admin scope reads the recording");
      await bare.arrayBuffer();
      for (const file of ready.files) {
        const name = file.split("/").at(-1);
        const signed = ready.details.find((d) => d.name === name);
        assert.ok(signed && /[?&]sig=[0-9a-f]{64}/.test(signed.url), `${file}: ${signed?.url}`);
        const res = await fetch(`${URL}${signed.url}`);
        assert.equal(res.status, 200, file);
        body[name] = Buffer.from(await res.arrayBuffer());
        writeFileSync(join(dir, name), body[name]);
      }

      const durations = [];
      for (const track of ["you", "claude", "guest"]) {
        const probe = JSON.parse(
          execFileSync("ffprobe", [
            "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels:format=duration",
            "-of", "json", join(dir, `${track}.webm`),
          ]).toString(),
        );
        assert.equal(probe.streams[0].codec_name, "opus", track);
        assert.equal(probe.streams[0].sample_rate, "48000", track);
        durations.push(Number(probe.format.duration));
      }
      const spread = Math.max(...durations) - Math.min(...durations);
      assert.ok(spread <= 0.02, `track durations ${durations} differ by more than one frame`);
      assert.ok(Math.min(...durations) > 5, `tracks hold the episode: ${durations}`);

      for (const track of ["you", "claude", "guest"]) {
        const cues = parseVtt(body[`${track}.vtt`].toString("utf8"));
        assert.ok(cues.length > 0, `${track}.vtt has cues`);
      }
      const youCues = parseVtt(body["you.vtt"].toString("utf8"));
      assert.ok(youCues.some((c) => c.text.includes("Guest, do you agree")), "you.vtt holds the human's lines");

      const events = body["events.jsonl"]
        .toString("utf8")
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l));
      const types = new Set(events.map((e) => e.type));
      for (const type of [
        "session.start", "vad.speech-start", "vad.speech-end", "stt.final", "llm.start",
        "llm.complete", "tts.start", "orb.state-change", "mode.thinking", "mode.normal",
        "turn.start", "turn.end", "barge-in", "autopilot.toggle", "session.end",
      ]) {
        assert.ok(types.has(type), `events.jsonl has ${type} (has ${[...types].join(", ")})`);
      }
      const cut = events.filter((e) => e.type === "turn.end" && e.metrics?.interrupted === true);
      assert.ok(cut.length > 0, "the barged-in line is recorded as interrupted");
      const aiCues = ["claude", "guest"].map((ai) => parseVtt(body[`${ai}.vtt`].toString("utf8")).length);
      // Every line that played to its end has its cue (a line cut within its first word may have
      // no text, and so no cue).
      const whole = events.filter((e) => e.type === "turn.end" && e.metrics?.interrupted === false).length;
      assert.ok(aiCues[0] > 0 && aiCues[1] > 0 && aiCues[0] + aiCues[1] >= whole, `cues ${aiCues}, whole lines ${whole}`);
      assert.equal(events[0].type, "session.start");
      assert.equal(events.at(-1).type, "session.end");
      assert.ok(body["session.yml"].toString("utf8").includes(episodeId));
    });
  });

  test("barge-in: speaking while claude speaks stops its audio", async () => {
    const host = await joinedClient(URL, uniqueEpisode("barge-in"), "Basil", open);
    const mic = new Microphone(host.socket).start();
    try {
      await mic.say(clips[0]);
      await host.next("audio.out", (o) => o.speaker === "claude");
      // Let a few frames play, then talk over claude.
      await host.next("audio.out", (o) => o.speaker === "claude" && o.seq >= 10);
      await mic.say(clips[1]);
      const [stop] = await host.next("audio.stop", (s) => s.speaker === "claude");
      assert.equal(stop.reason, "barge-in");
      assert.equal(typeof stop.playedMs, "number");
      const stoppedAt = host.all("audio.stop").at(-1).at;
      // The guest answers the interruption; by then claude has long been silent.
      await host.next("audio.out", (o) => o.speaker === "guest");
      await pause(500);
      const late = framesOf(host, "claude").filter((r) => r.at > stoppedAt);
      assert.equal(late.length, 0, `${late.length} claude frames after audio.stop`);
      const claudeLines = host.all("caption").filter((r) => r.args[0].speaker === "claude");
      assert.ok(claudeLines.length > 0, "the cut line keeps a caption of what was played");
    } finally {
      mic.stop();
    }
  });

  test("autopilot: claude and guest alternate without the human", async () => {
    const host = await joinedClient(URL, uniqueEpisode("autopilot"), "Basil", open);
    host.socket.emit("client.toggle-autopilot", true);
    await host.next("server.ack", (m) => m === "autopilot enabled");
    const speakers = [];
    while (speakers.length < 3) {
      const [line] = await host.next(
        "caption",
        (c) => c.speaker !== "you" && c.final !== false,
        60_000,
      );
      if (speakers.at(-1) !== line.speaker) speakers.push(line.speaker);
    }
    host.socket.emit("client.toggle-autopilot", false);
    assert.deepEqual(speakers, ["claude", "guest", "claude"]);
    assert.ok(framesOf(host, "guest").length > 0 && framesOf(host, "claude").length > 0);
  });

  test("text.say: a typed line to the guest is everyone's caption and the guest answers it", async () => {
    const episodeId = uniqueEpisode("typed");
    const host = await joinedClient(URL, episodeId, "Basil", open);
    const display = await joinedClient(URL, episodeId, "Display", open);
    host.socket.emit("text.say", { text: "what do you make of\n today's topic?", to: "guest" });
    const [line] = await host.next("caption", finalCaption("you"));
    assert.equal(line.text, "Guest, what do you make of today's topic?");
    assert.match(line.id, /^you-typed-/);
    const [seen] = await display.next("caption", (c) => c.id === line.id);
    assert.deepEqual(seen, line);
    const [answer] = await host.next("turn.end", (t) => t.speaker !== "you", 60_000);
    assert.equal(answer.speaker, "guest");
    assert.ok(answer.text.length > 0);
    host.socket.emit("text.say", { text: "x".repeat(1001) });
    const [error] = await host.next("error", (e) => e.code === "text-too-long");
    assert.match(error.message, /1000/);
  });

  test("two clients of one episode see the same captions", async () => {
    const episodeId = uniqueEpisode("shared");
    const micClient = await joinedClient(URL, episodeId, "Basil", open);
    const display = await joinedClient(URL, episodeId, "Display", open);
    const mic = new Microphone(micClient.socket).start();
    try {
      await mic.say(clips[0]);
      const [fromMic] = await micClient.next("caption", finalCaption("you"));
      const [onDisplay] = await display.next("caption", (c) => c.id === fromMic.id && c.final !== false);
      assert.deepEqual(onDisplay, fromMic);
      const [claudeMic] = await micClient.next("caption", finalCaption("claude"));
      const [claudeDisplay] = await display.next("caption", (c) => c.id === claudeMic.id && c.final !== false);
      assert.equal(claudeDisplay.text, claudeMic.text);
      await display.next("audio.out", (o) => o.speaker === "claude");
    } finally {
      mic.stop();
    }
  });
});

/// The cues of a WebVTT file; throws when it is not WebVTT.
function parseVtt(text) {
  const blocks = text.replace(/\r\n/g, "\n").split(/\n\n+/);
  assert.ok(blocks[0].startsWith("WEBVTT"), "starts with WEBVTT");
  const stamp = /^(\d{2,}):(\d{2}):(\d{2})\.(\d{3})$/;
  const ms = (s) => {
    const m = stamp.exec(s.trim());
    assert.ok(m, `timestamp ${s}`);
    return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
  };
  const cues = [];
  for (const block of blocks.slice(1)) {
    const lines = block.split("\n").filter((l) => l.length > 0);
    const at = lines.findIndex((l) => l.includes("-->"));
    if (at < 0) continue;
    const [from, rest] = lines[at].split("-->");
    const start = ms(from);
    const end = ms(rest.trim().split(/\s+/)[0]);
    assert.ok(end >= start, `cue ${lines[at]} ends before it starts`);
    cues.push({ start, end, text: lines.slice(at + 1).join("\n") });
  }
  return cues;
}
