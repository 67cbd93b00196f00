// Reading the human's and the AIs' words: whom a line addresses and whether someone asked for
// time to think. The same rules as the Rust SDK's `studio_plugin::turns`, so a studio behaves the
// same whichever language its policy was written in.

/** Thinking time when a request names none ("take a moment"), in ms. */
export const DEFAULT_THINKING_MS = 30_000;
/** The shortest thinking time a request can set, in ms. */
export const MIN_THINKING_MS = 5_000;
/** The longest thinking time a request can set, in ms. */
export const MAX_THINKING_MS = 300_000;

/**
 * What separates words: anything but ASCII letters and digits, the apostrophe, and letters
 * beyond ASCII (the General Punctuation and CJK punctuation blocks stay separators). A regular
 * expression rather than a loop over characters: the engine componentize-js embeds interprets
 * JavaScript, and one split costs a fraction of building words a character at a time. (It also
 * has no Unicode property escapes, so `\p{L}` is not available.)
 */
const SEPARATORS = /[^a-z0-9'\u00c0-\u1fff\u2070-\u2fff\u3040-\uffff]+/;

/** Lower-case words of `text`, punctuation removed (apostrophes kept: "what's"). */
export function words(text) {
  return text
    .toLowerCase()
    .split(SEPARATORS)
    .filter((w) => w !== "");
}

const FILLERS = new Set([
  "hey", "ok", "okay", "so", "and", "well", "alright", "now", "right", "um", "uh",
]);
const BOTH_PHRASES = [" both ", " you two ", " each of you ", " you guys ", " the two of you "];

/** The AI a word names, if any. */
function named(word) {
  return word === "claude" || word === "guest" ? word : undefined;
}

/**
 * Whom the human addressed: "claude", "guest", "both" or "unnamed". A name at the start wins
 * ("Claude, introduce our guest"), then "both" / "you two" / "each of you", then a name at the
 * end ("what do you think, guest?"), then a single name anywhere.
 */
export function addressee(text) {
  const all = words(text);
  const from = all.findIndex((w) => !FILLERS.has(w));
  const start = from === -1 ? [] : all.slice(from);
  const first = named(start[0]);
  if (first) {
    const also = start[1] === "and" && named(start[2]) && named(start[2]) !== first;
    return also ? "both" : first;
  }
  const joined = ` ${all.join(" ")} `;
  if (BOTH_PHRASES.some((p) => joined.includes(p))) {
    return "both";
  }
  const last = named(all[all.length - 1]);
  if (last) {
    return last;
  }
  const claude = all.includes("claude");
  const guest = all.includes("guest");
  if (claude && guest) return "both";
  if (claude) return "claude";
  if (guest) return "guest";
  return "unnamed";
}

const HUMAN_ASKS = [
  " take a moment ", " take a minute ", " take your time ", " take a second ",
  " take some time ", " thinking mode ", " think about it ", " think about that ",
  " think it over ", " think this over ", " think that over ", " have a think ",
];

/**
 * Whether the human asked for thinking mode ("take a moment", "give me 30 seconds", "thinking
 * mode"), and for how long in ms; undefined when not.
 */
export function humanThinkingRequest(text) {
  const joined = ` ${words(text).join(" ")} `;
  const units = joined.includes(" seconds ") || joined.includes(" minutes ");
  const asked =
    HUMAN_ASKS.some((a) => joined.includes(a)) ||
    (joined.includes(" give ") && units) ||
    (joined.includes(" take ") && units);
  return asked ? thinkingDuration(joined) : undefined;
}

const AI_ASKS = [
  " can i think ", " could i think ", " may i think ", " let me think ", " i need to think ",
  " i'd like to think ", " give me a moment ", " give me a minute ", " give me a second ",
  " i need a moment ", " i need a minute ", " can i have a moment ", " can i have a minute ",
  " can i take a moment ", " can i take a minute ",
];

/**
 * Whether an AI's finished line asks for time to think ("Can I think for a minute?"), and for
 * how long in ms; undefined when not.
 */
export function aiThinkingRequest(line) {
  const joined = ` ${words(line).join(" ")} `;
  return AI_ASKS.some((a) => joined.includes(a)) ? thinkingDuration(joined) : undefined;
}

const NUMBERS = {
  a: 1, an: 1, one: 1, two: 2, couple: 2, three: 3, four: 4, five: 5, six: 6, seven: 7,
  eight: 8, nine: 9, ten: 10, fifteen: 15, twenty: 20, thirty: 30, forty: 40, fifty: 50,
  sixty: 60, ninety: 90,
};

/** A small number in digits or words. */
function number(word) {
  if (/^\d+$/.test(word)) {
    return Number(word);
  }
  return Object.hasOwn(NUMBERS, word) ? NUMBERS[word] : undefined;
}

/**
 * The duration a request names ("30 seconds", "two minutes", "a minute"), clamped to
 * MIN_THINKING_MS..MAX_THINKING_MS; DEFAULT_THINKING_MS when it names none.
 */
function thinkingDuration(joined) {
  const all = joined.trim().split(/\s+/);
  for (let i = 1; i < all.length; i++) {
    let unitMs;
    if (["second", "seconds", "sec", "secs"].includes(all[i])) unitMs = 1_000;
    else if (["minute", "minutes", "min", "mins"].includes(all[i])) unitMs = 60_000;
    else continue;
    const count = number(all[i - 1]);
    if (count === undefined) continue;
    // "a second" is a figure of speech; "a minute" counts.
    if (count === 1 && unitMs === 1_000 && all[i - 1] === "a") continue;
    return Math.min(Math.max(count * unitMs, MIN_THINKING_MS), MAX_THINKING_MS);
  }
  return DEFAULT_THINKING_MS;
}
