// The policy's rules, as pure functions on the values the host passes (componentize-js's mapping
// of the WIT types: records are objects with camelCase fields, enums are strings, variants are
// `{ tag, val }`, u64 is a BigInt, an absent option is `undefined`). No host imports, so
// `node --test` runs them as they are.
//
// The named AI answers ("Guest, ..."); an unnamed line goes to the AI that did not answer last;
// the human's voice stops whoever is speaking (barge-in); in autopilot the AIs alternate until
// `maxAiTurns` lines in a row. `memory` (kept by the host between calls) is the AI that answered
// the human last.

/** The other AI. */
export function other(ai) {
  return ai === "claude" ? "guest" : "claude";
}

/** Whom the human named at the start of a line: "claude", "guest" or undefined. */
export function addressee(text) {
  const first = text.trim().toLowerCase().match(/^(?:(?:hey|ok|okay|so|and|well)[\s,]+)*([a-z]+)/);
  const name = first?.[1];
  return name === "claude" || name === "guest" ? name : undefined;
}

const wait = () => ({ tag: "wait" });
const respond = (speaker, cue = "") => ({ tag: "respond", val: { speaker, cue } });

/** Decides what follows `event`, given the floor `state`. */
export function decide(state, event) {
  const last = state.memory === "guest" ? "guest" : "claude";
  switch (event.tag) {
    case "human-speech-started": {
      const stop = state.holder && state.holder !== "you" ? [{ tag: "stop", val: state.holder }] : [];
      return [...stop, { tag: "mute", val: "claude" }, { tag: "mute", val: "guest" }];
    }
    case "human-speech-ended":
      return [{ tag: "unmute", val: "claude" }, { tag: "unmute", val: "guest" }];
    case "human-said": {
      if (!event.val.trim()) return [wait()];
      const speaker = addressee(event.val) ?? other(last);
      return [{ tag: "remember", val: speaker }, respond(speaker)];
    }
    case "ai-finished": {
      const line = event.val;
      const more = state.aiTurnsInARow < state.maxAiTurns;
      return state.autopilot && !line.interrupted && !state.humanSpeaking && more
        ? [respond(other(line.speaker))]
        : [wait()];
    }
    case "autopilot-changed":
      return event.val && !state.holder && !state.humanSpeaking
        ? [respond("claude", "Autopilot is on: keep the conversation going.")]
        : [wait()];
    default:
      return [wait()];
  }
}
