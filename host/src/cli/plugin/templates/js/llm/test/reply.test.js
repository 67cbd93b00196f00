// The reply, made natively from messages as the host passes them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { reply } from "../src/reply.js";

test("repeats the last speaker unescaped", () => {
  const messages = [
    { role: "user", content: '<speaker name="Ana">Welcome!</speaker>' },
    { role: "assistant", content: "Thanks, Ana." },
    { role: "user", content: '<speaker name="Guest">Cars &amp; buses?</speaker>\n<studio>Your turn.</studio>' },
  ];
  assert.equal(reply(messages), "Guest said: Cars & buses?");
});

test("says hello when nobody spoke yet", () => {
  const messages = [{ role: "user", content: "<studio>The recording has started. You speak first.</studio>" }];
  assert.equal(reply(messages), "Hello! Say something and I will repeat it.");
});
