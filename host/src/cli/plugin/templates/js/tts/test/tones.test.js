// The tones, made natively.
import assert from "node:assert/strict";
import { test } from "node:test";

import { wordTone } from "../src/tones.js";

test("a word is a tone then a gap", () => {
  const samples = wordTone("hello", 200);
  assert.equal(samples.length, 3_200);
  assert.ok(samples.subarray(0, 2_400).some((s) => Math.abs(s) > 5_000));
  assert.ok(samples.subarray(2_400).every((s) => s === 0));
});
