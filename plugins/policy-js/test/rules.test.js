// The policy's rules, run on the values the host passes (jco's shapes of the WIT types).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BOTH_FIRST_CUE,
  BOTH_SECOND_CUE,
  OPEN_CUE,
  THINKING_CUE,
  WRAP_CUE,
  decide,
  parseMemory,
  renderMemory,
} from "../src/rules.js";

/** The floor as the host passes it: nobody speaking, no memory. */
function idle() {
  return {
    nowMs: 10_000n,
    autopilot: false,
    holder: undefined,
    humanSpeaking: false,
    lastSpeaker: undefined,
    aiTurnsInARow: 0,
    maxAiTurns: 4,
    thinking: undefined,
    autopilotSinceMs: undefined,
    memory: "",
  };
}

const said = (text) => ({ tag: "human-said", val: text });
const finished = (speaker, text, interrupted = false) => ({
  tag: "ai-finished",
  val: { speaker, text, interrupted },
});

/** Runs `event` and applies its `remember` decisions, as the host does. */
function step(state, event) {
  const decisions = decide(state, event);
  for (const d of decisions) {
    if (d.tag === "remember") state.memory = d.val;
  }
  return decisions;
}

const responder = (decisions) => decisions.find((d) => d.tag === "respond")?.val.speaker;

test("the AI named answers", () => {
  assert.equal(responder(step(idle(), said("Guest, do you agree with that?"))), "guest");
  assert.equal(responder(step(idle(), said("Claude, your take?"))), "claude");
});

test("unaddressed lines alternate, continuing after whoever answered", () => {
  const state = idle();
  const order = ["First?", "Guest, you?", "Next?", "And then?"].map((q) =>
    responder(step(state, said(q))),
  );
  assert.deepEqual(order, ["claude", "guest", "claude", "guest"]);
});

test("a question to both: the next in turn first, then the other", () => {
  const state = idle();
  step(state, said("Hello?")); // claude answered
  const first = step(state, said("Both of you, what now?"));
  assert.deepEqual(first.at(-1), { tag: "respond", val: { speaker: "guest", cue: BOTH_FIRST_CUE } });
  const second = step(state, finished("guest", "My view."));
  assert.deepEqual(second.at(-1), {
    tag: "respond",
    val: { speaker: "claude", cue: BOTH_SECOND_CUE },
  });
  assert.deepEqual(step(state, finished("claude", "Mine.")), [{ tag: "wait" }]);
  assert.equal(responder(step(state, said("Next?"))), "guest");
});

test("the human speaking stops the holder, mutes both and drops a queued answer", () => {
  const state = idle();
  step(state, said("Both of you?"));
  state.holder = "claude";
  const decisions = step(state, { tag: "human-speech-started" });
  assert.deepEqual(decisions.slice(0, 3), [
    { tag: "stop", val: "claude" },
    { tag: "mute", val: "claude" },
    { tag: "mute", val: "guest" },
  ]);
  assert.equal(parseMemory(state.memory).then, undefined);
  assert.deepEqual(decide(state, { tag: "human-speech-ended" }), [
    { tag: "unmute", val: "claude" },
    { tag: "unmute", val: "guest" },
  ]);
});

test("thinking requests put the addressed AI in thinking mode", () => {
  const decisions = step(idle(), said("Guest, take a moment and think about it."));
  assert.deepEqual(decisions.at(-1), {
    tag: "think",
    val: { speaker: "guest", durationMs: 30_000, cue: THINKING_CUE },
  });
  assert.deepEqual(decide(idle(), finished("claude", "Can I think for 20 seconds?")), [
    { tag: "think", val: { speaker: "claude", durationMs: 20_000, cue: THINKING_CUE } },
  ]);
});

test("without autopilot an AI line waits for the human", () => {
  assert.deepEqual(decide(idle(), finished("claude", "Here is my answer.")), [{ tag: "wait" }]);
  assert.deepEqual(decide(idle(), finished("guest", "I was sa", true)), [{ tag: "wait" }]);
  assert.deepEqual(decide(idle(), said("   ")), [{ tag: "wait" }]);
});

test("autopilot: claude opens when the floor is free", () => {
  assert.deepEqual(decide(idle(), { tag: "autopilot-changed", val: true }), [
    { tag: "respond", val: { speaker: "claude", cue: OPEN_CUE } },
  ]);
  const busy = { ...idle(), holder: "guest" };
  assert.deepEqual(decide(busy, { tag: "autopilot-changed", val: true }), [{ tag: "wait" }]);
  assert.deepEqual(decide(idle(), { tag: "autopilot-changed", val: false }), [{ tag: "wait" }]);
});

test("autopilot: the AIs alternate and the co-host has the last word", () => {
  // Four lines allowed after claude opens: guest, then claude wraps up (the guest's line after
  // it would be the last, so autopilot ends on claude's).
  const state = { ...idle(), autopilot: true, maxAiTurns: 4 };
  const run = (speaker, turns) => decide({ ...state, aiTurnsInARow: turns }, finished(speaker, "..."));
  assert.deepEqual(run("claude", 1), [{ tag: "respond", val: { speaker: "guest", cue: "" } }]);
  assert.deepEqual(run("guest", 2), [{ tag: "respond", val: { speaker: "claude", cue: WRAP_CUE } }]);
  assert.deepEqual(run("claude", 3), [{ tag: "wait" }]);
  // Five allowed: the fifth line is claude's wrap-up.
  const five = { ...state, maxAiTurns: 5 };
  const run5 = (speaker, turns) => decide({ ...five, aiTurnsInARow: turns }, finished(speaker, "..."));
  assert.deepEqual(run5("guest", 2), [{ tag: "respond", val: { speaker: "claude", cue: "" } }]);
  assert.deepEqual(run5("claude", 3), [{ tag: "respond", val: { speaker: "guest", cue: "" } }]);
  assert.deepEqual(run5("guest", 4), [{ tag: "respond", val: { speaker: "claude", cue: WRAP_CUE } }]);
  assert.deepEqual(run5("claude", 5), [{ tag: "wait" }]);
});

test("memory round-trips and garbage reads as empty", () => {
  const memory = { last: "guest", then: "claude" };
  assert.deepEqual(parseMemory(renderMemory(memory)), memory);
  assert.deepEqual(parseMemory("last=claude"), { last: undefined, then: undefined });
  assert.deepEqual(parseMemory('{"last":"you"}'), { last: undefined, then: undefined });
});

test("the same input gives the same output", () => {
  const event = said("Both of you, quickly.");
  assert.deepEqual(decide(idle(), event), decide(idle(), event));
});
