// `{{name}}`: a voice-studio text-to-speech plugin written in JavaScript, built into a
// WebAssembly component with componentize-js. It "speaks" each word as a short tone (longer words
// lower), so you can hear it work without any voice model. Replace `wordTone` in src/tones.js with
// your synthesizer (import `http` in wit/plugin.wit, ask for the capability in `describe`) and
// push its audio as it arrives.
//
// The component exports what wit/plugin.wit asks for: `describe` (a function) and the `tts`
// interface (an object with `synthesize`). Its imports are the host's `log`, `config` and
// `streams`.

import { get } from "studio:plugin/config@0.1.0";
import { log } from "studio:plugin/log@0.1.0";

import { hostError } from "./errors.js";
import { SAMPLE_RATE, wordTone } from "./tones.js";

/** Who the plugin is; the host checks it at load time. */
export function describe() {
  return {
    name: "{{name}}",
    version: "0.1.0",
    role: "tts",
    contract: "0.1.0",
    // What plugins.toml must grant: `plugin install ... --grant log --grant config`.
    capabilities: ["log", "config"],
    summary: "{{description}}",
  };
}

/** An integer from the plugin's `[plugins.NAME.config]` table, or `fallback`. */
function settingInt(key, fallback) {
  const text = get(key);
  if (text === undefined) return fallback;
  const value = Number.parseInt(text, 10);
  if (Number.isInteger(value) && value >= 0) return value;
  log("warn", `config ${key} = ${JSON.stringify(text)} is not a number; using ${fallback}`);
  return fallback;
}

/** The `tts` interface. */
export const tts = {
  synthesize(request, sink) {
    try {
      const wordMs = settingInt("word_ms", 180);
      const words = request.text.split(/\s+/).filter(Boolean);
      log("debug", `${words.length} words for ${request.speaker}`);
      for (const word of words) {
        // One push per word (20-200 ms each): playback starts at once and a barge-in (the push
        // throws the `cancelled` error, which goes back unchanged) stops it within a word.
        sink.push({ sampleRate: SAMPLE_RATE, samples: wordTone(word, wordMs) });
      }
    } catch (error) {
      throw hostError(error);
    }
  },
};
