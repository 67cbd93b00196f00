// The studio in production mode (USE_REAL_ADAPTERS=true) end to end: spoken questions go through
// the whisper adapter, the anthropic and openai-compat adapters write the replies, and the piper
// adapter speaks them - each against a local fake of its provider (tests/kit, feature fakes) - while the
// official socket.io-client plays the host. A provider that refuses its key reaches the client
// as an `error` event naming it, and the session goes on.
//
// Run: `cargo test -p voice-studio --test it studio::real_adapters` (starts the fakes and the server, sets the
// variables below).

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { FRAME_BYTES, PCM_FORMAT, Microphone, joinedClient, payloadBytes, spokenClip } from "./lib/studio.mjs";

const URL = process.env.STUDIO_URL;
const LIVE = Boolean(process.env.STUDIO_REAL_ADAPTERS && URL);
// What the fake Whisper hears, utterance by utterance (we speak the same lines with espeak-ng).
const SCRIPT = LIVE ? JSON.parse(process.env.STUDIO_SCRIPT ?? "[]") : [];
// The scripted replies of the fake Anthropic (claude) and the fake Groq (guest).
const REPLIES = LIVE ? JSON.parse(process.env.STUDIO_REPLIES ?? "{}") : {};

const open = [];
after(() => open.forEach((s) => s.close()));

const finalCaption = (speaker) => (c) => c.speaker === speaker && c.final !== false;
const framesOf = (client, speaker) =>
  client.all("audio.out").filter((r) => r.args[0] && r.args[0].speaker === speaker);

describe("studio with real adapters against fake providers", { skip: !LIVE && "set STUDIO_REAL_ADAPTERS=1 (cargo test -p voice-studio --test it studio::real_adapters)" }, () => {
  const episodeId = `real-adapters-${process.pid}-${Date.now()}`;
  let host;
  let mic;

  test("a spoken question to claude: whisper transcribes, anthropic answers, piper speaks", async () => {
    assert.equal(SCRIPT.length, 4, "STUDIO_SCRIPT holds four lines");
    host = await joinedClient(URL, episodeId, "Basil", open);
    mic = new Microphone(host.socket).start();
    await mic.say(spokenClip(SCRIPT[0]));
    const [you] = await host.next("caption", finalCaption("you"), 60_000);
    assert.equal(you.text, SCRIPT[0]);
    const [first] = await host.next("audio.out", (o) => o.speaker === "claude", 60_000);
    assert.equal(first.format, PCM_FORMAT);
    const [line] = await host.next("caption", finalCaption("claude"), 60_000);
    assert.equal(line.text, REPLIES.claude, "claude says what the provider streamed");
    await host.next("orb.state", (s, st) => s === "claude" && st !== "speaking", 60_000);
    const frames = framesOf(host, "claude").map((r) => r.args[0]);
    assert.ok(frames.length > 25, `only ${frames.length} claude frames: piper's speech reached the client`);
    for (const f of frames) assert.equal(payloadBytes(f), FRAME_BYTES);
  });

  test("a question to the guest goes to the openai-compatible provider", async () => {
    host.skipAll();
    await mic.say(spokenClip(SCRIPT[1]));
    const [you] = await host.next("caption", finalCaption("you"), 60_000);
    assert.equal(you.text, SCRIPT[1]);
    await host.next("audio.out", (o) => o.speaker === "guest", 60_000);
    const [line] = await host.next("caption", finalCaption("guest"), 60_000);
    assert.equal(line.text, REPLIES.guest);
    await host.next("orb.state", (s, st) => s === "guest" && st !== "speaking", 60_000);
  });

  test("a refused key reaches the client as an error naming the provider, and the session goes on", async () => {
    host.skipAll();
    // The fake Anthropic refuses this request with 401 (queued by the Rust side).
    await mic.say(spokenClip(SCRIPT[2]));
    const [you] = await host.next("caption", finalCaption("you"), 60_000);
    assert.equal(you.text, SCRIPT[2]);
    const [error] = await host.next("error", (e) => e && /claude/.test(e.message ?? ""), 60_000);
    assert.match(error.message, /Anthropic/);
    assert.match(error.message, /ANTHROPIC_API_KEY/);
    assert.doesNotMatch(error.message, /sk-ant-e2e-secret/, "the key itself is never shown");
    // The guest still answers the next question.
    host.skipAll();
    await mic.say(spokenClip(SCRIPT[3]));
    const [again] = await host.next("caption", finalCaption("you"), 60_000);
    assert.equal(again.text, SCRIPT[3]);
    await host.next("audio.out", (o) => o.speaker === "guest", 60_000);
    await host.next("caption", finalCaption("guest"), 60_000);
    await host.next("orb.state", (s, st) => s === "guest" && st !== "speaking", 60_000);
    mic.stop();
  });
});
