// `{{name}}`: a voice-studio speech-to-text plugin written in JavaScript, built into a
// WebAssembly component with componentize-js. It hears when you speak (by energy) and transcribes
// every utterance as how long it was: partial captions while you talk, a final one after a pause.
// Replace `text` in src/listener.js (or the listener) with a call to your recognizer (import
// `http` in wit/plugin.wit, ask for the capability in `describe`); the host's voice-activity
// hints (`speech-started`, `speech-ended`) are there to cut utterances for a REST recognizer.
//
// The component exports what wit/plugin.wit asks for: `describe` (a function) and the `stt`
// interface (an object with `transcribe`). Its imports are the host's `log`, `config` and
// `streams`.

import { get } from "studio:plugin/config@0.1.0";
import { log } from "studio:plugin/log@0.1.0";

import { DEFAULTS, Listener } from "./listener.js";
import { hostError } from "./errors.js";

/** Who the plugin is; the host checks it at load time. */
export function describe() {
  return {
    name: "{{name}}",
    version: "0.1.0",
    role: "stt",
    contract: "0.1.0",
    // What plugins.toml must grant: `plugin install ... --grant log --grant config`.
    capabilities: ["log", "config"],
    summary: "{{description}}",
  };
}

/** A number from the plugin's `[plugins.NAME.config]` table, or `fallback`. */
function setting(key, fallback) {
  const text = get(key);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (Number.isFinite(value)) return value;
  log("warn", `config ${key} = ${JSON.stringify(text)} is not a number; using ${fallback}`);
  return fallback;
}

/** A listener's transcript as the contract's `transcript` (u64 times are BigInts). */
function toHost(heard) {
  return {
    kind: heard.final ? "final" : "partial",
    text: heard.text,
    startMs: BigInt(heard.startMs),
    endMs: BigInt(heard.endMs),
    confidence: undefined,
  };
}

/** The `stt` interface. */
export const stt = {
  transcribe(request, input, sink) {
    try {
      const rate = input.sampleRate();
      log("info", `listening to ${request.speaker} at ${rate} Hz`);
      const listener = new Listener(rate, {
        thresholdDbfs: setting("threshold_dbfs", DEFAULTS.thresholdDbfs),
        endOfSpeechMs: setting("end_of_speech_ms", DEFAULTS.endOfSpeechMs),
        partialEveryMs: setting("partial_every_ms", DEFAULTS.partialEveryMs),
      });
      for (;;) {
        // Throws the `cancelled` error when the session ends: it goes back unchanged.
        const event = input.next(undefined, undefined);
        if (event.tag === "audio") {
          for (const heard of listener.feed(event.val)) sink.push(toHost(heard));
        } else if (event.tag === "end") {
          break;
        }
        // The host's VAD hints, provider sockets and timeouts: not used here.
      }
      const last = listener.finish();
      if (last) sink.push(toHost(last));
    } catch (error) {
      throw hostError(error);
    }
  },
};
