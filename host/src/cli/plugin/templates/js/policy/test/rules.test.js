// The policy's rules, run natively on the values the host passes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { addressee, decide } from "../src/rules.js";

/** The floor as the host passes it: nobody speaking, no memory. */
function idle() {
  return {
    nowMs: 10_000n,
    autopilot: false,
    holder: undefined,
    humanSpeaking: false,
    lastSpeaker: undefined,
    aiTurnsInARow: 0,
    maxAiTurns: 6,
    thinking: undefined,
    autopilotSinceMs: undefined,
    memory: "",
  };
}

test("the named AI answers and is remembered", () => {
  assert.deepEqual(decide(idle(), { tag: "human-said", val: "Guest, what now?" }), [
    { tag: "remember", val: "guest" },
    { tag: "respond", val: { speaker: "guest", cue: "" } },
  ]);
});

test("an unnamed line goes to the AI that did not answer last", () => {
  const state = { ...idle(), memory: "guest" };
  assert.deepEqual(decide(state, { tag: "human-said", val: "What now?" })[1], {
    tag: "respond",
    val: { speaker: "claude", cue: "" },
  });
});

test("autopilot alternates until the cap", () => {
  const state = { ...idle(), autopilot: true };
  const line = { tag: "ai-finished", val: { speaker: "claude", text: "Over to you.", interrupted: false } };
  assert.deepEqual(decide(state, line), [{ tag: "respond", val: { speaker: "guest", cue: "" } }]);
  assert.deepEqual(decide({ ...state, aiTurnsInARow: 6 }, line), [{ tag: "wait" }]);
});

test("names at the start of a line", () => {
  assert.equal(addressee("Okay, Claude, go on"), "claude");
  assert.equal(addressee("what do you think"), undefined);
});
