// The policy's rules, as pure functions on the values the contract passes (jco's mapping of the
// WIT types: records are objects with camelCase fields, enums are strings, variants are
// `{ tag, val }`, u64 is a BigInt, an absent option is `undefined`). No imports of the host, so
// `node --test` runs them as they are.
//
// The producer's rules:
// - A line addressed by name goes to that AI ("Guest, ..."); to both, the AI whose turn it is
//   answers first and the other after it.
// - An unaddressed line goes to the AI that did not answer the human last (claude first).
// - Thinking mode when the human or an AI asks for time to think.
// - The human speaking cuts the AI holding the floor and mutes both until they stop.
// - In autopilot the co-host leads: claude opens, the AIs alternate, and autopilot ends on
//   claude's line, cued to sum up and hand the floor back to the host: the last line the cap
//   allows, or the one before it when the last would be the guest's.
//
// `memory` (the host keeps it between calls) is JSON: `{"last":"claude","then":"guest"}`: who
// answered the human last, and who answers next after a question to both.

import { addressee, aiThinkingRequest, humanThinkingRequest } from "./turns.js";

/** The cue for the first AI when the human asked both. */
export const BOTH_FIRST_CUE =
  "The host asked you both. Answer first, briefly; the other AI answers after you.";
/** The cue for the second AI when the human asked both. */
export const BOTH_SECOND_CUE =
  "The host asked you both and the other AI has answered. Give your own view.";
/** The cue for a prepared answer in thinking mode. */
export const THINKING_CUE = "You were given time to think. Give your considered answer now.";
/** The co-host's cue when autopilot starts. */
export const OPEN_CUE =
  "Autopilot is on and you lead: put one pointed question about the topic to the guest.";
/** The co-host's cue for the last line autopilot allows. */
export const WRAP_CUE =
  "This is the last line before the host takes the floor back: sum up the exchange in two " +
  "sentences and hand over to the host.";

/** The other AI. */
export function other(ai) {
  return ai === "claude" ? "guest" : "claude";
}

/** Reads the memory; anything unreadable counts as empty (the first call gets ""). */
export function parseMemory(text) {
  try {
    const value = JSON.parse(text);
    const ai = (name) => (name === "claude" || name === "guest" ? name : undefined);
    return { last: ai(value?.last), then: ai(value?.then) };
  } catch {
    return { last: undefined, then: undefined };
  }
}

/** The memory as the `remember` decision stores it. */
export function renderMemory(memory) {
  return JSON.stringify({ last: memory.last, then: memory.then });
}

const wait = () => ({ tag: "wait" });
const remember = (memory) => ({ tag: "remember", val: renderMemory(memory) });
const respond = (speaker, cue = "") => ({ tag: "respond", val: { speaker, cue } });
const think = (speaker, durationMs, cue) => ({
  tag: "think",
  val: { speaker, durationMs, cue },
});

/** Decides what follows `event`, given the floor `state`. */
export function decide(state, event) {
  const memory = parseMemory(state.memory);
  switch (event.tag) {
    case "human-speech-started":
      return bargeIn(state, memory);
    case "human-speech-ended":
      return [{ tag: "unmute", val: "claude" }, { tag: "unmute", val: "guest" }];
    case "human-said":
      return humanSaid(memory, event.val);
    case "ai-finished":
      return aiFinished(state, memory, event.val);
    case "autopilot-changed":
      return event.val && idle(state) ? [respond("claude", OPEN_CUE)] : [wait()];
    default:
      // session-started, timer (this policy sets none)
      return [wait()];
  }
}

/** Nobody holds the floor, speaks or thinks. */
function idle(state) {
  return state.holder === undefined && !state.humanSpeaking && state.thinking === undefined;
}

/** The human started speaking: stop the AI holding the floor, mute both, drop a queued answer. */
function bargeIn(state, memory) {
  const decisions = [];
  if (state.holder === "claude" || state.holder === "guest") {
    decisions.push({ tag: "stop", val: state.holder });
  }
  decisions.push({ tag: "mute", val: "claude" }, { tag: "mute", val: "guest" });
  if (memory.then !== undefined) {
    // The human took over: the queued second answer would answer a stale question.
    decisions.push(remember({ ...memory, then: undefined }));
  }
  return decisions;
}

/** The human's final transcript: a thinking request, or an answer by the addressed AI. */
function humanSaid(memory, text) {
  if (text.trim() === "") {
    return [wait()];
  }
  const next = memory.last === "claude" ? "guest" : "claude";
  const to = addressee(text);
  const first = to === "claude" || to === "guest" ? to : next;
  const thinkingMs = humanThinkingRequest(text);
  if (thinkingMs !== undefined) {
    return [remember({ last: first, then: undefined }), think(first, thinkingMs, THINKING_CUE)];
  }
  if (to === "both") {
    return [
      remember({ last: other(first), then: other(first) }),
      respond(first, BOTH_FIRST_CUE),
    ];
  }
  return [remember({ last: first, then: undefined }), respond(first)];
}

/** An AI finished its line: its own thinking request, a queued second answer, or autopilot. */
function aiFinished(state, memory, line) {
  if (line.interrupted || state.humanSpeaking) {
    return [wait()];
  }
  const thinkingMs = aiThinkingRequest(line.text);
  if (thinkingMs !== undefined) {
    return [think(line.speaker, thinkingMs, THINKING_CUE)];
  }
  if (memory.then !== undefined && memory.then !== line.speaker) {
    return [remember({ ...memory, then: undefined }), respond(memory.then, BOTH_SECOND_CUE)];
  }
  if (state.autopilot && line.speaker !== "you") {
    const left = state.maxAiTurns - state.aiTurnsInARow;
    if (left <= 0) {
      return [wait()];
    }
    const next = other(line.speaker);
    if (next === "claude" && left <= 2) {
      // The co-host's line is the last (with 2 left, the guest's line after it would be).
      return [respond("claude", WRAP_CUE)];
    }
    if (left === 1) {
      // Only the guest's turn is left: the co-host already had the last word.
      return [wait()];
    }
    return [respond(next)];
  }
  return [wait()];
}
