// The reading of speech, checked against the same sentences as the Rust SDK's `turns` tests.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DEFAULT_THINKING_MS,
  MAX_THINKING_MS,
  MIN_THINKING_MS,
  addressee,
  aiThinkingRequest,
  humanThinkingRequest,
} from "../src/turns.js";

test("a name at the start addresses that AI", () => {
  assert.equal(addressee("Claude, what do you make of today's topic?"), "claude");
  assert.equal(addressee("Guest, do you agree with that?"), "guest");
  assert.equal(addressee("Hey guest: really?"), "guest");
  assert.equal(addressee("Okay, Claude, introduce our guest."), "claude");
});

test("both and you two address both", () => {
  assert.equal(addressee("Both of you, give me your closing thoughts."), "both");
  assert.equal(addressee("What do you two think?"), "both");
  assert.equal(addressee("I'd like to hear from each of you."), "both");
  assert.equal(addressee("Claude and guest, wrap it up."), "both");
});

test("a name at the end or alone addresses that AI", () => {
  assert.equal(addressee("What do you think, guest?"), "guest");
  assert.equal(addressee("I wonder whether Claude would agree with this"), "claude");
});

test("no name is unnamed", () => {
  assert.equal(addressee("That's an interesting point."), "unnamed");
  assert.equal(addressee(""), "unnamed");
  assert.equal(addressee("Claudette is my aunt"), "unnamed");
  assert.equal(addressee("Okay, so, um"), "unnamed");
});

test("human thinking requests parse their duration", () => {
  assert.equal(humanThinkingRequest("Guest, take a moment and think about it."), DEFAULT_THINKING_MS);
  assert.equal(humanThinkingRequest("Claude, I'll give you 45 seconds on this one."), 45_000);
  assert.equal(humanThinkingRequest("Give me two minutes of thinking, guest."), 120_000);
  assert.equal(humanThinkingRequest("Let's switch to thinking mode."), DEFAULT_THINKING_MS);
  assert.equal(humanThinkingRequest("Take a minute with that."), 60_000);
});

test("thinking durations are clamped", () => {
  assert.equal(humanThinkingRequest("Give me 1 seconds"), MIN_THINKING_MS);
  assert.equal(humanThinkingRequest("Take 90 minutes to think about it"), MAX_THINKING_MS);
});

test("ordinary speech is not a thinking request", () => {
  assert.equal(humanThinkingRequest("I think you're wrong about that."), undefined);
  assert.equal(humanThinkingRequest("It took minutes to load."), undefined);
  assert.equal(aiThinkingRequest("I think the evidence says otherwise."), undefined);
});

test("AI lines that ask to think are recognized", () => {
  assert.equal(aiThinkingRequest("That's a hard one. Can I think for a minute?"), 60_000);
  assert.equal(aiThinkingRequest("Let me think about that for 20 seconds."), 20_000);
  assert.equal(aiThinkingRequest("Give me a moment."), DEFAULT_THINKING_MS);
});
