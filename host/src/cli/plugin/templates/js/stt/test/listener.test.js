// The listener, run natively on frames like the host's.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULTS, Listener } from "../src/listener.js";

/** `ms` of a loud 440 Hz tone (or silence) at 16 kHz, in 20 ms frames of Int16Array. */
function frames(ms, loud) {
  const out = [];
  for (let at = 0; at < ms * 16; at += 320) {
    const frame = new Int16Array(320);
    if (loud) {
      for (let i = 0; i < 320; i++) frame[i] = Math.sin(((at + i) * 440 * 2 * Math.PI) / 16_000) * 8_000;
    }
    out.push(frame);
  }
  return out;
}

test("one second of sound then a pause is one utterance", () => {
  const listener = new Listener(16_000, DEFAULTS);
  const heard = [...frames(200, false), ...frames(1_000, true), ...frames(1_000, false)].flatMap((f) =>
    listener.feed(f),
  );
  const finals = heard.filter((t) => t.final);
  assert.equal(finals.length, 1, JSON.stringify(heard));
  assert.equal(finals[0].text, "I spoke for 1.0 seconds.");
  assert.deepEqual([finals[0].startMs, finals[0].endMs], [200, 1_200]);
  assert.equal(heard.filter((t) => !t.final).length, 2);
  assert.equal(listener.finish(), undefined);
});

test("the end of the stream ends the utterance", () => {
  const listener = new Listener(16_000, DEFAULTS);
  for (const frame of frames(500, true)) listener.feed(frame);
  const last = listener.finish();
  assert.equal(last.final, true);
  assert.equal(last.text, "I spoke for 0.5 seconds.");
});
